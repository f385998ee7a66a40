//! `fieldsync bench pool`: the public pool's tick (issue 13's figure) with N owned customers of
//! which D fell due (no effective follow-up for the team's 30 days).
//!
//! 1. Writes N customers' ownership rows straight into the relay's storage, as the writer does
//!    when customers sync: D owned since 31 days with no follow-up (due), the rest followed up
//!    in the last days (their look is weeks ahead).
//! 2. **Drain**: ticks through `Relay::tick` with the serve loop's batch size until nothing is
//!    due; each tick reads the due rows through the `return_due_at` index, applies the pool rule
//!    (`fieldsync_core::model::return_due_at`), returns each to the pool (row, cooldown, the
//!    customer's `ownership` document as the relay's change, log entry) and commits with fsync.
//! 3. **Idle tick**: one more tick once nothing is due.
//! 4. **Reference, same run**: the due-row query with its index and without it (every row read:
//!    what a tick without the index would cost).
//!
//! Run it at two sizes with the same D: the drain should cost the same, the full scan grow.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use fieldsync_core::funnel::DAY_MS;
use fieldsync_core::{DocId, ManualClock};
use rusqlite::params;
use serde_json::json;

use super::emit;
use super::sync::round3;
use crate::metrics::Metrics;
use crate::relay::{Relay, RelayLimits};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{BatchWrite, OwnerRow, OwnerWrite, RelayStorage, Role};

/// What to run.
#[derive(Debug, Clone)]
pub struct PoolBench {
    /// Owned customers.
    pub customers: u32,
    /// Of which due.
    pub due: u32,
    /// Rows one tick looks at, at most.
    pub batch: u32,
}

const CHUNK: usize = 20_000;
const NOW: i64 = 1_800_000_000_000;

/// Runs the benchmark in `work`.
pub fn run(bench: &PoolBench, work: &Path) -> Result<()> {
    if bench.customers == 0 || bench.due == 0 || bench.due > bench.customers || bench.batch == 0 {
        bail!("need customers > 0, 0 < due <= customers and batch > 0");
    }
    let storage = Arc::new(SqliteStorage::open(work)?);
    let tenant = storage.create_tenant("bench", 0)?;
    let team = storage.create_team(&tenant, "bench", 0)?;
    let reps: Vec<String> = (0..80)
        .map(|i| storage.create_user(&team, &format!("rep {i}"), Role::Rep, 0))
        .collect::<Result<_, _>>()?;

    // 1. Rows; the due ones spread evenly through the table.
    let started = Instant::now();
    let every = bench.customers / bench.due;
    let mut due = 0u32;
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..bench.customers {
        let is_due = i % every == 0 && due < bench.due;
        due += u32::from(is_due);
        let since = NOW - 60 * DAY_MS;
        let effective = if is_due { None } else { Some(NOW - i64::from(i % 20 + 1) * DAY_MS) };
        let return_due = match effective {
            None => NOW - DAY_MS,
            Some(at) => at + 30 * DAY_MS,
        };
        chunk.push(OwnerWrite::Row(OwnerRow {
            customer_id: DocId::generate(),
            team_id: team.clone(),
            owner_user_id: Some(reps[i as usize % reps.len()].clone()),
            owned_since: since,
            last_effective_at: effective,
            last_won_at: None,
            return_due_at: Some(return_due),
            merged_into: None,
        }));
        if chunk.len() == CHUNK {
            storage.commit_batch(BatchWrite { owners: &chunk, ..BatchWrite::default() }, 0)?;
            chunk.clear();
        }
    }
    storage.commit_batch(BatchWrite { owners: &chunk, ..BatchWrite::default() }, 0)?;
    drop(chunk);
    let populate_s = started.elapsed().as_secs_f64();

    // 4 (first, before the drain): the tick's due query with its index and without it.
    let conn = rusqlite::Connection::open(work.join("relay.sqlite"))?;
    let read_due = |condition: &str| -> Result<(u32, f64)> {
        let sql = format!(
            "SELECT customer_id, team_id, owner_user_id, owned_since, last_effective_at, last_won_at,
                    return_due_at, merged_into
             FROM customer_owner WHERE {condition} <= ?1"
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
    let (indexed_n, indexed_ms) = read_due("return_due_at")?;
    let (scanned_n, scan_ms) = read_due("+return_due_at")?;
    if indexed_n != due || scanned_n != due {
        bail!("expected {due} due customers, the queries found {indexed_n} and {scanned_n}");
    }

    // 2. Drain through the writer, on the bench's clock.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let clock = Arc::new(ManualClock::new(NOW));
    let relay = Relay::start_with_clock(
        storage.clone(),
        RelayLimits::default(),
        Arc::new(Metrics::default()),
        clock,
    )?;
    let (ticks, returned, examined, drain_s, idle_ms) = runtime.block_on(async {
        let t = Instant::now();
        let (mut ticks, mut returned, mut examined) = (0u32, 0u32, 0u32);
        loop {
            let report = relay.tick(NOW, bench.batch).await?;
            ticks += 1;
            returned += report.returned_to_pool;
            examined += report.pool_examined;
            if !report.more {
                break;
            }
        }
        let drain_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let idle = relay.tick(NOW, bench.batch).await?;
        let idle_ms = t.elapsed().as_secs_f64() * 1000.0;
        if idle.pool_examined != 0 {
            bail!("{} customers still due after draining", idle.pool_examined);
        }
        anyhow::Ok((ticks, returned, examined, drain_s, idle_ms))
    })?;
    if returned != due {
        bail!("{due} customers were due but {returned} returned to the pool");
    }
    let pool: u32 =
        conn.query_row("SELECT count(*) FROM customer_owner WHERE owner_user_id IS NULL", [], |r| r.get(0))?;
    let listings: u32 =
        conn.query_row("SELECT count(*) FROM documents WHERE kind = 'ownership'", [], |r| r.get(0))?;
    if pool != due || listings != due {
        bail!(
            "after the drain {pool} customers are in the pool and {listings} listings written; {due} were due"
        );
    }
    emit(json!({
        "bench": "pool",
        "owned_customers": bench.customers,
        "due": due,
        "batch": bench.batch,
        "populate_s": round3(populate_s),
        "drain_ticks": ticks,
        "drain_examined": examined,
        "returned_to_pool": returned,
        "drain_s": round3(drain_s),
        "per_due_customer_ms": round3(drain_s * 1000.0 / f64::from(due.max(1))),
        "idle_tick_ms": round3(idle_ms),
        "due_query_indexed_ms": round3(indexed_ms),
        "due_query_full_scan_ms": round3(scan_ms),
        "full_scan_vs_indexed": round3(scan_ms / indexed_ms.max(1e-6)),
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pool_bench_runs_and_checks_itself_at_a_small_size() {
        let dir = tempfile::tempdir().unwrap();
        super::run(&super::PoolBench { customers: 2_000, due: 50, batch: 20 }, dir.path()).unwrap();
    }
}
