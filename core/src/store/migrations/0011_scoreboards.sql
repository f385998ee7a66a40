-- The relay's scoreboards and team tables this phone received (issue 14, docs/kpi.md): which
-- document holds a period's figures, so "me against the team" reads one document by period.
CREATE TABLE scoreboard_index (
    doc_id      TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    computed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX scoreboard_by_period ON scoreboard_index (kind, period, computed_at);
