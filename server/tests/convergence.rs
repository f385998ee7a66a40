//! Multi-device sync through the real relay engine and real stores, in one process, no sockets
//! (STYLE §1). The HTTP path is covered by tests/http.rs and the end-to-end suite.

use std::sync::Arc;

use automerge::{ActorId, Automerge, ROOT, transaction::Transactable};
use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
use fieldsync_core::evidence::slip::{seal_slip, verify_slip};
use fieldsync_core::model::{
    Customer, EvidenceKind, NewCustomer, NewOpportunity, NewServiceSlip, NewTeamRules, NewVisit, Opportunity,
    ServiceSlip, SlipItem, Stage,
};
use fieldsync_core::store::{AppliedSync, PushLimits, SlipSignature};
use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest, SyncResponse};
use fieldsync_core::{DeviceIdentity, DocId, Store};
use fieldsync_server::metrics::Metrics;
use fieldsync_server::relay::{Relay, RelayError, RelayLimits, ReviewDecision};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, PairStatus, RelayStorage, Role};
use tempfile::TempDir;

struct World {
    _dir: TempDir,
    relay: Relay,
    storage: Arc<SqliteStorage>,
    tenant: String,
    team: String,
}

struct Phone {
    store: Store,
    scope: DeviceScope,
    _dir: TempDir,
}

fn world() -> World {
    world_with(RelayLimits::default())
}

fn world_with(limits: RelayLimits) -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let tenant = storage.create_tenant("Acme", 0).unwrap();
    let team = storage.create_team(&tenant, "East", 0).unwrap();
    let relay = Relay::start(storage.clone(), limits, Arc::new(Metrics::default())).unwrap();
    World { _dir: dir, relay, storage, tenant, team }
}

impl World {
    fn phone(&self, role: Role) -> Phone {
        self.phone_in(&self.tenant.clone(), &self.team.clone(), role)
    }

    fn phone_in(&self, tenant: &str, team: &str, role: Role) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.fieldsync")).unwrap();
        let user = self.storage.create_user(team, "someone", role, 0).unwrap();
        let scope = DeviceScope {
            device_id: *store.device_id().as_bytes(),
            user_id: user,
            role,
            tenant_id: tenant.to_owned(),
            team_id: team.to_owned(),
        };
        Phone { store, scope, _dir: dir }
    }

    /// Syncs a phone until the relay has nothing more; returns the summed outcome.
    async fn sync(&self, phone: &Phone) -> AppliedSync {
        self.sync_with(phone, PushLimits::default()).await
    }

    async fn sync_with(&self, phone: &Phone, limits: PushLimits) -> AppliedSync {
        let mut total = AppliedSync::default();
        for _ in 0..1000 {
            let prepared = phone.store.prepare_sync(limits).unwrap();
            let response = self.relay.sync(&phone.scope, prepared.request.clone(), 1).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            total.acknowledged += applied.acknowledged;
            total.rejected += applied.rejected;
            total.deferred += applied.deferred;
            total.documents_changed += applied.documents_changed;
            if !applied.more
                && (phone.store.outbox_len().unwrap() == 0 || applied.acknowledged + applied.rejected == 0)
            {
                return total;
            }
        }
        panic!("sync did not settle");
    }
}

fn draft(name: &str, phone: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec![phone.into()], ..Default::default() }
}

