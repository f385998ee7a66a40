-- fieldsync store, schema version 1: documents, the outbox and the query projections.

-- This phone's identity (one row). The secret moves to the phone keystore when the bindings
-- supply one; until then it lives here, in the app's private storage.
CREATE TABLE device_identity (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    secret_key   BLOB    NOT NULL CHECK (length(secret_key) = 32),
    device_id    BLOB    NOT NULL CHECK (length(device_id) = 16),
    created_at   INTEGER NOT NULL
) STRICT;

-- One row per Automerge document: a compacted snapshot plus a count of the incremental
-- changes appended since, so compaction can be decided without reading them.
CREATE TABLE documents (
    doc_id          TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    snapshot        BLOB    NOT NULL,
    pending_changes INTEGER NOT NULL DEFAULT 0,
    pending_bytes   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_by_kind ON documents (kind, doc_id);

-- Changes applied since the snapshot, in order.
CREATE TABLE document_changes (
    doc_id      TEXT    NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    change_hash BLOB    NOT NULL,
    bytes       BLOB    NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT, WITHOUT ROWID;

-- Local changes the relay has not acknowledged yet, oldest first.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    change_hash BLOB    NOT NULL UNIQUE,
    doc_id      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    bytes       BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Projections: written in the same transaction as every document write, rebuildable from the
-- documents. Queries read only these.
CREATE TABLE customer_index (
    row_id       INTEGER PRIMARY KEY,
    doc_id       TEXT    NOT NULL UNIQUE,
    company_name TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    first_phone  TEXT,
    merged_into  TEXT,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX customer_index_by_name ON customer_index (name_key);

CREATE TABLE customer_phone_index (
    phone_key TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    PRIMARY KEY (phone_key, doc_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_phone_index_by_doc ON customer_phone_index (doc_id);

-- WGS-84 positions of customers; the R*Tree id is customer_index.row_id.
CREATE VIRTUAL TABLE customer_geo USING rtree (id, min_lat, max_lat, min_lon, max_lon);

CREATE TABLE visit_index (
    doc_id         TEXT    PRIMARY KEY,
    customer_id    TEXT    NOT NULL,
    opportunity_id TEXT,
    at             INTEGER NOT NULL,
    started_at     INTEGER,
    ended_at       INTEGER,
    photo_count    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX visit_index_by_time ON visit_index (at);
CREATE INDEX visit_index_by_customer ON visit_index (customer_id, at);

CREATE TABLE opportunity_index (
    doc_id             TEXT    PRIMARY KEY,
    customer_id        TEXT    NOT NULL,
    owner              TEXT    NOT NULL,
    title              TEXT    NOT NULL,
    stage              TEXT    NOT NULL,
    stage_entered_at   INTEGER NOT NULL,
    next_action_due_at INTEGER,
    amount_minor       INTEGER,
    currency           TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX opportunity_index_by_stage ON opportunity_index (stage, stage_entered_at);
CREATE INDEX opportunity_index_by_due ON opportunity_index (next_action_due_at)
    WHERE next_action_due_at IS NOT NULL;

CREATE TABLE lead_card_index (
    doc_id      TEXT    PRIMARY KEY,
    name        TEXT,
    company     TEXT,
    customer_id TEXT,
    scanned_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX lead_card_index_by_time ON lead_card_index (scanned_at);
