//! `fieldsync bench relay-dedup`: identity resolution on the relay for a team with a million
//! customers (issue 5's figure).
//!
//! 1. Indexes N generated customers (realistic Chinese manufacturers, the same generator as
//!    `bench dedup-local`) straight into the relay's storage, as the writer would.
//! 2. **Lookup + scoring** per incoming customer: the exact function the writer runs
//!    ([`find_matches`]: candidates from the phone and n-gram indexes, then the shared rule),
//!    for probes that are half re-typed existing customers and half new companies; with the hit
//!    rate (a re-typed customer found as `Same` or `Possible`).
//! 3. **End to end through the writer**: `documents` of those customers also exist as real
//!    Automerge documents pushed through the relay; probes (half re-typed copies of them, half
//!    new) are pushed one per request through `Relay::sync`, so each includes checking, identity
//!    resolution, any merge the relay writes, and the group commit with its fsync. The reference
//!    in the same run is the same number of pushes of a new visit (no resolution).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use fieldsync_core::dedup::{Decision, DedupThresholds};
use fieldsync_core::model::{Customer, NewCustomer, Provenance};
use fieldsync_core::sync::wire::{PushedChange, SyncRequest};
use fieldsync_core::{DeviceIdentity, DocId};
use serde_json::json;

use super::dedup::{Company, Generator};
use super::emit;
use super::sync::{new_document_change, new_visit_change, round3};
use crate::metrics::Metrics;
use crate::process::quantile;
use crate::relay::identity::{find_matches, key_row};
use crate::relay::{Cursor, Relay, RelayLimits};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{BatchWrite, DeviceScope, RelayStorage, Role};

/// What to run.
#[derive(Debug, Clone)]
pub struct IdentityBench {
    /// Customers indexed in the team.
    pub customers: u32,
    /// Probes timed for lookup + scoring.
    pub probes: u32,
    /// Customers that are also real documents, and probes pushed end to end.
    pub documents: u32,
}

const INDEX_CHUNK: usize = 20_000;
const CREATED_AT: i64 = 1_780_000_000_000;