/// Every permutation of 0..n.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for rest in permutations(n - 1) {
        for i in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(i, n - 1);
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn three_reps_editing_offline_converge_whatever_the_sync_order() {
    for order in permutations(3) {
        let w = world();
        // Rep 0 owns what it creates; its customer's record is shared with the team's
        // supervisors, not with other reps (docs/ownership.md), so the other two editors are
        // supervisors.
        let phones: Vec<Phone> =
            [Role::Rep, Role::Supervisor, Role::Supervisor].into_iter().map(|r| w.phone(r)).collect();
        // Rep 0 creates the customer and the deal; everyone gets them.
        let customer = phones[0].store.create(draft("苏州精工机械", "13812345678")).unwrap();
        let deal = phones[0]
            .store
            .create(NewOpportunity {
                customer_id: customer.id,
                owner: "rep-0".into(),
                title: "CNC".into(),
                stage: Stage::FirstContact,
                amount: None,
                expected_close_at: None,
                next_action_due_at: None,
            })
            .unwrap();
        for (kind, name) in [(EvidenceKind::TechnicalDocument, "参数.pdf"), (EvidenceKind::Quote, "报价.pdf")]
        {
            phones[0].store.attach_deal_evidence(deal.id, kind, name, name.as_bytes()).unwrap();
        }
        for p in &phones {
            w.sync(p).await;
        }
        // Offline: three different edits to the same records, plus a new customer each.
        let mut c1: Customer = phones[1].store.get(customer.id).unwrap();
        c1.address = Some("苏州工业园区".into());
        phones[1].store.update(&c1).unwrap();
        let mut c2: Customer = phones[2].store.get(customer.id).unwrap();
        c2.phones.push("0512-68888888".into());
        phones[2].store.update(&c2).unwrap();
        phones[0].store.move_stage(deal.id, Stage::NeedsConfirmed, None).unwrap();
        phones[1].store.move_stage(deal.id, Stage::ProposalSubmitted, None).unwrap();
        for (i, p) in phones.iter().enumerate() {
            p.store.create(draft(&format!("新客户 {i}"), &format!("1390000000{i}"))).unwrap();
        }
        // Sync in this order, then everyone once more to pick up what came after them.
        for &i in &order {
            w.sync(&phones[i]).await;
        }
        for p in &phones {
            w.sync(p).await;
        }
        let reference: Customer = phones[0].store.get(customer.id).unwrap();
        assert_eq!(reference.address.as_deref(), Some("苏州工业园区"), "order {order:?}");
        assert_eq!(reference.phones.len(), 2, "order {order:?}");
        let reference_deal: Opportunity = phones[0].store.get(deal.id).unwrap();
        assert_eq!(reference_deal.stage_history.len(), 3, "both moves kept, order {order:?}");
        for p in &phones[1..] {
            assert_eq!(p.store.get::<Customer>(customer.id).unwrap(), reference, "order {order:?}");
            assert_eq!(p.store.get::<Opportunity>(deal.id).unwrap(), reference_deal, "order {order:?}");
            // Four customers, the deal and each customer's ownership listing.
            assert_eq!(p.store.document_count().unwrap(), 9);
            assert_eq!(p.store.outbox_len().unwrap(), 0);
        }
        let relay_copy = w.storage.load_document(deal.id).unwrap().unwrap();
        let relay_deal: Opportunity =
            autosurgeon::hydrate(&Automerge::load(&relay_copy.snapshot).unwrap()).unwrap();
        assert_eq!(relay_deal, reference_deal, "the relay's merged copy agrees, order {order:?}");
    }
}

#[tokio::test]
async fn a_change_made_by_another_device_is_refused_and_nothing_is_stored() {
    let w = world();
    let (a, b) = (w.phone(Role::Rep), w.phone(Role::Rep));
    a.store.create(draft("A 公司", "1")).unwrap();
    let stolen = a.store.prepare_sync(PushLimits::default()).unwrap().request;
    let response = w.relay.sync(&b.scope, stolen.clone(), 1).await.unwrap();
    assert_eq!(response.accepted, 0);
    assert_eq!(response.rejected[0].code, RejectCode::ForeignActor);
    assert_eq!(w.storage.document_count().unwrap(), 0);
    // The rightful device still gets it in.
    assert_eq!(w.sync(&a).await.acknowledged, 1);
}

