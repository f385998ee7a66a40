-- fieldsync relay, schema version 8: which customer each follow-up and lead card is about
-- (issue 13, docs/ownership.md "Who sees what"). Both hold contact names and numbers, so a rep's
-- pull leaves them out with their customer's record when another rep owns the customer or it is
-- in the pool. A lead card may be linked to a customer later; a card linked to none has no row.
-- Documents from before this version have no row and stay visible to the team.
CREATE TABLE document_customer (
    doc_id      BLOB PRIMARY KEY CHECK (length(doc_id) = 16),
    team_id     TEXT NOT NULL,
    customer_id BLOB NOT NULL CHECK (length(customer_id) = 16)
) STRICT, WITHOUT ROWID;
CREATE INDEX document_customer_by_customer ON document_customer (customer_id);