/// Runs the benchmark in `work`.
pub fn run(bench: &IdentityBench, work: &Path) -> Result<()> {
    if bench.documents > bench.customers || bench.probes == 0 || bench.documents == 0 {
        bail!("need 0 < documents <= customers and probes > 0");
    }
    let storage = Arc::new(SqliteStorage::open(work)?);
    let tenant = storage.create_tenant("bench", 0)?;
    let team = storage.create_team(&tenant, "bench", 0)?;
    let mut generator = Generator::new(0x005E_ED1D);
    let companies: Vec<Company> = (0..bench.customers).map(|_| generator.company()).collect();

    // 1. The first `documents` customers become real documents (pushed in step 3); the rest are
    //    indexed directly, as the writer would have indexed them.
    let started = Instant::now();
    let rows: Vec<_> = companies
        .iter()
        .enumerate()
        .skip(bench.documents as usize)
        .map(|(i, c)| key_row(&customer(c, DocId::generate(), i as i64, [0; 16]), &team))
        .collect();
    for chunk in rows.chunks(INDEX_CHUNK) {
        storage.commit_batch(BatchWrite { customers: chunk, ..BatchWrite::default() }, 0)?;
    }
    let index_s = started.elapsed().as_secs_f64();
    drop(rows);

    // 2. Lookup + scoring, the writer's own function.
    let thresholds = DedupThresholds::default();
    let mut lookup_ms = Vec::with_capacity(bench.probes as usize);
    let (mut retyped, mut found, mut candidates) = (0u32, 0u32, 0usize);
    for _ in 0..bench.probes {
        let query = generator.query(&companies[bench.documents as usize..]);
        let probe = key_row(&customer_of(&query.draft, DocId::generate(), i64::MAX / 2, [0; 16]), &team);
        let t = Instant::now();
        // A cache of its own per probe: each lookup is measured from scratch, as before.
        let matches = find_matches(storage.as_ref(), &probe, &[], &thresholds, &mut Default::default())?;
        lookup_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        candidates += matches.len();
        if let Some(i) = query.original {
            retyped += 1;
            let original = &companies[bench.documents as usize + i];
            if matches.iter().any(|(m, v)| m.name == original.name && v.decision != Decision::Different) {
                found += 1;
            }
        }
    }

    // 3. End to end through the writer.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let relay = Relay::start(storage.clone(), RelayLimits::default(), Arc::new(Metrics::default()))?;
    let identity = DeviceIdentity::from_secret([42; 32]);
    let user = storage.create_user(&team, "bench rep", Role::Rep, 0)?;
    let scope = DeviceScope {
        device_id: *identity.device_id().as_bytes(),
        user_id: user,
        role: Role::Rep,
        tenant_id: tenant,
        team_id: team.clone(),
    };
    let device = *identity.device_id().as_bytes();
    let seeded: Vec<PushedChange> = companies[..bench.documents as usize]
        .iter()
        .enumerate()
        .map(|(i, c)| new_document_change(&identity, &customer(c, DocId::generate(), i as i64, device)))
        .collect::<Result<_>>()?;
    let (mut push_ms, mut visit_ms, merges) = runtime.block_on(async {
        for chunk in seeded.chunks(500) {
            let request = SyncRequest { changes: chunk.to_vec(), ..Default::default() };
            relay.sync(&scope, request, 0).await?;
        }
        let mut push_ms = Vec::new();
        let mut visit_ms = Vec::new();
        let mut cursor = Cursor::Log { seq: relay.storage().head_seq(&team)? }.encode();
        for n in 0..bench.documents {
            let query = generator.query(&companies[..bench.documents as usize]);
            let change = new_document_change(
                &identity,
                &customer_of(&query.draft, DocId::generate(), CREATED_AT + 1_000_000, device),
            )?;
            push_ms.push(timed_push(&relay, &scope, &mut cursor, change).await?);
            visit_ms.push(timed_push(&relay, &scope, &mut cursor, new_visit_change(&identity, n)?).await?);
        }
        let merges = relay.storage().merge_conflicts(&team, u32::MAX)?.len();
        anyhow::Ok((push_ms, visit_ms, merges))
    })?;
    let merged = storage.pairs(&team, crate::storage::PairStatus::Merged, u32::MAX)?.len();
    let pending = storage.pairs(&team, crate::storage::PairStatus::Pending, u32::MAX)?.len();

    for samples in [&mut lookup_ms, &mut push_ms, &mut visit_ms] {
        samples.sort_by(f64::total_cmp);
    }
    let (p50, v50) = (quantile(&push_ms, 0.5), quantile(&visit_ms, 0.5));
    emit(json!({
        "bench": "relay-dedup",
        "customers": bench.customers,
        "index_seconds": round3(index_s),
        "lookup_probes": bench.probes,
        "lookup_ms_p50": round3(quantile(&lookup_ms, 0.5)),
        "lookup_ms_p99": round3(quantile(&lookup_ms, 0.99)),
        "lookup_ms_max": round3(quantile(&lookup_ms, 1.0)),
        "candidates_per_lookup": round3(candidates as f64 / f64::from(bench.probes)),
        "retyped_found_rate": round3(f64::from(found) / f64::from(retyped.max(1))),
        "push_customer_ms_p50": round3(p50),
        "push_customer_ms_p99": round3(quantile(&push_ms, 0.99)),
        "reference_push_visit_ms_p50": round3(v50),
        "ratio_to_reference": round3(p50 / v50),
        "pushes": bench.documents,
        "merged_pairs": merged,
        "pending_pairs": pending,
        "merge_conflicts": merges,
        "reference": "push of a new visit (no identity resolution), alternating with the customer pushes",
    }));
    Ok(())
}

/// One push as a device that follows the log makes it (its cursor at the head), timed.
async fn timed_push(
    relay: &Relay,
    scope: &DeviceScope,
    cursor: &mut Vec<u8>,
    change: PushedChange,
) -> Result<f64> {
    let request = SyncRequest { changes: vec![change], cursor: std::mem::take(cursor), ..Default::default() };
    let t = Instant::now();
    let response = relay.sync(scope, request, 0).await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    *cursor = response.cursor;
    if response.accepted != 1 {
        bail!("a bench push was refused: {:?}", response.rejected);
    }
    Ok(ms)
}

fn customer(company: &Company, id: DocId, n: i64, device: [u8; 16]) -> Customer {
    let draft = NewCustomer {
        company_name: company.name.clone(),
        phones: company.phones.clone(),
        ..Default::default()
    };
    customer_of(&draft, id, CREATED_AT + n, device)
}

fn customer_of(draft: &NewCustomer, id: DocId, created_at: i64, device: [u8; 16]) -> Customer {
    use fieldsync_core::model::Draft as _;
    draft
        .clone()
        .into_record(id, Provenance { created_at, created_by: fieldsync_core::DeviceId::from_bytes(device) })
}