#[tokio::test]
async fn another_teams_device_can_neither_write_nor_read_a_document() {
    let w = world();
    let other_team = w.storage.create_team(&w.tenant, "West", 0).unwrap();
    let other_tenant = w.storage.create_tenant("Rival", 0).unwrap();
    let rival_team = w.storage.create_team(&other_tenant, "Rival team", 0).unwrap();
    let owner = w.phone(Role::Rep);
    let customer = owner.store.create(draft("机密客户", "13800000000")).unwrap();
    w.sync(&owner).await;

    for intruder in [
        w.phone_in(&w.tenant, &other_team, Role::Supervisor),
        w.phone_in(&other_tenant, &rival_team, Role::Admin),
    ] {
        // Reading: a fresh sync sees nothing of the other team.
        assert_eq!(w.sync(&intruder).await.documents_changed, 0);
        assert!(intruder.store.find::<Customer>(customer.id).unwrap().is_none());
        // Writing: a change to that document id made by the intruder is refused.
        let mut doc = Automerge::new().with_actor(ActorId::from(&intruder.scope.device_id[..]));
        let mut tx = doc.transaction();
        tx.put(ROOT, "company_name", "hijacked").unwrap();
        tx.commit();
        let change = doc.get_changes(&[]).pop().unwrap().raw_bytes().to_vec();
        let request = SyncRequest {
            changes: vec![PushedChange { doc_id: customer.id, bytes: change }],
            ..Default::default()
        };
        let response = w.relay.sync(&intruder.scope, request, 1).await.unwrap();
        assert_eq!(response.rejected[0].code, RejectCode::OutOfScope);
    }
    let stored = w.storage.load_document(customer.id).unwrap().unwrap();
    let c: Customer = autosurgeon::hydrate(&Automerge::load(&stored.snapshot).unwrap()).unwrap();
    assert_eq!(c.company_name, "机密客户");
}

#[tokio::test]
async fn replayed_and_reordered_pushes_end_in_the_same_state() {
    let w = world();
    let (a, b) = (w.phone(Role::Rep), w.phone(Role::Supervisor));
    let mut c = a.store.create(draft("重放测试", "1")).unwrap();
    c.tags = vec!["first".into()];
    c = a.store.update(&c).unwrap();
    c.tags.push("second".into());
    a.store.update(&c).unwrap();
    let prepared = a.store.prepare_sync(PushLimits::default()).unwrap();
    assert_eq!(prepared.request.changes.len(), 3);

    // Reordered: the last change alone first — its dependencies are missing, so it is deferred.
    let mut reversed = prepared.request.clone();
    reversed.changes = vec![prepared.request.changes[2].clone()];
    let r = w.relay.sync(&a.scope, reversed, 1).await.unwrap();
    assert_eq!(r.rejected[0].code, RejectCode::MissingDependencies);
    assert!(r.rejected[0].code.is_retryable());

    // The whole request, then the same request replayed: accepted once, counted twice.
    let first = w.relay.sync(&a.scope, prepared.request.clone(), 1).await.unwrap();
    let replay = w.relay.sync(&a.scope, prepared.request.clone(), 1).await.unwrap();
    assert_eq!((first.accepted, replay.accepted), (3, 3));
    assert!(replay.rejected.is_empty());
    a.store.apply_sync(&prepared, &replay).unwrap();
    assert_eq!(a.store.outbox_len().unwrap(), 0);

    w.sync(&b).await;
    assert_eq!(b.store.get::<Customer>(c.id).unwrap().tags, vec!["first".to_string(), "second".to_string()]);
    // Three changes and the relay's ownership listing of the new customer.
    assert_eq!(w.storage.head_seq(&w.team).unwrap(), 4, "each change is in the log once");
}

