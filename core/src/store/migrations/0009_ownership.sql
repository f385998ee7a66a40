-- Customer ownership and the public pool (issue 13, docs/ownership.md). The relay decides who
-- owns a customer and writes `ownership` documents; the phone keeps what it learnt of them
-- here, with its own claims and releases, so the pool, the rep's customers and the warnings
-- before a return to the pool work offline.
CREATE TABLE ownership_index (
    customer_id   TEXT    PRIMARY KEY,
    doc_id        TEXT    NOT NULL,
    company_name  TEXT    NOT NULL,
    owner_user_id TEXT,              -- NULL: in the pool (or merged away)
    owner_name    TEXT,
    since         INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    merged_into   TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX ownership_index_by_owner ON ownership_index (owner_user_id, customer_id)
    WHERE owner_user_id IS NOT NULL;
CREATE INDEX ownership_index_pool ON ownership_index (company_name)
    WHERE owner_user_id IS NULL AND merged_into IS NULL;

-- Claims and releases (this phone's are those it created), and the relay's decisions once
-- they arrive.
CREATE TABLE claim_index (
    doc_id        TEXT    PRIMARY KEY,
    customer_id   TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    requested_at  INTEGER NOT NULL,
    decided_at    INTEGER,
    granted       INTEGER,
    code          TEXT,
    message       TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX claim_index_by_device ON claim_index (created_by, requested_at);
CREATE INDEX claim_index_undecided ON claim_index (created_by, customer_id) WHERE decided_at IS NULL;

-- Who this phone's user is, from the enrollment: ownership is per user, not per device.
ALTER TABLE sync_state ADD COLUMN user_id TEXT;
ALTER TABLE sync_state ADD COLUMN user_role TEXT;

-- A visit counts as an effective follow-up only when it checked in on site.
ALTER TABLE visit_index ADD COLUMN on_site INTEGER;
