-- fieldsync relay, schema version 9: the KPI rows (issue 14, docs/kpi.md). One row per visit,
-- follow-up, deal and customer of a team — what the metrics read of it, for the rep it counts
-- for — written in the writer's batch with the document, so a team's figures read rows, not
-- documents. `lo`..`hi` is the time span a period must touch for the row to count in it.
CREATE TABLE kpi_rows (
    doc_id  BLOB    PRIMARY KEY CHECK (length(doc_id) = 16),
    team_id TEXT    NOT NULL,
    rep     TEXT    NOT NULL,
    lo      INTEGER NOT NULL,
    hi      INTEGER NOT NULL,
    is_deal INTEGER NOT NULL,
    row     TEXT    NOT NULL
) STRICT;
CREATE INDEX kpi_rows_by_team ON kpi_rows (team_id, lo);

-- Which visit each slip is for: a visit's row (its verdict) is remade when its slip arrives.
CREATE TABLE kpi_slips (
    slip_id  BLOB PRIMARY KEY CHECK (length(slip_id) = 16),
    visit_id BLOB NOT NULL CHECK (length(visit_id) = 16)
) STRICT, WITHOUT ROWID;
CREATE INDEX kpi_slips_by_visit ON kpi_slips (visit_id);

-- Teams whose rows were rebuilt from their documents (a relay upgraded to this version has
-- documents without rows; the first question about a team rebuilds them in the writer).
CREATE TABLE kpi_teams (
    team_id    TEXT    PRIMARY KEY,
    rebuilt_at INTEGER NOT NULL
) STRICT;