#[tokio::test]
async fn a_new_device_pages_through_compacted_snapshots_then_follows_the_log() {
    let w = world();
    let writer = w.phone(Role::Rep);
    let drafts: Vec<NewCustomer> =
        (0..300).map(|i| draft(&format!("客户 {i:03}"), &format!("138{i:08}"))).collect();
    let created = writer.store.create_batch(drafts).unwrap();
    for c in created.iter().take(10) {
        let mut c = c.clone();
        c.tags = vec!["edited".into()];
        writer.store.update(&c).unwrap();
    }
    w.sync(&writer).await;

    let newcomer = w.phone(Role::Supervisor);
    let mut rounds = 0;
    let mut snapshots = 0;
    loop {
        let prepared =
            newcomer.store.prepare_sync(PushLimits { max_response_bytes: 0, ..Default::default() }).unwrap();
        let response = w.relay.sync(&newcomer.scope, prepared.request.clone(), 1).await.unwrap();
        snapshots += response.snapshots.len();
        assert!(response.changes.is_empty() || !response.more || response.snapshots.is_empty());
        let applied = newcomer.store.apply_sync(&prepared, &response).unwrap();
        rounds += 1;
        if !applied.more {
            break;
        }
    }
    // Each customer and its ownership listing.
    assert_eq!(snapshots, 600, "one compacted snapshot per document, no history replay");
    assert!(rounds > 1, "the 64 KiB minimum page forced several pages");
    assert_eq!(newcomer.store.document_count().unwrap(), 600);
    let edited: Customer = newcomer.store.get(created[0].id).unwrap();
    assert_eq!(edited.tags, vec!["edited".to_string()]);

    // Afterwards it follows the log: one more edit arrives as one change.
    let mut c = created[5].clone();
    c.tags = vec!["later".into()];
    writer.store.update(&c).unwrap();
    w.sync(&writer).await;
    let prepared = newcomer.store.prepare_sync(PushLimits::default()).unwrap();
    let response = w.relay.sync(&newcomer.scope, prepared.request.clone(), 1).await.unwrap();
    assert_eq!((response.snapshots.len(), response.changes.len()), (0, 1));
    newcomer.store.apply_sync(&prepared, &response).unwrap();
    assert_eq!(newcomer.store.get::<Customer>(c.id).unwrap().tags, vec!["later".to_string()]);
}

#[tokio::test]
async fn a_push_touching_more_documents_than_the_relay_caches_stores_every_snapshot() {
    // A cache of 4 documents and one push of 40: each document must still be saved (a fresh
    // device pulls snapshots, not the log).
    let w = world_with(RelayLimits { document_cache: 4, ..RelayLimits::default() });
    let writer = w.phone(Role::Rep);
    let drafts: Vec<NewCustomer> =
        (0..40).map(|i| draft(&format!("批量客户 {i:02}"), &format!("139{i:08}"))).collect();
    let created = writer.store.create_batch(drafts).unwrap();
    assert_eq!(w.sync(&writer).await.acknowledged, 40);

    let newcomer = w.phone(Role::Supervisor);
    w.sync(&newcomer).await;
    assert_eq!(
        newcomer.store.document_count().unwrap(),
        80, // and the relay's ownership listing of each
        "every acknowledged document reaches a new device"
    );
    for customer in &created {
        assert_eq!(newcomer.store.get::<Customer>(customer.id).unwrap().company_name, customer.company_name);
    }
}

#[tokio::test]
async fn nothing_changed_means_one_exchange_with_nothing_in_it() {
    let w = world();
    let phone = w.phone(Role::Rep);
    phone.store.create_batch((0..50).map(|i| draft(&format!("c{i}"), "1")).collect()).unwrap();
    w.sync(&phone).await;
    let prepared = phone.store.prepare_sync(PushLimits::default()).unwrap();
    assert!(prepared.request.changes.is_empty());
    let response = w.relay.sync(&phone.scope, prepared.request.clone(), 1).await.unwrap();
    assert!(!response.more && response.changes.is_empty() && response.snapshots.is_empty());
    assert!(prepared.request.encode().len() + response.encode().len() < 64, "no-op exchange bodies are tiny");
}

