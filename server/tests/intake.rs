//! The relay's intake of pushed changes (STYLE §16): it keeps nothing a phone cannot read, one
//! hostile change never fails other devices' pushes, records must keep their own rules, and an
//! admin can repair a log that an older relay let a bad entry into.

use std::sync::Arc;

use automerge::{ActorId, Automerge};
use fieldsync_core::model::{Customer, Datum, FixSource, Location, NewCustomer};
use fieldsync_core::store::PushLimits;
use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
use fieldsync_core::{DocId, Store};
use fieldsync_server::metrics::Metrics;
use fieldsync_server::relay::{Relay, RelayLimits};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{BatchWrite, DeviceScope, LogEntry, RelayStorage, Role};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

struct World {
    _dir: TempDir,
    relay: Relay,
    storage: Arc<SqliteStorage>,
}

struct Phone {
    store: Store,
    scope: DeviceScope,
    _dir: TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let relay = Relay::start(storage.clone(), RelayLimits::default(), Arc::new(Metrics::default())).unwrap();
    World { _dir: dir, relay, storage }
}

impl World {
    fn team(&self) -> (String, String) {
        let tenant = self.storage.create_tenant("Acme", 0).unwrap();
        let team = self.storage.create_team(&tenant, "East", 0).unwrap();
        (tenant, team)
    }

    fn phone(&self, (tenant, team): &(String, String), role: Role) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.fieldsync")).unwrap();
        let user = self.storage.create_user(team, "someone", role, 0).unwrap();
        let scope = DeviceScope {
            device_id: *store.device_id().as_bytes(),
            user_id: user,
            role,
            tenant_id: tenant.clone(),
            team_id: team.clone(),
        };
        Phone { store, scope, _dir: dir }
    }

    async fn push(
        &self,
        scope: &DeviceScope,
        doc_id: DocId,
        bytes: Vec<u8>,
    ) -> Result<Option<RejectCode>, String> {
        let request = SyncRequest {
            cursor: Vec::new(),
            max_response_bytes: 1 << 20,
            changes: vec![PushedChange { doc_id, bytes }],
        };
        let response = self.relay.sync(scope, request, 1).await.map_err(|e| e.to_string())?;
        Ok(response.rejected.first().map(|r| r.code))
    }

    /// Syncs a phone until the relay has nothing more.
    async fn sync(&self, phone: &Phone) -> fieldsync_core::store::AppliedSync {
        let mut total = fieldsync_core::store::AppliedSync::default();
        for _ in 0..100 {
            let prepared = phone.store.prepare_sync(PushLimits::default()).unwrap();
            let response = self.relay.sync(&phone.scope, prepared.request.clone(), 1).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            total.acknowledged += applied.acknowledged;
            total.documents_changed += applied.documents_changed;
            total.quarantined += applied.quarantined;
            if !applied.more {
                return total;
            }
        }
        panic!("sync did not settle");
    }
}

fn customer(name: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec!["13812345678".into()], ..Default::default() }
}

/// The phone's outbox: (document, change bytes), oldest first.
fn outbox(phone: &Phone) -> Vec<(DocId, Vec<u8>)> {
    let prepared = phone.store.prepare_sync(PushLimits::default()).unwrap();
    prepared.request.changes.into_iter().map(|c| (c.doc_id, c.bytes)).collect()
}

/// Rewrites a change's header checksum so it matches its (changed) contents.
fn fix_checksum(bytes: &mut [u8]) {
    // The hash covers the chunk type, the length and the contents.
    let hash = Sha256::digest(&bytes[8..]);
    bytes[4..8].copy_from_slice(&hash[..4]);
}

