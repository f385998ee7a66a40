-- What the phone knows about its own clock and travels, for the evidence checks on a phone that
-- has not synced (or has rebooted since it did) and for journeys between visits (DESIGN §4).

-- The wall clock at this store's own saves of local changes, with the monotonic clock's reading
-- at the most recent one (when the platform gives it).
CREATE TABLE device_clock (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    latest_save_at   INTEGER NOT NULL, -- the highest wall-clock time a local change was saved at
    last_save_at     INTEGER NOT NULL, -- the wall clock at the most recent save
    last_save_boot   TEXT,             -- the monotonic clock then: boot id and ms since boot
    last_save_uptime INTEGER
) STRICT;

-- The monotonic clock's reading when sync_state.relay_time_at was stored.
ALTER TABLE sync_state ADD COLUMN relay_time_boot TEXT;
ALTER TABLE sync_state ADD COLUMN relay_time_uptime INTEGER;

-- The device's own fixes at its captures (check-ins, photos) over the past days, kept offline so
-- a new fix can be checked against the journey from the previous visit.
CREATE TABLE device_track (
    id       INTEGER PRIMARY KEY,
    visit_id TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL,
    fix      TEXT    NOT NULL  -- the fix as JSON (geo::GeoFix)
) STRICT;
CREATE INDEX device_track_by_time ON device_track (at_ms);
