//! The phone's own clock and travels, kept in the store (migration 0007) so the evidence checks
//! work offline: the wall clock at the store's saves, the monotonic clock when the relay's time
//! was stored, and the device's fixes at its captures over the past days.

use rusqlite::{Connection, OptionalExtension, params};

use super::error::Result;
use crate::clock::{UnixMillis, Uptime};
use crate::geo::{ClockEvidence, GeoFix, LastSaveEvidence};
use crate::ids::DocId;

/// How long the device's fixes are kept for the journey check: a day's visits and the evening
/// before, with room for a clock set back.
const TRACK_KEEP_MS: i64 = 48 * 3_600_000;
/// At most this many fixes are kept, whatever their times say.
const TRACK_KEEP_ROWS: i64 = 2_000;
/// Boot ids longer than this are not a platform's id; such readings are ignored.
const MAX_BOOT_ID_LEN: usize = 128;

/// A monotonic reading the store can rely on: a plausible boot id and a non-negative uptime.
fn usable(uptime: Option<Uptime>) -> Option<Uptime> {
    uptime.filter(|u| u.uptime_ms >= 0 && !u.boot_id.is_empty() && u.boot_id.len() <= MAX_BOOT_ID_LEN)
}

fn reading(boot: Option<String>, uptime_ms: Option<i64>) -> Option<Uptime> {
    usable(Some(Uptime { boot_id: boot?, uptime_ms: uptime_ms? }))
}

/// Records that a local change was saved at wall-clock `now`, with the monotonic reading.
pub(crate) fn note_save(tx: &Connection, now: UnixMillis, uptime: Option<Uptime>) -> Result<()> {
    let uptime = usable(uptime);
    let (boot, ms) = uptime.map(|u| (u.boot_id, u.uptime_ms)).unzip();
    tx.prepare_cached(
        "INSERT INTO device_clock (singleton, latest_save_at, last_save_at, last_save_boot, last_save_uptime)
         VALUES (1, ?1, ?1, ?2, ?3)
         ON CONFLICT (singleton) DO UPDATE SET latest_save_at = max(latest_save_at, ?1),
             last_save_at = ?1, last_save_boot = ?2, last_save_uptime = ?3",
    )?
    .execute(params![now, boot, ms])?;
    Ok(())
}

/// The device clock now against the store's own saves, or `None` before the first save.
pub(crate) fn last_save_evidence(
    conn: &Connection,
    now: UnixMillis,
    uptime: Option<&Uptime>,
) -> Result<Option<LastSaveEvidence>> {
    let row: Option<(i64, i64, Option<String>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT latest_save_at, last_save_at, last_save_boot, last_save_uptime FROM device_clock
             WHERE singleton = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    Ok(row.map(|(latest, last, boot, ms)| LastSaveEvidence {
        latest_save_ms: latest,
        device_time_ms: now,
        since_last_save: reading(boot, ms)
            .zip(uptime)
            .and_then(|(then, now_reading)| now_reading.since(&then))
            .map(|elapsed| (last, elapsed)),
    }))
}

/// Stores the relay's time from a sync response with the monotonic reading taken with it.
pub(crate) fn note_relay_time(
    tx: &Connection,
    cursor: &[u8],
    now: UnixMillis,
    relay_time_ms: i64,
    uptime: Option<Uptime>,
) -> Result<()> {
    let (boot, ms) = usable(uptime).map(|u| (u.boot_id, u.uptime_ms)).unzip();
    tx.prepare_cached(
        "INSERT INTO sync_state (singleton, cursor, last_synced_at, relay_time_at, relay_time_boot, relay_time_uptime)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (singleton) DO UPDATE SET cursor = ?1, last_synced_at = ?2, relay_time_at = ?3,
             relay_time_boot = ?4, relay_time_uptime = ?5",
    )?
    .execute(params![cursor, now, relay_time_ms, boot, ms])?;
    Ok(())
}

/// The device clock now against the relay's time at the last sync, or `None` before the first.
/// The monotonic time since that sync comes from the platform's clock when it gave readings then
/// and now on the same boot, else from `elapsed_hint` (a caller that tracked it itself).
pub(crate) fn relay_clock_evidence(
    conn: &Connection,
    now: UnixMillis,
    uptime: Option<&Uptime>,
    elapsed_hint: Option<i64>,
) -> Result<Option<ClockEvidence>> {
    let row: Option<(Option<i64>, Option<String>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT relay_time_at, relay_time_boot, relay_time_uptime FROM sync_state WHERE singleton = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((Some(relay_time), boot, ms)) = row else { return Ok(None) };
    let measured = reading(boot, ms).zip(uptime).and_then(|(then, now_reading)| now_reading.since(&then));
    Ok(Some(ClockEvidence {
        last_relay_time_ms: relay_time,
        device_time_ms: now,
        elapsed_since_relay_ms: measured.or(elapsed_hint),
    }))
}

/// The device's fixes at captures of other visits within two days of `now`, oldest first.
/// Rows that no longer read as a fix are skipped: the check then has less to go on, nothing more.
pub(crate) fn recent_fixes(conn: &Connection, visit_id: DocId, now: UnixMillis) -> Result<Vec<GeoFix>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fix FROM device_track WHERE visit_id != ?1 AND at_ms BETWEEN ?2 AND ?3 ORDER BY at_ms",
    )?;
    let rows = stmt.query_map(
        params![visit_id, now.saturating_sub(TRACK_KEEP_MS), now.saturating_add(TRACK_KEEP_MS)],
        |r| r.get::<_, String>(0),
    )?;
    let mut fixes = Vec::new();
    for row in rows {
        if let Ok(fix) = serde_json::from_str::<GeoFix>(&row?) {
            fixes.push(fix);
        }
    }
    Ok(fixes)
}

/// Adds a capture's fix to the device's track and forgets what is too old to matter.
pub(crate) fn record_fix(tx: &Connection, visit_id: DocId, fix: &GeoFix, now: UnixMillis) -> Result<()> {
    // A validated fix always serialises (finite numbers); were it not to, the track only misses it.
    let Ok(json) = serde_json::to_string(fix) else { return Ok(()) };
    tx.prepare_cached("INSERT INTO device_track (visit_id, at_ms, fix) VALUES (?1, ?2, ?3)")?
        .execute(params![visit_id, fix.at_ms(), json])?;
    tx.prepare_cached(
        "DELETE FROM device_track WHERE at_ms < ?1 AND at_ms < (SELECT max(at_ms) FROM device_track) - ?2",
    )?
    .execute(params![now.saturating_sub(TRACK_KEEP_MS), TRACK_KEEP_MS])?;
    tx.prepare_cached(
        "DELETE FROM device_track WHERE id <= (SELECT id FROM device_track ORDER BY id DESC LIMIT 1 OFFSET ?1)",
    )?
    .execute([TRACK_KEEP_ROWS])?;
    Ok(())
}
