-- The funnel (issue 6): what the phone's stall reminders and a supervisor's funnel queries read.
-- Filled for existing deals by the Rust step (projection::index_funnel).

-- Last activity on the deal itself (stage entry, attached documents); visits are read from
-- visit_index by opportunity.
ALTER TABLE opportunity_index ADD COLUMN last_activity_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX opportunity_index_by_owner ON opportunity_index (owner, stage);
CREATE INDEX visit_index_by_opportunity ON visit_index (opportunity_id, started_at)
    WHERE opportunity_id IS NOT NULL;

-- Every stage move of every deal, for stage-to-stage conversion.
CREATE TABLE stage_history_index (
    opportunity_id TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    from_stage     TEXT,
    to_stage       TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    PRIMARY KEY (opportunity_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX stage_history_index_by_stage ON stage_history_index (to_stage, opportunity_id);

-- Alerts the relay raised, newest first for a supervisor's list.
CREATE TABLE alert_index (
    doc_id         TEXT    PRIMARY KEY,
    opportunity_id TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    stage          TEXT    NOT NULL,
    level          TEXT    NOT NULL,
    due_at         INTEGER NOT NULL,
    raised_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX alert_index_by_time ON alert_index (raised_at);