#[tokio::test]
async fn malformed_changes_and_changes_that_break_a_document_are_refused() {
    let w = world();
    let phone = w.phone(Role::Rep);
    let customer = phone.store.create(draft("好客户", "1")).unwrap();
    w.sync(&phone).await;
    let actor = ActorId::from(&phone.scope.device_id[..]);

    // Garbage bytes.
    let garbage = SyncRequest {
        changes: vec![PushedChange { doc_id: DocId::generate(), bytes: b"\x85\x6f\x4a\x83garbage".to_vec() }],
        ..Default::default()
    };
    let r = w.relay.sync(&phone.scope, garbage, 1).await.unwrap();
    assert_eq!(r.rejected[0].code, RejectCode::MalformedChange);

    // A new document with no kind.
    let mut doc = Automerge::new().with_actor(actor.clone());
    let mut tx = doc.transaction();
    tx.put(ROOT, "hello", "world").unwrap();
    tx.commit();
    let bytes = doc.get_changes(&[]).pop().unwrap().raw_bytes().to_vec();
    let r = w
        .relay
        .sync(
            &phone.scope,
            SyncRequest {
                changes: vec![PushedChange { doc_id: DocId::generate(), bytes }],
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(r.rejected[0].code, RejectCode::InvalidDocument);

    // A change that turns the customer's name into a number.
    let stored = w.storage.load_document(customer.id).unwrap().unwrap();
    let mut doc = Automerge::load(&stored.snapshot).unwrap().with_actor(actor);
    let mut tx = doc.transaction();
    tx.put(ROOT, "company_name", 42_i64).unwrap();
    tx.commit();
    let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let r = w
        .relay
        .sync(
            &phone.scope,
            SyncRequest { changes: vec![PushedChange { doc_id: customer.id, bytes }], ..Default::default() },
            1,
        )
        .await
        .unwrap();
    assert_eq!(r.rejected[0].code, RejectCode::InvalidDocument, "{}", r.rejected[0].message);
    // The customer and its ownership listing.
    assert_eq!(w.storage.head_seq(&w.team).unwrap(), 2, "nothing refused reached the log");
}

#[tokio::test]
async fn only_admins_change_team_rules_and_refused_changes_leave_the_outbox() {
    let w = world();
    let rep = w.phone(Role::Rep);
    rep.store.create(NewTeamRules::default()).unwrap();
    let applied = w.sync(&rep).await;
    assert_eq!((applied.acknowledged, applied.rejected), (0, 1));
    assert_eq!(rep.store.outbox_len().unwrap(), 0, "a permanent refusal does not block later syncs");
    let refused = rep.store.rejected_changes(10).unwrap();
    assert_eq!(refused[0].code, "out_of_scope");

    let admin = w.phone(Role::Admin);
    admin.store.create(NewTeamRules::default()).unwrap();
    assert_eq!(w.sync(&admin).await.acknowledged, 1);
}

fn signature() -> SignatureStrokes {
    let points = [(10.0, 50.0), (40.0, 10.0), (70.0, 55.0), (100.0, 15.0)];
    let stroke = points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| StrokePoint { x, y, t_ms: i as u32 * 10, pressure: 0.5 })
        .collect();
    SignatureStrokes { pad_width: 120.0, pad_height: 60.0, strokes: vec![stroke] }
}

/// Pushes one raw change as `phone`; returns the relay's answer.
async fn push_raw(w: &World, phone: &Phone, doc_id: DocId, bytes: Vec<u8>) -> SyncResponse {
    let request = SyncRequest { changes: vec![PushedChange { doc_id, bytes }], ..Default::default() };
    w.relay.sync(&phone.scope, request, 1).await.unwrap()
}

/// The one change that creates a slip document as `actor` wrote it, bypassing the store.
fn new_slip_change(actor: ActorId, slip: &ServiceSlip) -> Vec<u8> {
    let mut doc = Automerge::new().with_actor(actor);
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "service_slip").unwrap();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    autosurgeon::reconcile(&mut tx, slip).unwrap();
    tx.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[tokio::test]
async fn signed_slips_stay_sealed_on_the_relay_and_bad_signatures_are_flagged() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let customer = rep.store.create(draft("苏州精工机械", "13812345678")).unwrap();
    let visit = rep
        .store
        .create(NewVisit {
            customer_id: customer.id,
            opportunity_id: None,
            planned_at: 1,
            notes: String::new(),
        })
        .unwrap();
    let slip = rep
        .store
        .create(NewServiceSlip {
            visit_id: visit.id,
            items: vec![SlipItem { description: "主轴保养".into(), quantity: 1.0, unit: "次".into() }],
            notes: String::new(),
        })
        .unwrap();
    rep.store
        .sign_slip(slip.id, SlipSignature { signer_name: "王建国".into(), strokes: signature(), fix: None })
        .unwrap();
    assert_eq!(w.sync(&rep).await.rejected, 0);
    assert!(w.storage.document_flags(&w.team, 10).unwrap().is_empty(), "a good signature raises no flag");

    // The supervisor's phone receives the slip and verifies it on its own.
    let supervisor = w.phone(Role::Supervisor);
    w.sync(&supervisor).await;
    assert_eq!(verify_slip(&supervisor.store.get::<ServiceSlip>(slip.id).unwrap()), Ok(()));

    // An edit to the signed slip, made around the store's API, is refused by the relay.
    let actor = ActorId::from(&rep.scope.device_id[..]);
    let mut doc =
        Automerge::load(&rep.store.export_document(slip.id).unwrap()).unwrap().with_actor(actor.clone());
    let mut edited: ServiceSlip = autosurgeon::hydrate(&doc).unwrap();
    edited.items[0].quantity = 10.0;
    let mut tx = doc.transaction();
    autosurgeon::reconcile(&mut tx, &edited).unwrap();
    tx.commit();
    let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let response = push_raw(&w, &rep, slip.id, bytes).await;
    assert_eq!(response.rejected[0].code, RejectCode::Sealed, "{}", response.rejected[0].message);

    // A slip signed with another key under this device's name: stored, so the evidence is
    // kept, and flagged for supervisors.
    let forger = DeviceIdentity::from_secret([9; 32]);
    let mut forged =
        rep.store.create(NewServiceSlip { visit_id: visit.id, items: vec![], notes: "伪造".into() }).unwrap();
    forged.signer_name = Some("王建国".into());
    forged.strokes_sha256 = Some("00".repeat(32));
    forged.signature_png_sha256 = Some("11".repeat(32));
    forged.signed_at = Some(2);
    seal_slip(&mut forged, &forger).unwrap();
    forged.signed_by = Some(rep.store.device_id());
    let forged_id = DocId::generate();
    let response = push_raw(&w, &rep, forged_id, new_slip_change(actor, &forged)).await;
    assert_eq!((response.accepted, response.rejected.len()), (1, 0));
    let flags = w.storage.document_flags(&w.team, 10).unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].doc_id, forged_id);
    assert_eq!(flags[0].code, "slip_signature_invalid");
    assert!(flags[0].message.contains("public key belongs to device"), "{}", flags[0].message);

    // A slip that verifies but was signed by another enrolled device than the one pushing it.
    let other = w.phone(Role::Rep);
    let other_actor = ActorId::from(&other.scope.device_id[..]);
    let mut foreign = forged.clone();
    seal_slip(&mut foreign, rep.store.identity()).unwrap();
    assert_eq!(verify_slip(&foreign), Ok(()));
    let foreign_id = DocId::generate();
    assert_eq!(push_raw(&w, &other, foreign_id, new_slip_change(other_actor, &foreign)).await.accepted, 1);
    let flags = w.storage.document_flags(&w.team, 10).unwrap();
    assert_eq!(flags[0].doc_id, foreign_id, "newest first");
    assert_eq!(flags[0].code, "slip_signed_by_other_device");
}