/// A change that is well-formed and checksummed but names an "other actor" no document knows:
/// automerge 0.12 unwraps `None` on it while applying (`op_set2/change/batch.rs`).
fn with_unknown_other_actor(change: &[u8]) -> Vec<u8> {
    // Header: magic(4) checksum(4) type(1) length(LEB128); then deps, actor, seq, start op,
    // time, message, other actors (count + each), ops.
    fn leb(bytes: &[u8], at: &mut usize) -> u64 {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let b = bytes[*at];
            *at += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
    let mut at = 9;
    let _length = leb(change, &mut at);
    let body_start = at;
    let deps = leb(change, &mut at);
    at += 32 * deps as usize;
    let actor_len = leb(change, &mut at);
    at += actor_len as usize;
    leb(change, &mut at); // seq
    leb(change, &mut at); // start op
    leb(change, &mut at); // time (signed LEB128 has the same byte shape)
    let message_len = leb(change, &mut at);
    at += message_len as usize;
    let others_at = at;
    let others = leb(change, &mut at);
    assert_eq!(others, 0, "the sample change must name no other actor");
    let mut body = change[body_start..others_at].to_vec();
    body.push(1); // one other actor ...
    body.push(16);
    body.extend_from_slice(&[0xAB; 16]); // ... that nobody has seen
    body.extend_from_slice(&change[at..]);
    let mut out = change[..9].to_vec();
    let mut length = body.len() as u64;
    loop {
        let byte = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&body);
    fix_checksum(&mut out);
    out
}

#[tokio::test]
async fn no_single_bit_flip_of_a_pushed_change_reaches_the_log() {
    let w = world();
    let team = w.team();
    let rep = w.phone(&team, Role::Rep);
    rep.store.create(customer("苏州精工机械")).unwrap();
    let (doc_id, valid) = outbox(&rep).remove(0);
    // 120 flips spread over the whole change, as in the outside test (36 of 120 got in before).
    for i in 0..120 {
        let bit = (i * 7919) % (valid.len() * 8);
        let mut flipped = valid.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let code = w.push(&rep.scope, doc_id, flipped).await.unwrap();
        assert!(code.is_some(), "flip of bit {bit} was accepted");
    }
    assert_eq!(w.storage.head_seq(&team.1).unwrap(), 0, "nothing entered the log");
    // The real change still goes in, and a new device reads the team.
    assert_eq!(w.push(&rep.scope, doc_id, valid).await.unwrap(), None);
    let other = w.phone(&team, Role::Supervisor);
    let applied = w.sync(&other).await;
    // The customer and its ownership listing.
    assert_eq!((applied.documents_changed, applied.quarantined), (2, 0));
}

#[tokio::test]
async fn a_change_that_panics_automerge_is_refused_alone_while_another_tenant_pushes() {
    let w = world();
    let (attacker_team, victim_team) = (w.team(), w.team());
    let attacker = w.phone(&attacker_team, Role::Rep);
    attacker.store.create(customer("攻击者")).unwrap();
    let (doc_id, valid) = outbox(&attacker).remove(0);
    let hostile = with_unknown_other_actor(&valid);
    // It really does panic inside automerge when applied.
    let change = automerge::Change::from_bytes(hostile.clone()).expect("it parses");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = Automerge::new().apply_changes([change]);
    }));
    assert!(panicked.is_err(), "the sample must reach automerge's unwrap");

    let victims: Vec<Phone> = (0..4).map(|_| w.phone(&victim_team, Role::Rep)).collect();
    let mut tasks = Vec::new();
    for round in 0..40 {
        for (i, victim) in victims.iter().enumerate() {
            victim.store.create(customer(&format!("客户 {round} {i}"))).unwrap();
        }
        let mut pushes = Vec::new();
        for victim in &victims {
            let prepared = victim.store.prepare_sync(PushLimits::default()).unwrap();
            pushes.push((victim.scope.clone(), prepared));
        }
        let relay = w.relay.clone();
        let scope = attacker.scope.clone();
        let bytes = hostile.clone();
        tasks.push(tokio::spawn(async move {
            let request = SyncRequest {
                cursor: Vec::new(),
                max_response_bytes: 1 << 20,
                changes: vec![PushedChange { doc_id, bytes }],
            };
            relay.sync(&scope, request, 1).await.map(|r| r.rejected.first().map(|r| r.code))
        }));
        let mut victim_tasks = Vec::new();
        for (scope, prepared) in pushes {
            let relay = w.relay.clone();
            victim_tasks.push(tokio::spawn(async move {
                relay.sync(&scope, prepared.request.clone(), 1).await.map(|r| (r.accepted, r.rejected.len()))
            }));
        }
        for task in victim_tasks {
            let (accepted, rejected) = task.await.unwrap().expect("the other tenant's push must not fail");
            assert_eq!((accepted, rejected), (1, 0));
        }
        // Acknowledge so the next round pushes only the new customer.
        for victim in &victims {
            w.sync(victim).await;
        }
    }
    for task in tasks {
        let code = task.await.unwrap().expect("the hostile push gets an answer, not an error");
        assert_eq!(code, Some(RejectCode::MalformedChange));
    }
    assert_eq!(w.storage.head_seq(&attacker_team.1).unwrap(), 0);
}

/// A change by `phone` that replaces the stored customer `id` with `edit(customer)`.
fn edit_customer(w: &World, phone: &Phone, id: DocId, edit: impl FnOnce(&mut Customer)) -> Vec<u8> {
    let stored = w.storage.load_document(id).unwrap().unwrap();
    let mut doc = Automerge::load(&stored.snapshot).unwrap().with_actor(ActorId::from(phone.scope.device_id));
    let mut record: Customer = autosurgeon::hydrate(&doc).unwrap();
    edit(&mut record);
    let mut tx = doc.transaction();
    autosurgeon::reconcile(&mut tx, &record).unwrap();
    tx.commit();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    assert!(doc.get_heads().len() == 1);
    change
}

/// One edit of a customer record.
type Edit = Box<dyn FnOnce(&mut Customer)>;

