-- fieldsync relay, schema version 2: evidence the relay doubts.

-- A document the relay accepted but flags for supervisors: a signed slip whose signature does
-- not verify, or that another device signed. One row per document and reason.
CREATE TABLE document_flags (
    flag_id    INTEGER PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    team_id    TEXT    NOT NULL,
    doc_id     BLOB    NOT NULL CHECK (length(doc_id) = 16),
    kind       TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    device_id  BLOB    NOT NULL CHECK (length(device_id) = 16),
    flagged_at INTEGER NOT NULL,
    UNIQUE (doc_id, code)
) STRICT;
CREATE INDEX document_flags_by_team ON document_flags (team_id, flagged_at);
