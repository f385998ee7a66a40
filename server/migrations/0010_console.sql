-- The managers' web console (issue 15, docs/console.md): sign-in credentials of supervisors and
-- admins, one-time sign-in codes, failed attempts (lockout), and sessions. Secrets are stored as
-- hashes only: passwords as Argon2id PHC strings, codes and session tokens as SHA-256.
CREATE TABLE console_passwords (
    user_id    TEXT    PRIMARY KEY REFERENCES users (user_id),
    phc        TEXT    NOT NULL,
    set_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE console_codes (
    code_hash  BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (user_id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX console_codes_user ON console_codes (user_id);

-- Failed sign-ins per account, for the lockout: `failures` within the window that began at
-- `first_at`; `locked_until` once they reached the limit.
CREATE TABLE console_failures (
    user_id      TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    first_at     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
) STRICT;

CREATE TABLE console_sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (user_id),
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_user ON console_sessions (user_id);