/// What every device and the relay must agree on after identity resolution: each customer's
/// canonical record, and the canonical record's data.
/// `(id, merged_into, sorted phones, sorted tags)`.
type Resolved = (DocId, Option<DocId>, Vec<String>, Vec<String>);

fn resolved(store: &Store, ids: &[DocId]) -> Vec<Resolved> {
    ids.iter()
        .map(|&id| {
            let c: Customer = store.get(id).unwrap();
            let mut phones = c.phones.clone();
            phones.sort();
            let mut tags = c.tags.clone();
            tags.sort();
            (id, c.merged_into, phones, tags)
        })
        .collect()
}

#[tokio::test]
async fn two_reps_creating_the_same_customer_offline_end_with_one_whatever_the_sync_order() {
    // Orders of (rep A pushes, rep B pushes), then everyone pulls until quiet.
    for order in [[0usize, 1], [1, 0]] {
        let w = world();
        let reps = [w.phone(Role::Rep), w.phone(Role::Rep)];
        let supervisor = w.phone(Role::Supervisor);
        // Offline, the same morning: A first (older), B an hour later, with another number and tag.
        let a = reps[0]
            .store
            .create(NewCustomer {
                company_name: "苏州精工机械有限公司".into(),
                phones: vec!["13812345678".into()],
                tags: vec!["机床".into()],
                address: Some("苏州工业园区星湖街 88 号".into()),
                ..Default::default()
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = reps[1]
            .store
            .create(NewCustomer {
                company_name: "苏州精工机械".into(),
                phones: vec!["+86 138-1234-5678".into(), "0512-62345678".into()],
                tags: vec!["老客户".into()],
                address: Some("苏州市吴中区".into()),
                ..Default::default()
            })
            .unwrap();
        // A visit made against B's record before anyone knew.
        let visit = reps[1]
            .store
            .create(NewVisit { customer_id: b.id, opportunity_id: None, planned_at: 1, notes: String::new() })
            .unwrap();
        for i in order {
            w.sync(&reps[i]).await;
        }
        for phone in reps.iter().chain([&supervisor]) {
            w.sync(phone).await;
        }

        let ids = [a.id, b.id];
        let expected = resolved(&supervisor.store, &ids);
        assert_eq!(expected[0].1, None, "order {order:?}: the older record stays canonical");
        assert_eq!(expected[1].1, Some(a.id), "order {order:?}: the newer one points at it");
        assert_eq!(
            expected[0].2,
            ["0512-62345678", "13812345678"],
            "order {order:?}: phones united, one entry per number"
        );
        assert_eq!(expected[0].3, vec!["机床".to_string(), "老客户".into()], "order {order:?}: tags united");
        // Each rep holds its own record and agrees on it; rep A (whose record stayed, and who
        // followed neither up before) keeps the customer; rep B's record redirects to it, and B
        // sees A's customer as a listing owned by A (docs/ownership.md).
        assert_eq!(resolved(&reps[0].store, &ids[..1]), expected[..1], "order {order:?}");
        assert_eq!(resolved(&reps[1].store, &ids[1..]), expected[1..], "order {order:?}");
        assert_eq!(reps[1].store.find::<Customer>(a.id).unwrap(), None, "order {order:?}");
        let listing = reps[1].store.ownership(a.id).unwrap().expect("A's listing");
        assert_eq!(listing.owner_user_id.as_deref(), Some(reps[0].scope.user_id.as_str()), "order {order:?}");
        let gone = reps[1].store.ownership(b.id).unwrap().expect("B's listing");
        assert_eq!((gone.merged_into, gone.reason.as_str()), (Some(a.id), "merged"), "order {order:?}");
        let canonical: Customer = supervisor.store.get(a.id).unwrap();
        assert_eq!(
            canonical.address.as_deref(),
            Some("苏州工业园区星湖街 88 号"),
            "the canonical scalar is kept"
        );
        let conflicts = w.storage.merge_conflicts(&w.team, 10).unwrap();
        assert_eq!(conflicts.len(), 1, "order {order:?}: {conflicts:?}");
        assert_eq!((conflicts[0].field.as_str(), conflicts[0].other.as_str()), ("address", "苏州市吴中区"));
        // The visit still names B's record and resolves through the redirect.
        let visit: fieldsync_core::model::Visit = supervisor.store.get(visit.id).unwrap();
        assert_eq!(visit.customer_id, b.id);
        assert_eq!(supervisor.store.resolve_customer(visit.customer_id).unwrap().id, a.id);
        // Searches find the one surviving customer.
        let found = supervisor.store.customers_by_name_prefix("苏州精工", 10).unwrap();
        assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a.id], "order {order:?}");
        // Nothing left to do: another round changes nothing.
        for phone in reps.iter().chain([&supervisor]) {
            assert_eq!(w.sync(phone).await.documents_changed, 0, "order {order:?}: settled");
        }
    }
}

