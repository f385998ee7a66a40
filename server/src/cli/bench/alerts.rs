//! `fieldsync bench scheduler`: the stall scheduler's tick with a million open deals of which
//! 1 % are due (issue 6's figure).
//!
//! 1. Writes N deals' scheduler rows straight into the relay's storage, as the writer does when
//!    deals sync: 99 % are in 方案提交 since a few days (their next look is days ahead), 1 % entered
//!    it nine days ago with no activity (the 8-day rules fell due: one supervisor alert each).
//! 2. **Drain**: ticks through `Relay::tick` with the serve loop's batch size until no due deal
//!    is left; each tick reads the due rows through the `next_due_at` index, assesses them with
//!    the shared funnel rules, writes one `Alert` document per due deal (log entry, snapshot,
//!    alert row, trigger keys) and commits with fsync. Reported: wall time, per due deal, alerts
//!    written.
//! 3. **Idle tick**: one more tick once nothing is due: the cost the relay pays every interval.
//! 4. **Reference, same run**: the due-row query with the index search and without it (every
//!    deal's row read, which is what a scheduler without the index would do every tick).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use fieldsync_core::DocId;
use fieldsync_core::funnel::DAY_MS;
use fieldsync_core::model::Stage;
use rusqlite::params;
use serde_json::json;

use super::emit;
use super::sync::round3;
use crate::metrics::Metrics;
use crate::relay::{Relay, RelayLimits};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{BatchWrite, RelayStorage, ScheduleRow, ScheduleWrite};

/// What to run.
#[derive(Debug, Clone)]
pub struct SchedulerBench {
    /// Open deals.
    pub opportunities: u32,
    /// Per mille of them due (10 = 1 %).
    pub due_per_mille: u32,
    /// Deals one tick looks at, at most.
    pub batch: u32,
}

const CHUNK: usize = 20_000;
const NOW: i64 = 1_800_000_000_000;

/// Runs the benchmark in `work`.
pub fn run(bench: &SchedulerBench, work: &Path) -> Result<()> {
    if bench.opportunities == 0 || bench.due_per_mille == 0 || bench.due_per_mille > 1000 || bench.batch == 0
    {
        bail!("need opportunities > 0, 0 < due-per-mille <= 1000 and batch > 0");
    }
    let storage = Arc::new(SqliteStorage::open(work)?);
    let tenant = storage.create_tenant("bench", 0)?;
    let team = storage.create_team(&tenant, "bench", 0)?;

    // 1. The rows, due ones spread evenly through the table.
    let started = Instant::now();
    let every = 1000 / bench.due_per_mille.max(1);
    let mut due = 0u32;
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..bench.opportunities {
        let is_due = i % every == 0;
        due += u32::from(is_due);
        let entered = if is_due { NOW - 9 * DAY_MS } else { NOW - i64::from(i % 5 + 1) * DAY_MS };
        chunk.push(ScheduleWrite::Deal(ScheduleRow {
            doc_id: DocId::generate(),
            team_id: team.clone(),
            rep_user_id: None,
            customer_id: DocId::generate(),
            owner: format!("rep-{}", i % 80),
            title: format!("注塑机 {i}"),
            stage: Stage::ProposalSubmitted.as_str().to_owned(),
            stage_entered_at: entered,
            doc_activity_at: entered,
            // What a previous tick left: the reminder (day 7) for the due ones has passed, the
            // rest look again when their own day-7 reminder falls due.
            next_due_at: Some(if is_due { NOW - DAY_MS } else { entered + 7 * DAY_MS }),
            held: false,
        }));
        if chunk.len() == CHUNK {
            storage.commit_batch(BatchWrite { schedule: &chunk, ..BatchWrite::default() }, 0)?;
            chunk.clear();
        }
    }
    storage.commit_batch(BatchWrite { schedule: &chunk, ..BatchWrite::default() }, 0)?;
    drop(chunk);
    let populate_s = started.elapsed().as_secs_f64();

    // 4 (first, before the drain). The scheduler's due-row query (its columns, every due row),
    // with the index search and without it: `+next_due_at` keeps SQLite from searching the
    // index, so it reads every deal's row, as a scheduler without the index would each tick.
    let conn = rusqlite::Connection::open(work.join("relay.sqlite"))?;
    let read_due = |condition: &str| -> Result<(u32, f64)> {
        let sql = format!(
            "SELECT doc_id, team_id, rep_user_id, customer_id, owner, title, stage, stage_entered_at,
                    doc_activity_at, next_due_at, held
             FROM opportunity_schedule WHERE {condition} <= ?1"
        );
        let t = Instant::now();
        let mut statement = conn.prepare(&sql)?;
        let mut rows = statement.query(params![NOW])?;
        let mut n = 0u32;
        while let Some(row) = rows.next()? {
            let _: Vec<u8> = row.get(0)?;
            n += 1;
        }
        Ok((n, t.elapsed().as_secs_f64() * 1000.0))
    };
    let (indexed_n, indexed_ms) = read_due("next_due_at")?;
    let (scanned_n, scan_ms) = read_due("+next_due_at")?;
    if indexed_n != due || scanned_n != due {
        bail!("expected {due} due deals, the queries found {indexed_n} and {scanned_n}");
    }

    // 2. Drain through the writer.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let relay = Relay::start(storage.clone(), RelayLimits::default(), Arc::new(Metrics::default()))?;
    let (ticks, raised, examined, drain_s, idle_ms) = runtime.block_on(async {
        let t = Instant::now();
        let (mut ticks, mut raised, mut examined) = (0u32, 0u32, 0u32);
        loop {
            let report = relay.tick(NOW, bench.batch).await?;
            ticks += 1;
            raised += report.raised;
            examined += report.examined;
            if !report.more {
                break;
            }
        }
        let drain_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let idle = relay.tick(NOW, bench.batch).await?;
        let idle_ms = t.elapsed().as_secs_f64() * 1000.0;
        if idle.examined != 0 {
            bail!("{} deals still due after draining", idle.examined);
        }
        anyhow::Ok((ticks, raised, examined, drain_s, idle_ms))
    })?;
    if raised != due {
        bail!("{due} deals were due but {raised} alerts were raised");
    }
    let stored: u32 = conn.query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))?;
    emit(json!({
        "bench": "scheduler",
        "open_opportunities": bench.opportunities,
        "due": due,
        "batch": bench.batch,
        "populate_s": round3(populate_s),
        "drain_ticks": ticks,
        "drain_examined": examined,
        "alerts_raised": raised,
        "alerts_stored": stored,
        "drain_s": round3(drain_s),
        "per_due_deal_ms": round3(drain_s * 1000.0 / f64::from(due.max(1))),
        "idle_tick_ms": round3(idle_ms),
        "due_query_indexed_ms": round3(indexed_ms),
        "due_query_full_scan_ms": round3(scan_ms),
        "full_scan_vs_indexed": round3(scan_ms / indexed_ms.max(1e-6)),
        "scan_vs_idle_tick": round3(scan_ms / idle_ms.max(1e-6)),
    }));
    Ok(())
}
