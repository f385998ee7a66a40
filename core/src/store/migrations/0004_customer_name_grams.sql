-- fieldsync store, schema version 4: what the duplicate check finds customers by, with no scan.
-- The rows are filled for existing customers by the Rust step that runs with this migration
-- (`projection::index_customers_for_dedup`); a later change to how grams are made must come with
-- a migration that rebuilds these tables, because updates delete a customer's old grams by
-- recomputing them from its old name.

-- Each customer's match key, so candidates are compared without loading their documents: the
-- company and contact phones normalised (`E164[#EXT]/KIND`, space-separated) and the valid
-- unified social credit code.
ALTER TABLE customer_index ADD COLUMN dedup_phones TEXT NOT NULL DEFAULT '';
ALTER TABLE customer_index ADD COLUMN credit_code TEXT;
-- Equal valid credit codes decide identity whatever the names and phones say.
CREATE INDEX customer_index_by_credit_code ON customer_index (credit_code) WHERE credit_code IS NOT NULL;

-- Customers by normalised phone number (E.164 without extension: the switchboard is the key).
-- row_id is customer_index.row_id.
CREATE TABLE customer_e164_index (
    e164   TEXT    NOT NULL,
    row_id INTEGER NOT NULL,
    PRIMARY KEY (e164, row_id)
) STRICT, WITHOUT ROWID;

-- Inverted index of the n-grams of each customer's normalised name core: pairs of Chinese
-- characters one or two apart (so one wrong, missing or extra character still leaves grams in
-- common) and letter trigrams of Latin words.
CREATE TABLE customer_name_grams (
    gram   TEXT    NOT NULL,
    row_id INTEGER NOT NULL,
    PRIMARY KEY (gram, row_id)
) STRICT, WITHOUT ROWID;

-- How many customers carry each gram, kept exact by the triggers below, so a lookup reads the
-- rarest grams' postings and skips the ones every manufacturer has (机械, 科技).
CREATE TABLE customer_name_gram_counts (
    gram      TEXT    PRIMARY KEY,
    customers INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER customer_name_grams_counted AFTER INSERT ON customer_name_grams BEGIN
    INSERT INTO customer_name_gram_counts (gram, customers) VALUES (NEW.gram, 1)
        ON CONFLICT (gram) DO UPDATE SET customers = customers + 1;
END;

CREATE TRIGGER customer_name_grams_uncounted AFTER DELETE ON customer_name_grams BEGIN
    UPDATE customer_name_gram_counts SET customers = customers - 1 WHERE gram = OLD.gram;
    DELETE FROM customer_name_gram_counts WHERE gram = OLD.gram AND customers <= 0;
END;
