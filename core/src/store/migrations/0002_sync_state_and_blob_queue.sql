-- fieldsync store, schema version 2: what the sync client needs to resume after a crash.

-- The relay cursor, advanced in the same transaction as the changes it covers.
CREATE TABLE sync_state (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    relay_url      TEXT,
    cursor         BLOB,
    last_synced_at INTEGER,
    relay_time_at  INTEGER
) STRICT;

-- Blobs (photos, thumbnails, signatures) waiting to be uploaded, with the offset the relay has.
CREATE TABLE blob_queue (
    sha256      TEXT    PRIMARY KEY CHECK (length(sha256) = 64),
    path        TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL,
    uploaded    INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    queued_at   INTEGER NOT NULL
) STRICT;

-- Which service slips are sealed, so the write path can refuse edits without hydrating.
ALTER TABLE documents ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
