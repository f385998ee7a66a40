-- What the relay sent that this device could not apply: a damaged change, bytes automerge
-- cannot read, a document that changed kind, changes whose dependencies never came. One bad
-- entry must never stop a sync (STYLE §16): it is kept here, the rest of the page is applied,
-- the cursor moves on, and the document is marked for repair from the relay's snapshot.
CREATE TABLE quarantined_entries (
    id          INTEGER PRIMARY KEY,
    doc_id      TEXT    NOT NULL,
    bytes       BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX quarantined_entries_by_doc ON quarantined_entries (doc_id);

-- Documents whose local copy may lack what the relay has (see quarantined_entries); the sync
-- client fetches the relay's snapshot of each and merges it.
CREATE TABLE documents_to_repair (
    doc_id   TEXT    PRIMARY KEY,
    reason   TEXT    NOT NULL,
    since    INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
) STRICT;
