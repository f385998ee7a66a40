-- fieldsync relay, schema version 4: the stall scheduler and the alerts it raises (DESIGN §6).

-- One row per deal: what the stall rules read, and when the scheduler must look at it next.
-- Written in the same transaction as the deal's document; the scheduler reads only rows whose
-- next_due_at has passed (the partial index), never the whole table.
CREATE TABLE opportunity_schedule (
    doc_id           BLOB    PRIMARY KEY CHECK (length(doc_id) = 16),
    team_id          TEXT    NOT NULL,
    rep_user_id      TEXT,             -- whose devices' last sync the grace period reads
    customer_id      BLOB    NOT NULL,
    owner            TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    stage            TEXT    NOT NULL,
    stage_entered_at INTEGER NOT NULL,
    doc_activity_at  INTEGER NOT NULL, -- stage moves and attached documents, from the deal itself
    next_due_at      INTEGER,          -- NULL: nothing left to fall due (closed, or all raised)
    held             INTEGER NOT NULL DEFAULT 0 -- a due alert waits for the rep's next sync
) STRICT, WITHOUT ROWID;
CREATE INDEX opportunity_schedule_due ON opportunity_schedule (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX opportunity_schedule_held ON opportunity_schedule (rep_user_id) WHERE held = 1;
CREATE INDEX opportunity_schedule_by_team ON opportunity_schedule (team_id, stage);

-- The latest visit to each deal: visits are activity, and they live in their own documents.
CREATE TABLE opportunity_visits (
    opportunity_id BLOB    PRIMARY KEY CHECK (length(opportunity_id) = 16),
    last_visit_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Every alert raised, once per key (deal + stage entry + rule + level + period). The document
-- itself is in `documents`; the payload is what push messages carry. fanned_out_at is set by the
-- deliverer once it has queued a delivery per subscription (an outbox: a crash between raising
-- and delivering loses nothing).
CREATE TABLE alerts (
    alert_id       BLOB    PRIMARY KEY CHECK (length(alert_id) = 16),
    key            TEXT    NOT NULL UNIQUE,
    team_id        TEXT    NOT NULL,
    opportunity_id BLOB    NOT NULL,
    level          TEXT    NOT NULL CHECK (level IN ('supervisor', 'escalation')),
    payload        BLOB    NOT NULL,
    raised_at      INTEGER NOT NULL,
    fanned_out_at  INTEGER
) STRICT;
CREATE INDEX alerts_to_fan_out ON alerts (raised_at) WHERE fanned_out_at IS NULL;
CREATE INDEX alerts_by_team ON alerts (team_id, raised_at);
-- Trigger keys an alert answered (an alert can answer two rules that fell due together).
CREATE TABLE alert_keys (
    key      TEXT PRIMARY KEY,
    alert_id BLOB NOT NULL
) STRICT, WITHOUT ROWID;
