-- Follow-ups between visits (issue 13): what a customer's timeline, the rep's to-do and the
-- phone's stall rules read. No activity document exists before this version, so nothing to fill.
CREATE TABLE activity_index (
    doc_id             TEXT    PRIMARY KEY,
    customer_id        TEXT    NOT NULL,
    opportunity_id     TEXT,
    activity_type      TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    has_summary        INTEGER NOT NULL,
    next_action_due_at INTEGER,          -- while the next action is open
    next_action        TEXT,             -- its text, while open
    summary_head       TEXT    NOT NULL, -- the summary's first 60 characters, for lists
    created_by         TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX activity_index_by_customer ON activity_index (customer_id, at);
CREATE INDEX activity_index_by_opportunity ON activity_index (opportunity_id, at)
    WHERE opportunity_id IS NOT NULL;
CREATE INDEX activity_index_by_due ON activity_index (next_action_due_at)
    WHERE next_action_due_at IS NOT NULL;

-- The rest of a customer's timeline, by customer.
CREATE INDEX lead_card_index_by_customer ON lead_card_index (customer_id, scanned_at)
    WHERE customer_id IS NOT NULL;
CREATE INDEX opportunity_index_by_customer ON opportunity_index (customer_id, stage_entered_at);
