-- fieldsync store, schema version 3: changes the relay refused for good.

-- A change the relay will never accept (a foreign actor, a sealed document...) must leave the
-- outbox or it would block every later sync; it is kept here so the app can show what was lost
-- and why, instead of dropping it silently.
CREATE TABLE rejected_changes (
    change_hash BLOB    PRIMARY KEY,
    doc_id      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    bytes       BLOB    NOT NULL,
    code        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    rejected_at INTEGER NOT NULL
) STRICT;

INSERT OR IGNORE INTO sync_state (singleton) VALUES (1);

-- The relay this device is enrolled with and its bearer token (app-private storage; the
-- bindings can move the token to the phone keystore).
ALTER TABLE sync_state ADD COLUMN relay_token TEXT;
