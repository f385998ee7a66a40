-- fieldsync relay, schema version 7: customer ownership and the public pool (issue 13,
-- docs/ownership.md). One row per customer the relay has assigned: who owns it, what the pool
-- rule reads, and when the scheduler must look at it next. The `ownership` document of each
-- customer (written by the relay, synced to the team) carries the same owner with its history
-- and cooldowns; this table is what the relay's checks, the sync filter and the pool tick read.
CREATE TABLE customer_owner (
    customer_id       BLOB    PRIMARY KEY CHECK (length(customer_id) = 16),
    team_id           TEXT    NOT NULL,
    owner_user_id     TEXT,             -- NULL: in the pool, or merged away
    owned_since       INTEGER NOT NULL, -- when the current owner (or the pool) got it
    last_effective_at INTEGER,          -- the latest effective follow-up (on-site visit, follow-up with a summary)
    last_won_at       INTEGER,          -- the latest deal won
    return_due_at     INTEGER,          -- when the pool rule must be looked at; NULL: nothing falls due
    merged_into       BLOB
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_owner_due ON customer_owner (return_due_at) WHERE return_due_at IS NOT NULL;
CREATE INDEX customer_owner_by_user ON customer_owner (owner_user_id, customer_id) WHERE owner_user_id IS NOT NULL;
CREATE INDEX customer_owner_by_team ON customer_owner (team_id, owner_user_id);
