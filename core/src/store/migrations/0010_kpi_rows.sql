-- The KPI projection (issue 14, docs/kpi.md): one row per record of this phone's user that the
-- metrics read (visits with their verdict, follow-ups, deals, customers), so "my figures" read
-- a period's rows instead of loading every document. `lo`..`hi` is the time span a period must
-- touch for the row to count in it; deals are read whole (a customer's first win and the year
-- before matter).
CREATE TABLE kpi_rows (
    doc_id  TEXT    PRIMARY KEY,
    lo      INTEGER NOT NULL,
    hi      INTEGER NOT NULL,
    is_deal INTEGER NOT NULL,
    row     TEXT    NOT NULL
) STRICT;
CREATE INDEX kpi_rows_span ON kpi_rows (lo, hi);

-- Which visit each of this phone's slips is for: a visit's verdict is remade when a slip for it
-- is saved or signed.
CREATE TABLE kpi_slips (
    slip_id  TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL
) STRICT;
CREATE INDEX kpi_slips_visit ON kpi_slips (visit_id);