#[tokio::test]
async fn records_the_phones_own_validation_refuses_are_refused_with_invalid_document() {
    let w = world();
    let team = w.team();
    let rep = w.phone(&team, Role::Rep);
    let id = rep.store.create(customer("苏州精工机械")).unwrap().id;
    w.sync(&rep).await;
    let point = |lat: f64| Location {
        lat,
        lon: 120.6,
        datum: Datum::Wgs84,
        source: FixSource::Gps,
        accuracy_m: Some(10.0),
        at: None,
        mock: false,
    };
    let edits: Vec<(&str, Edit)> = vec![
        ("empty name", Box::new(|c: &mut Customer| c.company_name = "  ".into())),
        ("300 tags", Box::new(|c: &mut Customer| c.tags = (0..300).map(|i| format!("t{i}")).collect())),
        ("NaN latitude", Box::new(move |c: &mut Customer| c.location = Some(point(f64::NAN)))),
        ("999° latitude", Box::new(move |c: &mut Customer| c.location = Some(point(999.0)))),
        ("merged into itself", Box::new(move |c: &mut Customer| c.merged_into = Some(c.id))),
    ];
    for (what, edit) in edits {
        let change = edit_customer(&w, &rep, id, edit);
        let code = w.push(&rep.scope, id, change).await.unwrap();
        assert_eq!(code, Some(RejectCode::InvalidDocument), "{what}");
    }
    // A valid edit still goes in.
    let change = edit_customer(&w, &rep, id, |c| c.tags = vec!["重点".into()]);
    assert_eq!(w.push(&rep.scope, id, change).await.unwrap(), None);
}

#[tokio::test]
async fn a_damaged_entry_an_older_relay_stored_is_quarantined_by_phones_and_removed_by_the_log_repair() {
    let w = world();
    let team = w.team();
    let rep = w.phone(&team, Role::Rep);
    let first = rep.store.create(customer("苏州精工机械")).unwrap().id;
    let second = rep.store.create(customer("无锡华光电机")).unwrap().id;
    w.sync(&rep).await;
    // What a relay before the checksum check let in: a valid change with one bit flipped.
    let mut edit = edit_customer(&w, &rep, first, |c| c.tags = vec!["热".into()]);
    let last = edit.len() - 1;
    edit[last] ^= 0x01;
    let hash: [u8; 32] = Sha256::digest(&edit).into();
    w.storage
        .commit_batch(
            BatchWrite {
                entries: &[LogEntry {
                    team_id: team.1.clone(),
                    doc_id: first,
                    hash,
                    actor: rep.scope.device_id,
                    bytes: edit,
                }],
                documents: &[],
                flags: &[],
                customers: &[],
                pairs: &[],
                conflicts: &[],
                schedule: &[],
                alerts: &[],
                owners: &[],
                document_customers: &[],
                kpi_rows: &[],
                kpi_slips: &[],
            },
            1,
        )
        .unwrap();
    let edit_second = edit_customer(&w, &rep, second, |c| c.tags = vec!["温".into()]);
    assert_eq!(w.push(&rep.scope, second, edit_second).await.unwrap(), None);

    // A new device is unaffected: its snapshots were made without the bad entry.
    let newcomer = w.phone(&team, Role::Supervisor);
    let applied = w.sync(&newcomer).await;
    // Two customers and their ownership listings.
    assert_eq!((applied.documents_changed, applied.quarantined), (4, 0));
    let follower = w.phone(&team, Role::Supervisor);
    // Follow the log from the start, as a device that synced before the bad entry arrived.
    let request = SyncRequest { cursor: vec![1, 1, 0], max_response_bytes: 1 << 20, changes: Vec::new() };
    let response = w.relay.sync(&follower.scope, request, 1).await.unwrap();
    let prepared = follower.store.prepare_sync(PushLimits::default()).unwrap();
    let applied = follower.store.apply_sync(&prepared, &response).unwrap();
    assert_eq!(applied.quarantined, 1, "the damaged entry is kept aside");
    assert!(applied.documents_changed >= 2, "the rest of the page is applied");
    let marked = follower.store.documents_to_repair(5).unwrap();
    assert_eq!(marked.iter().map(|d| d.doc_id).collect::<Vec<_>>(), vec![first]);
    assert_eq!(follower.store.quarantined_entries(10).unwrap().len(), 1);
    let tags = |store: &Store, id| store.get::<Customer>(id).unwrap().tags;
    assert_eq!(tags(&follower.store, second), vec!["温".to_string()]);

    // The admin's repair removes the entry; the follower repairs the document from the snapshot.
    let report = w.relay.repair_team_log(&team.1).await.unwrap();
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert_eq!(report.documents_rebuilt, vec![first.to_string()]);
    let again = w.relay.repair_team_log(&team.1).await.unwrap();
    assert!(again.removed.is_empty(), "a second repair finds nothing");
    let snapshot = w.storage.load_document(first).unwrap().unwrap().snapshot;
    assert_eq!(follower.store.repair_document(first, &snapshot).unwrap(), None);
    assert!(follower.store.documents_to_repair(5).unwrap().is_empty());
    assert_eq!(follower.store.get::<Customer>(first).unwrap().company_name, "苏州精工机械");
}
