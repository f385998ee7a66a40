//! `fieldsync bench guard …`: two small, fixed sync scenarios whose instruction counts under
//! callgrind guard the sync path against regressions that this shared machine's timing noise
//! would hide (`scripts/perf-guard.sh`, docs/benchmarks.md). Everything in them is fixed: ids,
//! actors, timestamps and the order of work, so two runs of one build execute nearly the same
//! instructions.
//!
//! - `fresh`: a new phone applies one page of 2,000 customer snapshots (the phone's side of a
//!   fresh pull: checksum, load, record read, projections, one SQLite transaction).
//! - `ingest`: 1,000 new visits pushed to an in-process relay on SQLite, 10 per request from
//!   10 reps of one team in turn (the writer's intake, merge and commit, and each pull answer).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{ActorId, Automerge, ROOT};
use fieldsync_core::model::{Draft as _, NewCustomer, NewVisit, Provenance, Record, SCHEMA_VERSION};
use fieldsync_core::store::PushLimits;
use fieldsync_core::sync::wire::{DocumentBytes, PushedChange, SyncRequest, SyncResponse};
use fieldsync_core::{DeviceId, DocId, Store};

use serde_json::json;

use super::emit;
use crate::relay::{Cursor, Relay, RelayLimits};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{DeviceScope, Role};

/// A fixed moment (2026-11-26), for every timestamp in the scenarios.
const AT: i64 = 1_795_654_800_000;