#[tokio::test]
async fn possible_duplicates_wait_for_a_supervisor_whose_answer_is_remembered() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let supervisor = w.phone(Role::Supervisor);
    // Same name, no shared phone: possible, not sure.
    let a = rep.store.create(draft("无锡华光电子科技有限公司", "13900001111")).unwrap();
    let b = rep.store.create(draft("无锡华光电子科技", "13900002222")).unwrap();
    // A hard negative: same region and industry word, different company; never queued.
    rep.store.create(draft("无锡华光模具有限公司", "13900003333")).unwrap();
    w.sync(&rep).await;
    let pending = w.storage.pairs(&w.team, PairStatus::Pending, 10).unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let (lo, hi) = if a.id < b.id { (a.id, b.id) } else { (b.id, a.id) };
    assert_eq!((pending[0].a, pending[0].b), (lo, hi));
    assert_eq!(pending[0].reasons, "same name", "reasons read as words, not Rust debug output");

    // The supervisor says they are different: remembered, and an edit does not re-queue them.
    w.relay.decide_pair(&supervisor.scope, b.id, a.id, ReviewDecision::NotSame).await.unwrap();
    assert!(w.storage.pairs(&w.team, PairStatus::Pending, 10).unwrap().is_empty());
    let mut edited: Customer = rep.store.get(b.id).unwrap();
    edited.tags.push("重点".into());
    rep.store.update(&edited).unwrap();
    w.sync(&rep).await;
    assert!(w.storage.pairs(&w.team, PairStatus::Pending, 10).unwrap().is_empty());
    assert_eq!(w.storage.pairs(&w.team, PairStatus::NotSame, 10).unwrap().len(), 1);

    // Another pair, merged by the supervisor: the devices receive the merge.
    let c = rep.store.create(draft("常州恒达轴承", "13900004444")).unwrap();
    let d = rep.store.create(draft("常州恒达轴承有限公司", "13900005555")).unwrap();
    w.sync(&rep).await;
    w.relay.decide_pair(&supervisor.scope, c.id, d.id, ReviewDecision::Merge).await.unwrap();
    w.sync(&rep).await;
    let merged: Customer = rep.store.get(d.id).unwrap();
    assert_eq!(merged.merged_into, Some(c.id));
    let canonical: Customer = rep.store.get(c.id).unwrap();
    assert_eq!(canonical.phones, vec!["13900004444".to_string(), "13900005555".into()]);

    // Bad decisions: an id that is not a customer of the team.
    let err = w.relay.decide_pair(&supervisor.scope, c.id, DocId::generate(), ReviewDecision::Merge).await;
    assert!(matches!(err, Err(RelayError::NoSuchPair(_))), "{err:?}");
}

