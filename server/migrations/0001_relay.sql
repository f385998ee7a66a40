-- fieldsync relay, schema version 1.

CREATE TABLE tenants (
    tenant_id  TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE teams (
    team_id    TEXT    PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (tenant_id),
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    user_id    TEXT    PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (tenant_id),
    team_id    TEXT    NOT NULL REFERENCES teams (team_id),
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('rep', 'supervisor', 'admin')),
    created_at INTEGER NOT NULL
) STRICT;

-- One-time enrollment codes, stored hashed.
CREATE TABLE enrollment_codes (
    code_hash  BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (user_id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Enrolled devices; the bearer token is stored as its SHA-256.
CREATE TABLE devices (
    device_id    BLOB    PRIMARY KEY CHECK (length(device_id) = 16),
    public_key   BLOB    NOT NULL CHECK (length(public_key) = 32),
    user_id      TEXT    NOT NULL REFERENCES users (user_id),
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    enrolled_at  INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_sync_at INTEGER
) STRICT;

-- The relay's merged copy of every document: a compacted snapshot, saved after each batch.
CREATE TABLE documents (
    doc_id      BLOB    PRIMARY KEY CHECK (length(doc_id) = 16),
    tenant_id   TEXT    NOT NULL,
    team_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    snapshot    BLOB    NOT NULL,
    sealed      INTEGER NOT NULL DEFAULT 0,
    updated_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_by_team ON documents (team_id, doc_id);

-- The change log: every accepted change once, in arrival order per relay.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     TEXT    NOT NULL,
    doc_id      BLOB    NOT NULL,
    change_hash BLOB    NOT NULL UNIQUE,
    actor       BLOB    NOT NULL,
    bytes       BLOB    NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_by_team ON changes (team_id, seq);
