-- fieldsync relay, schema version 3: identity resolution of customers (DESIGN §6).

-- The relay's own Automerge actor: the author of the merges it makes.
CREATE TABLE relay_identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    actor     BLOB    NOT NULL CHECK (length(actor) = 16)
) STRICT;

-- What the duplicate rule compares, per customer; kept in the same transaction as the document.
CREATE TABLE customer_keys (
    doc_id      BLOB    PRIMARY KEY CHECK (length(doc_id) = 16),
    team_id     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    phones      TEXT    NOT NULL, -- the phone entries as written, one per line
    credit_code TEXT,
    merged_into BLOB
) STRICT, WITHOUT ROWID;

-- Customers by normalised phone (E.164) and by name n-gram, per team.
CREATE TABLE customer_key_phones (
    team_id TEXT NOT NULL,
    e164    TEXT NOT NULL,
    doc_id  BLOB NOT NULL,
    PRIMARY KEY (team_id, e164, doc_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_key_phones_by_doc ON customer_key_phones (doc_id);
CREATE TABLE customer_key_grams (
    team_id TEXT NOT NULL,
    gram    TEXT NOT NULL,
    doc_id  BLOB NOT NULL,
    PRIMARY KEY (team_id, gram, doc_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_key_grams_by_doc ON customer_key_grams (doc_id);
-- How many customers carry each gram, so lookups read the rarest postings first.
CREATE TABLE customer_gram_counts (
    team_id TEXT    NOT NULL,
    gram    TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (team_id, gram)
) STRICT, WITHOUT ROWID;

-- Pairs the rule could not decide (review queue) and every decision, remembered: a < b.
CREATE TABLE dedup_pairs (
    team_id    TEXT    NOT NULL,
    a          BLOB    NOT NULL,
    b          BLOB    NOT NULL,
    score      REAL    NOT NULL,
    reasons    TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'merged', 'not_same')),
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    PRIMARY KEY (team_id, a, b)
) STRICT, WITHOUT ROWID;
CREATE INDEX dedup_pairs_by_status ON dedup_pairs (team_id, status, created_at);

-- Scalars that differed when two customers were merged: the canonical value was kept.
CREATE TABLE merge_conflicts (
    team_id    TEXT    NOT NULL,
    canonical  BLOB    NOT NULL,
    duplicate  BLOB    NOT NULL,
    field      TEXT    NOT NULL,
    kept       TEXT    NOT NULL,
    other      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (canonical, duplicate, field)
) STRICT, WITHOUT ROWID;

CREATE INDEX documents_by_team_kind ON documents (team_id, kind);