/// A fixed id: `kind` in the first byte, `n` in the last four.
fn fixed_id(kind: u8, n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = kind;
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

/// The document holding `record`, written by `actor` in one change at a fixed time.
fn document<R: Record>(actor: [u8; 16], record: &R) -> Result<Automerge> {
    let mut doc = Automerge::new().with_actor(ActorId::from(&actor[..]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", R::KIND.as_str())?;
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    autosurgeon::reconcile(&mut tx, record)?;
    tx.commit_with(CommitOptions::default().with_time(AT));
    Ok(doc)
}

/// The customer snapshots of the `fresh` scenario.
pub fn fresh_input(documents: u32) -> Result<Vec<DocumentBytes>> {
    let writer = fixed_id(1, 0);
    (0..documents)
        .map(|i| {
            let id = DocId::from_bytes(fixed_id(2, i));
            let customer = NewCustomer {
                company_name: format!("苏州第{i}机械有限公司"),
                phones: vec![format!("138{i:08}")],
                address: Some("苏州工业园区星湖街 328 号".into()),
                tags: vec!["机械".into()],
                ..Default::default()
            }
            .into_record(id, Provenance { created_at: AT, created_by: DeviceId::from_bytes(writer) });
            Ok(DocumentBytes { doc_id: id, bytes: document(writer, &customer)?.save() })
        })
        .collect()
}

/// `fresh`: a new phone applies one page of the given customer snapshots.
pub fn fresh(snapshots: Vec<DocumentBytes>, work: &Path) -> Result<()> {
    let documents = snapshots.len() as u32;
    let store = Store::open(work.join("guard-fresh.fieldsync"))?;
    let prepared = store.prepare_sync(PushLimits::default())?;
    let response = SyncResponse {
        server_time_ms: AT as u64,
        accepted: 0,
        rejected: Vec::new(),
        snapshots,
        changes: Vec::new(),
        cursor: Cursor::Log { seq: u64::from(documents) }.encode(),
        more: false,
    };
    let applied = store.apply_sync(&prepared, &response)?;
    if applied.documents_changed != documents || store.customer_count()? != u64::from(documents) {
        bail!("the phone applied {} of {documents} documents", applied.documents_changed);
    }
    emit(json!({ "bench": "guard", "scenario": "fresh", "documents": documents }));
    Ok(())
}

/// Writes a scenario's input (made natively, so callgrind counts only the scenario itself):
/// each item as its 16-byte document id, its length (u32, little-endian) and its bytes.
pub fn write_input(path: &Path, items: &[DocumentBytes]) -> Result<()> {
    let mut out = Vec::new();
    for item in items {
        out.extend_from_slice(item.doc_id.as_bytes());
        out.extend_from_slice(&u32::try_from(item.bytes.len())?.to_le_bytes());
        out.extend_from_slice(&item.bytes);
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Reads what [`write_input`] wrote.
pub fn read_input(path: &Path) -> Result<Vec<DocumentBytes>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rest = data.as_slice();
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (id, after) = rest.split_first_chunk::<16>().context("a cut-off document id")?;
        let (len, after) = after.split_first_chunk::<4>().context("a cut-off length")?;
        let len = u32::from_le_bytes(*len) as usize;
        if after.len() < len {
            bail!("{}: an item is cut off", path.display());
        }
        items.push(DocumentBytes { doc_id: DocId::from_bytes(*id), bytes: after[..len].to_vec() });
        rest = &after[len..];
    }
    Ok(items)
}

/// Reps of the `ingest` scenario's team.
const REPS: u32 = 10;

/// The `ingest` scenario's changes in push order: new visits, each made by the rep whose turn
/// its request is (`per_request` a request, the reps in turn).
pub fn ingest_input(changes: u32, per_request: u32) -> Result<Vec<DocumentBytes>> {
    let per_request = per_request.max(1);
    (0..changes)
        .map(|n| {
            let device = fixed_id(3, (n / per_request) % REPS);
            let id = DocId::from_bytes(fixed_id(4, n));
            let visit = NewVisit {
                customer_id: DocId::from_bytes(fixed_id(5, n % 97)),
                opportunity_id: None,
                planned_at: AT + i64::from(n),
                notes: format!("模拟拜访 {n}"),
            }
            .into_record(id, Provenance { created_at: AT, created_by: DeviceId::from_bytes(device) });
            let doc = document(device, &visit)?;
            let change = doc.get_last_local_change().context("no change")?;
            Ok(DocumentBytes { doc_id: id, bytes: change.raw_bytes().to_vec() })
        })
        .collect()
}

/// `ingest`: the given changes (from [`ingest_input`]) pushed to an in-process relay,
/// `per_request` per request, from 10 reps of one team in turn; each request also pulls what the
/// others pushed.
pub fn ingest(changes: Vec<DocumentBytes>, per_request: u32, work: &Path) -> Result<()> {
    let data = work.join("guard-relay");
    let team = super::sync::bootstrap(&data, REPS, 0, "guard")?;
    let field = |key: &str| team[key].as_str().map(str::to_owned).context("bootstrap output");
    let (tenant_id, team_id) = (field("tenant_id")?, field("team_id")?);
    let users: Vec<String> = team["users"]
        .as_array()
        .context("users")?
        .iter()
        .filter_map(|u| u["user_id"].as_str().map(str::to_owned))
        .collect();
    let scopes: Vec<DeviceScope> = users
        .into_iter()
        .enumerate()
        .map(|(i, user_id)| DeviceScope {
            device_id: fixed_id(3, i as u32),
            user_id,
            role: Role::Rep,
            tenant_id: tenant_id.clone(),
            team_id: team_id.clone(),
        })
        .collect();
    let total = changes.len() as u32;
    let prepared: Vec<Vec<PushedChange>> = changes
        .chunks(per_request.max(1) as usize)
        .map(|chunk| {
            chunk.iter().map(|c| PushedChange { doc_id: c.doc_id, bytes: c.bytes.clone() }).collect()
        })
        .collect();
    let storage = Arc::new(SqliteStorage::open(&data)?);
    // Each rep's device is enrolled, as a phone's would be: the KPI rows count its visits for
    // its user.
    let codes: Vec<String> = team["users"]
        .as_array()
        .context("users")?
        .iter()
        .filter_map(|u| u["code"].as_str().map(str::to_owned))
        .collect();
    for (i, code) in codes.iter().enumerate() {
        let device = fixed_id(3, i as u32);
        crate::storage::RelayStorage::enroll_device(
            storage.as_ref(),
            crate::http::auth::secret_hash(code),
            device,
            [i as u8 + 1; 32],
            "guard",
            crate::http::auth::secret_hash(&format!("guard token {i}")),
            AT,
        )?;
    }
    // `FIELDSYNC_KPI_UPKEEP=false` measures the same scenario without the KPI upkeep.
    let limits = RelayLimits {
        kpi_upkeep: std::env::var("FIELDSYNC_KPI_UPKEEP").map_or(true, |v| v != "false"),
        ..RelayLimits::default()
    };
    let relay = Relay::start(storage, limits, Arc::new(crate::metrics::Metrics::default()))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let accepted = runtime.block_on(async {
        let mut cursors = vec![Vec::new(); scopes.len()];
        let mut accepted = 0u32;
        for (r, batch) in prepared.into_iter().enumerate() {
            let device = r % scopes.len();
            let request = SyncRequest {
                cursor: std::mem::take(&mut cursors[device]),
                max_response_bytes: 1 << 20,
                changes: batch,
            };
            let response = relay.sync(&scopes[device], request, AT as u64).await?;
            accepted += response.accepted;
            cursors[device] = response.cursor;
        }
        anyhow::Ok(accepted)
    })?;
    if accepted != total {
        bail!("the relay accepted {accepted} of {total} changes");
    }
    emit(json!({ "bench": "guard", "scenario": "ingest", "changes": accepted }));
    Ok(())
}
