//! `fieldsync bench store`: opening a store of 50,000 documents, and the latency of recording a
//! visit, each against a reference measured in the same run on the same disk.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fieldsync_core::model::{Datum, FixSource, Location, NewCustomer, NewOpportunity, NewVisit, Stage};
use fieldsync_core::{DocId, Store};
use rusqlite_reference::durable_insert_latencies;
use serde_json::json;

use super::emit;
use crate::process::{quantile, rss_mb};

/// What to run.
#[derive(Debug, Clone)]
pub struct StoreBench {
    /// Documents in the store that is opened.
    pub documents: u32,
    /// Visits recorded for the latency figures.
    pub samples: u32,
    /// How many times the store is opened (fresh process each time).
    pub opens: u32,
    /// Where to put the store; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
}

/// Runs the scenario and prints its result lines.
pub fn run(bench: &StoreBench) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = bench.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bench-{}.fieldsync", bench.documents));
    let _ = std::fs::remove_file(&path);

    let started = Instant::now();
    populate(&path, bench.documents)?;
    let populate_s = started.elapsed().as_secs_f64();
    let file_mb = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;

    // Open in fresh processes so the time includes a cold connection and the RSS is the open's.
    let exe = std::env::current_exe()?;
    let mut opens = Vec::new();
    for _ in 0..bench.opens.max(1) {
        let output = Command::new(&exe).args(["bench", "store-open"]).arg(&path).output()?;
        if !output.status.success() {
            bail!("store-open child failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let line: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("store-open child output")?;
        opens.push(line);
    }
    let mut open_ms: Vec<f64> = opens.iter().filter_map(|o| o["open_ms"].as_f64()).collect();
    let mut reference_ms: Vec<f64> = opens.iter().filter_map(|o| o["reference_open_ms"].as_f64()).collect();
    let mut rss: Vec<f64> = opens.iter().filter_map(|o| o["rss_mb"].as_f64()).collect();
    for v in [&mut open_ms, &mut reference_ms, &mut rss] {
        v.sort_by(f64::total_cmp);
    }
    let open_p50 = quantile(&open_ms, 0.5);
    let reference_p50 = quantile(&reference_ms, 0.5);
    emit(json!({
        "bench": "store-open",
        "documents": bench.documents,
        "opens": open_ms.len(),
        "open_ms_p50": round(open_p50),
        "open_ms_max": round(open_ms.last().copied().unwrap_or(f64::NAN)),
        "reference_open_ms_p50": round(reference_p50),
        "ratio_to_reference": round(open_p50 / reference_p50),
        "rss_mb_after_open": round(quantile(&rss, 0.5)),
        "file_mb": round(file_mb),
        "populate_seconds": round(populate_s),
        "target_open_ms": 150,
        "reference": "plain rusqlite open of the same file + one indexed query, same process shape",
    }));

    create_visit_latency(&path, bench.samples, &dir)?;
    Ok(())
}

/// Fills a new store with a realistic mix: 40 % customers with locations, 40 % visits,
/// 20 % opportunities. Returns the customers' ids.
pub(super) fn populate(path: &Path, documents: u32) -> Result<Vec<DocId>> {
    let store = Store::open(path)?;
    let customers = documents * 2 / 5;
    let visits = documents * 2 / 5;
    let opportunities = documents - customers - visits;
    let mut customer_ids = Vec::with_capacity(customers as usize);
    for chunk in (0..customers).collect::<Vec<_>>().chunks(1000) {
        let drafts = chunk.iter().map(|&i| NewCustomer {
            company_name: format!("{}{}机械有限公司", REGIONS[i as usize % REGIONS.len()], i),
            phones: vec![format!("138{:08}", i)],
            location: Some(Location {
                lat: 31.0 + f64::from(i % 1000) * 0.001,
                lon: 120.0 + f64::from(i / 1000) * 0.001,
                datum: Datum::Wgs84,
                source: FixSource::Gps,
                accuracy_m: Some(15.0),
                at: None,
                mock: false,
            }),
            ..Default::default()
        });
        customer_ids.extend(store.create_batch(drafts.collect())?.into_iter().map(|c| c.id));
    }
    if customer_ids.is_empty() {
        bail!("need at least 3 documents");
    }
    let customer = |i: u32| customer_ids[i as usize % customer_ids.len()];
    for chunk in (0..visits).collect::<Vec<_>>().chunks(1000) {
        let drafts = chunk.iter().map(|&i| NewVisit {
            customer_id: customer(i),
            opportunity_id: None,
            planned_at: 1_790_000_000_000 + i64::from(i) * 600_000,
            notes: format!("拜访记录 {i}"),
        });
        store.create_batch(drafts.collect())?;
    }
    for chunk in (0..opportunities).collect::<Vec<_>>().chunks(1000) {
        let drafts = chunk.iter().map(|&i| NewOpportunity {
            customer_id: customer(i),
            owner: format!("rep-{}", i % 40),
            title: format!("商机 {i}"),
            stage: Stage::ALL[i as usize % 5],
            amount: None,
            expected_close_at: None,
            next_action_due_at: Some(1_790_000_000_000 + i64::from(i) * 3_600_000),
        });
        store.create_batch(drafts.collect())?;
    }
    store.close()?;
    Ok(customer_ids)
}

const REGIONS: [&str; 8] = ["苏州", "无锡", "常州", "宁波", "东莞", "佛山", "温州", "台州"];

/// The child side of `store-open`: times `Store::open` and prints one JSON object.
pub fn open_once(path: &Path) -> Result<()> {
    // An untimed open first: it refuses a file that is not a store with the store's own error,
    // and it warms the OS page cache, so both timed opens below start equally warm.
    Store::open(path)?.close()?;
    let reference_started = Instant::now();
    {
        let conn = rusqlite_reference::open(path)?;
        rusqlite_reference::first_customer(&conn)?;
    }
    let reference_open_ms = reference_started.elapsed().as_secs_f64() * 1000.0;

    let started = Instant::now();
    let store = Store::open(path)?;
    let found = store.customers_by_name_prefix("苏州", 1)?;
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;
    if found.is_empty() {
        bail!("the benchmark store has no customers");
    }
    let documents = store.document_count()?;
    println!(
        "{}",
        json!({
            "open_ms": open_ms,
            "reference_open_ms": reference_open_ms,
            "rss_mb": rss_mb(),
            "documents": documents,
        })
    );
    store.close()?;
    Ok(())
}

/// p50/p99 of `Store::create(NewVisit)` on the full store, and of a bare durable SQLite insert of
/// a row the same size on the same disk (the floor any durable write pays: one WAL fsync).
fn create_visit_latency(path: &Path, samples: u32, dir: &Path) -> Result<()> {
    let store = Store::open(path)?;
    let customer = store.customers_by_name_prefix("苏州", 1)?.pop().context("no customer")?;
    let mut latencies = Vec::with_capacity(samples as usize);
    for i in 0..samples {
        let started = Instant::now();
        store.create(NewVisit {
            customer_id: customer.id,
            opportunity_id: None,
            planned_at: 1_795_000_000_000 + i64::from(i),
            notes: "客户对新型号感兴趣，下周送样".into(),
        })?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let sizes = newest_change_sizes(&store, samples)?;
    store.close()?;
    let mut line = json!({
        "bench": "store-create-visit",
        "reference": "one rusqlite INSERT of a blob the size of the visit's change, WAL + synchronous=FULL, own transaction",
    });
    line.as_object_mut().context("a JSON object")?.extend(against_durable_insert(latencies, &sizes, dir)?);
    emit(line);
    Ok(())
}

/// The sizes of the newest `n` changes in the store's outbox (the writes just timed).
pub(super) fn newest_change_sizes(store: &Store, n: u32) -> Result<Vec<u64>> {
    Ok(store.outbox(u32::MAX)?.iter().rev().take(n as usize).map(|e| e.size_bytes).collect())
}

/// The figures of durable store writes that took `latencies` ms and wrote changes of `sizes`
/// bytes, beside as many bare durable inserts of a blob of their mean size timed now in `dir`:
/// `samples`, `p50_ms`, `p99_ms`, `reference_p50_ms`, `reference_p99_ms`,
/// `ratio_p50_to_reference`, `change_bytes_mean`.
pub(super) fn against_durable_insert(
    mut latencies: Vec<f64>,
    sizes: &[u64],
    dir: &Path,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    latencies.sort_by(f64::total_cmp);
    let samples = latencies.len() as u32;
    let change_bytes = sizes.iter().sum::<u64>() as f64 / sizes.len().max(1) as f64;
    let mut reference =
        durable_insert_latencies(&dir.join("reference.sqlite"), samples, change_bytes as usize)?;
    reference.sort_by(f64::total_cmp);
    let p50 = quantile(&latencies, 0.5);
    let reference_p50 = quantile(&reference, 0.5);
    Ok(serde_json::Map::from_iter([
        ("samples".to_owned(), json!(samples)),
        ("p50_ms".to_owned(), json!(round(p50))),
        ("p99_ms".to_owned(), json!(round(quantile(&latencies, 0.99)))),
        ("reference_p50_ms".to_owned(), json!(round(reference_p50))),
        ("reference_p99_ms".to_owned(), json!(round(quantile(&reference, 0.99)))),
        ("ratio_p50_to_reference".to_owned(), json!(round(p50 / reference_p50))),
        ("change_bytes_mean".to_owned(), json!(round(change_bytes))),
    ]))
}

/// `v` to three decimals, as every figure of these benches is printed.
pub(super) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The plain-SQLite references, kept apart so it is obvious they do not go through the store.
pub(super) mod rusqlite_reference {
    use std::path::Path;
    use std::time::Instant;

    use anyhow::Result;
    use rusqlite::{Connection, OpenFlags};

    pub fn open(path: &Path) -> Result<Connection> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Ok(conn)
    }

    pub fn first_customer(conn: &Connection) -> Result<String> {
        Ok(conn.query_row(
            "SELECT doc_id FROM customer_index WHERE name_key >= '苏州' ORDER BY name_key LIMIT 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Milliseconds of each of `samples` durable inserts (WAL, `synchronous = FULL`, one
    /// transaction each) of a `row_bytes` blob into a fresh database at `path`: the floor any
    /// durable write of the store pays on this disk.
    pub fn durable_insert_latencies(path: &Path, samples: u32, row_bytes: usize) -> Result<Vec<f64>> {
        let _ = std::fs::remove_file(path);
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)")?;
        let payload = vec![0x5au8; row_bytes.max(1)];
        let mut out = Vec::with_capacity(samples as usize);
        for _ in 0..samples {
            let started = Instant::now();
            let tx = conn.unchecked_transaction()?;
            tx.execute("INSERT INTO t (bytes) VALUES (?1)", [&payload])?;
            tx.commit()?;
            out.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        drop(conn);
        let _ = std::fs::remove_file(path);
        Ok(out)
    }
}