#[tokio::test]
async fn a_park_switchboard_many_companies_list_neither_merges_nor_floods_the_review_queue() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let switchboard = "0512-6266 0000";
    let park = [
        "苏州恒润精密模具",
        "苏州天成塑胶制品",
        "苏州华宇电子",
        "苏州金达五金",
        "苏州瑞丰包装",
        "苏州博远自动化",
        "苏州新宏泵业",
        "苏州立信阀门",
    ];
    let mut ids = Vec::new();
    for name in park {
        ids.push(rep.store.create(draft(name, switchboard)).unwrap().id);
        w.sync(&rep).await;
    }
    let pending = w.storage.pairs(&w.team, PairStatus::Pending, 100).unwrap();
    // The first few companies meet before the number is known to be shared: at most the pairs
    // among the first three (3), never one per pair of the park (28).
    assert!(pending.len() <= 3, "{} pairs queued: {pending:?}", pending.len());
    let later = w.storage.pairs(&w.team, PairStatus::Pending, 100).unwrap();
    for name in ["苏州凯丰注塑", "苏州德诚涂料"] {
        ids.push(rep.store.create(draft(name, switchboard)).unwrap().id);
        w.sync(&rep).await;
    }
    assert_eq!(
        w.storage.pairs(&w.team, PairStatus::Pending, 100).unwrap(),
        later,
        "no new pair once it is common"
    );
    // Nothing was merged: every company is its own customer.
    for id in ids {
        assert_eq!(rep.store.get::<Customer>(id).unwrap().merged_into, None);
    }
}
