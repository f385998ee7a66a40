//! Customer ownership and the public pool (issue 13, docs/ownership.md) through the real relay
//! engine, real SQLite and real phone stores on fake clocks, in one process. The end-to-end suite
//! runs the same rules against a relay process over HTTP.

use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT};
use fieldsync_core::funnel::DAY_MS;
use fieldsync_core::model::{
    Activity, ActivityType, ClaimRefusal, Customer, LeadCard, NewActivity, NewCustomer, NewLeadCard,
    NewOpportunity, NewTeamRules, Opportunity, Ownership, Stage, ownership_id,
};
use fieldsync_core::store::{ReminderKind, StoreError, StoreOptions};
use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest, SyncResponse};
use fieldsync_core::{DocId, ManualClock, Store};
use fieldsync_server::metrics::Metrics;
use fieldsync_server::relay::{Relay, RelayError, RelayLimits};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, RelayStorage, Role};
use tempfile::TempDir;

const T0: i64 = 1_800_000_000_000;

struct World {
    _dir: TempDir,
    relay: Relay,
    storage: Arc<SqliteStorage>,
    clock: Arc<ManualClock>,
    tenant: String,
    team: String,
}

struct Phone {
    store: Store,
    clock: Arc<ManualClock>,
    scope: DeviceScope,
    _dir: TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let tenant = storage.create_tenant("Acme", 0).unwrap();
    let team = storage.create_team(&tenant, "East", 0).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let relay = Relay::start_with_clock(
        storage.clone(),
        RelayLimits::default(),
        Arc::new(Metrics::default()),
        clock.clone(),
    )
    .unwrap();
    World { _dir: dir, relay, storage, clock, tenant, team }
}

impl World {
    fn phone(&self, role: Role, name: &str) -> Phone {
        self.phone_in(&self.tenant.clone(), &self.team.clone(), role, name)
    }

    fn phone_in(&self, tenant: &str, team: &str, role: Role, name: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store =
            Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })
                .unwrap();
        let user = self.storage.create_user(team, name, role, 0).unwrap();
        store.set_user(&user, role.as_str()).unwrap();
        let scope = DeviceScope {
            device_id: *store.device_id().as_bytes(),
            user_id: user,
            role,
            tenant_id: tenant.to_owned(),
            team_id: team.to_owned(),
        };
        Phone { store, clock, scope, _dir: dir }
    }

    /// Syncs until quiet, then fetches what the phone marked to fetch (a customer it was given,
    /// then the follow-ups and lead cards about it), as the sync client does over
    /// `GET /v1/documents/{id}` and `GET /v1/customers/{id}/documents`, with those endpoints' rule.
    async fn sync(&self, phone: &Phone) {
        for _ in 0..100 {
            let prepared = phone.store.prepare_sync(Default::default()).unwrap();
            let response = self.relay.sync(&phone.scope, prepared.request.clone(), 1).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            if !applied.more && phone.store.outbox_len().unwrap() == 0 {
                for _round in 0..2 {
                    let mut gained = Vec::new();
                    for doc in phone.store.documents_to_repair(5).unwrap() {
                        if let (true, Some(stored)) = (
                            self.may_pull(phone, doc.doc_id),
                            self.storage.load_document(doc.doc_id).unwrap(),
                        ) {
                            assert_eq!(
                                phone.store.repair_document(doc.doc_id, &stored.snapshot).unwrap(),
                                None
                            );
                            if phone.store.ownership(doc.doc_id).unwrap().is_some_and(|o| o.mine) {
                                gained.push(doc.doc_id);
                            }
                        }
                    }
                    for customer in gained {
                        let ids = self.storage.customer_documents(customer, None, 1000).unwrap();
                        phone.store.mark_for_repair(&ids, "gained").unwrap();
                    }
                }
                return;
            }
        }
        panic!("sync did not settle");
    }

    fn may_pull(&self, phone: &Phone, doc: DocId) -> bool {
        phone.scope.role != Role::Rep || self.storage.rep_may_pull(doc, &phone.scope.user_id).unwrap()
    }

    async fn push_raw(&self, phone: &Phone, doc_id: DocId, bytes: Vec<u8>) -> SyncResponse {
        let request = SyncRequest { changes: vec![PushedChange { doc_id, bytes }], ..Default::default() };
        self.relay.sync(&phone.scope, request, 1).await.unwrap()
    }

    fn owner(&self, customer: DocId) -> Option<String> {
        self.storage.owner_row(customer).unwrap().and_then(|r| r.owner_user_id)
    }

    fn listing(&self, customer: DocId) -> Ownership {
        let stored = self.storage.load_document(ownership_id(customer)).unwrap().expect("a listing");
        fieldsync_core::model::read_record(&Automerge::load(&stored.snapshot).unwrap()).unwrap()
    }
}

fn days(n: f64) -> i64 {
    (n * DAY_MS as f64) as i64
}

fn customer(name: &str, phone: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec![phone.into()], ..Default::default() }
}

fn refusal(result: Result<impl std::fmt::Debug, StoreError>) -> ClaimRefusal {
    match result {
        Err(StoreError::ClaimRefused { code, .. }) => code,
        other => panic!("expected a refused claim, got {other:?}"),
    }
}

/// Rep A creates a customer and releases it: it is in the pool for the whole team.
async fn pool_customer(w: &World, a: &Phone) -> Customer {
    let c = a.store.create(customer("昆山宏达精密模具有限公司", "0512-57771234")).unwrap();
    w.sync(a).await;
    assert_eq!(w.owner(c.id).as_deref(), Some(a.scope.user_id.as_str()), "its creator owns it");
    a.store.release_customer(c.id).unwrap();
    w.sync(a).await;
    assert_eq!(w.owner(c.id), None, "released to the pool");
    c
}

#[tokio::test]
async fn two_reps_claiming_the_same_pool_customer_offline_get_one_owner_and_the_loser_learns_why() {
    let w = world();
    let (a, b, c) = (w.phone(Role::Rep, "王磊"), w.phone(Role::Rep, "李娜"), w.phone(Role::Rep, "张伟"));
    let supervisor = w.phone(Role::Supervisor, "赵主管");
    let pooled = pool_customer(&w, &a).await;
    for phone in [&b, &c] {
        w.sync(phone).await;
        let pool = phone.store.pool_customers(None, 100).unwrap();
        assert_eq!(pool.iter().map(|p| p.customer_id).collect::<Vec<_>>(), vec![pooled.id]);
        assert_eq!(pool[0].company_name, "昆山宏达精密模具有限公司");
        let listed = phone.store.listed_customers("昆山宏达", 10).unwrap();
        assert_eq!(listed.iter().map(|p| p.customer_id).collect::<Vec<_>>(), vec![pooled.id]);
        assert!(phone.store.listed_customers("昆山宏达精密模具有限公司X", 10).unwrap().is_empty());
        // In the pool, the team sees that it exists, not its contacts: no record on the phone.
        assert_eq!(phone.store.find::<Customer>(pooled.id).unwrap(), None);
    }
    // Both claim offline; C reaches the relay first.
    let claim_b = b.store.claim_customer(pooled.id).unwrap();
    let claim_c = c.store.claim_customer(pooled.id).unwrap();
    assert_eq!(
        b.store.claim_customer(pooled.id).unwrap().id,
        claim_b.id,
        "a waiting claim is not made twice"
    );
    w.sync(&c).await;
    w.sync(&b).await;
    assert_eq!(w.owner(pooled.id).as_deref(), Some(c.scope.user_id.as_str()), "exactly one owner: the first");

    let won = c.store.claims(10).unwrap();
    assert_eq!((won[0].id, won[0].decision.as_ref().map(|d| d.0)), (claim_c.id, Some(true)));
    let lost = b.store.claims(10).unwrap();
    let (granted, code, message, _) = lost[0].decision.clone().expect("B's phone learnt the decision");
    assert!(!granted);
    assert_eq!(code, "owned_by_other");
    assert!(message.contains("张伟"), "{message}");
    // C now holds the record with its contacts; B does not, and the listing says who owns it.
    assert_eq!(c.store.get::<Customer>(pooled.id).unwrap().phones, vec!["0512-57771234".to_string()]);
    assert!(c.store.ownership(pooled.id).unwrap().unwrap().mine);
    assert_eq!(b.store.find::<Customer>(pooled.id).unwrap(), None);
    assert_eq!(b.store.ownership(pooled.id).unwrap().unwrap().owner_name.as_deref(), Some("张伟"));
    assert_eq!(refusal(b.store.claim_customer(pooled.id)), ClaimRefusal::OwnedByOther);
    // A released it: the cooldown holds on A's phone (offline) and on the relay.
    w.sync(&a).await;
    assert_eq!(refusal(a.store.claim_customer(pooled.id)), ClaimRefusal::OwnedByOther);
    let listing = w.listing(pooled.id);
    assert!(listing.cooldown_for(&a.scope.user_id, T0 + days(1.0)).is_some(), "{listing:?}");
    let reasons: Vec<&str> = listing.history.iter().map(|h| h.reason.as_str()).collect();
    assert_eq!(reasons, ["created", "released", "claimed"], "history kept");
    // The supervisor sees it whole.
    w.sync(&supervisor).await;
    supervisor.store.get::<Customer>(pooled.id).unwrap();
}

#[tokio::test]
async fn a_customer_without_an_effective_follow_up_returns_to_the_pool_at_the_tick_once() {
    let w = world();
    let rep = w.phone(Role::Rep, "王磊");
    let quiet = rep.store.create(customer("常州恒达轴承有限公司", "0519-86661234")).unwrap();
    let followed = rep.store.create(customer("无锡华光电子科技有限公司", "0510-82221234")).unwrap();
    w.sync(&rep).await;
    // Day 20: a call that only dialled does not count; one with what was said does.
    rep.clock.set(T0 + days(20.0));
    w.clock.set(T0 + days(20.0));
    let call = rep.store.start_call(followed.id, "0510-82221234".into(), None).unwrap();
    rep.store.start_call(quiet.id, "0519-86661234".into(), None).unwrap();
    rep.store
        .finish_activity(
            call.id,
            fieldsync_core::store::ActivityResult {
                duration_s: Some(180),
                outcome: Some("接通".into()),
                summary: "确认下月试样".into(),
                next_action: None,
            },
        )
        .unwrap();
    w.sync(&rep).await;

    // Day 27.5: the phone warns, offline, about the quiet one (returns on day 30, 3 days' notice).
    let warnings = rep.store.pool_warnings(T0 + days(27.5)).unwrap();
    assert_eq!(
        warnings.iter().map(|w| (w.customer_id, w.returns_at)).collect::<Vec<_>>(),
        [(quiet.id, T0 + days(30.0))]
    );
    assert!(rep.store.pool_warnings(T0 + days(26.0)).unwrap().is_empty());
    // The same warning is on the to-do and, from day 27, in the reminders the app schedules.
    let todo = rep.store.follow_up_todo(T0 + days(27.5), T0 + days(28.0)).unwrap();
    assert_eq!(todo.returning_to_pool, warnings);
    let reminders = rep.store.due_reminders(&rep.scope.user_id, T0 + days(20.0), T0 + days(27.0)).unwrap();
    let pool: Vec<_> = reminders
        .iter()
        .filter_map(|r| match r.kind {
            ReminderKind::PoolReturn { returns_at } => {
                Some((r.customer_id, r.due_at, returns_at, r.what.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pool, [(quiet.id, T0 + days(27.0), T0 + days(30.0), "常州恒达轴承有限公司")]);
    let early = rep.store.due_reminders(&rep.scope.user_id, T0 + days(20.0), T0 + days(26.9)).unwrap();
    assert!(early.iter().all(|r| !matches!(r.kind, ReminderKind::PoolReturn { .. })), "{early:?}");

    // The rep is offline; the relay's tick returns the quiet one at day 30, not before.
    let report = w.relay.tick(T0 + days(29.9), 1000).await.unwrap();
    assert_eq!((report.pool_examined, report.returned_to_pool), (0, 0), "{report:?}");
    w.clock.set(T0 + days(30.0));
    let report = w.relay.tick(T0 + days(30.0), 1000).await.unwrap();
    assert_eq!((report.pool_examined, report.returned_to_pool), (1, 1), "{report:?}");
    assert_eq!(w.owner(quiet.id), None);
    assert_eq!(w.owner(followed.id).as_deref(), Some(rep.scope.user_id.as_str()));
    let again = w.relay.tick(T0 + days(31.0), 1000).await.unwrap();
    assert_eq!((again.pool_examined, again.returned_to_pool), (0, 0), "idempotent: nothing due twice");
    // The followed one returns 30 days after its follow-up.
    w.clock.set(T0 + days(50.0));
    assert_eq!(w.relay.tick(T0 + days(50.0), 1000).await.unwrap().returned_to_pool, 1);

    // The owner's phone learns it on its next sync; an edit is refused on the phone and, forced
    // through, by the relay.
    rep.clock.set(T0 + days(50.0));
    w.sync(&rep).await;
    let view = rep.store.ownership(quiet.id).unwrap().unwrap();
    assert_eq!((view.owner_user_id.clone(), view.reason.as_str()), (None, "returned_to_pool"));
    let mut edit: Customer = rep.store.get(quiet.id).unwrap();
    edit.tags.push("重点".into());
    assert_eq!(refusal(rep.store.update(&edit)), ClaimRefusal::NotOwner);
    let stored = w.storage.load_document(quiet.id).unwrap().unwrap();
    let mut doc =
        Automerge::load(&stored.snapshot).unwrap().with_actor(ActorId::from(&rep.scope.device_id[..]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "address", "改过的地址").unwrap();
    tx.commit();
    let response =
        w.push_raw(&rep, quiet.id, doc.get_last_local_change().unwrap().raw_bytes().to_vec()).await;
    assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
    assert!(response.rejected[0].message.contains("pool"), "{}", response.rejected[0].message);
    // And the rep lost it: the cooldown keeps them from claiming it straight back.
    assert_eq!(refusal(rep.store.claim_customer(quiet.id)), ClaimRefusal::Cooldown);
}

#[tokio::test]
async fn the_limit_a_forged_decision_and_a_written_owner_are_refused_and_change_nothing() {
    let w = world();
    let admin = w.phone(Role::Admin, "管理员");
    let a = w.phone(Role::Rep, "王磊");
    let b = w.phone(Role::Rep, "李娜");
    let first = pool_customer(&w, &a).await;
    let second = a.store.create(customer("苏州精工机械有限公司", "0512-62345678")).unwrap();
    w.sync(&a).await;
    a.store.release_customer(second.id).unwrap();
    w.sync(&a).await;
    let own = b.store.create(customer("南通远洋船舶配件厂", "0513-85551234")).unwrap();
    w.sync(&b).await;
    // The admin lowers the limit to 2; B's phone has not heard yet, so it claims both.
    admin.store.create(NewTeamRules { max_owned_customers: 2, ..NewTeamRules::default() }).unwrap();
    w.sync(&admin).await;
    b.store.claim_customer(first.id).unwrap();
    b.store.claim_customer(second.id).unwrap();
    w.sync(&b).await;
    assert_eq!(w.owner(first.id).as_deref(), Some(b.scope.user_id.as_str()));
    assert_eq!(w.owner(second.id), None, "beyond the limit: refused by the relay");
    let decisions = b.store.claims(10).unwrap();
    let refused = decisions.iter().find(|d| d.customer_id == second.id).unwrap();
    assert_eq!(refused.decision.as_ref().map(|d| d.1.as_str()), Some("limit_reached"));
    // Now the phone knows the rules and refuses offline.
    assert_eq!(refusal(b.store.claim_customer(second.id)), ClaimRefusal::LimitReached);
    assert_eq!(refusal(b.store.claim_customer(own.id)), ClaimRefusal::AlreadyOwner);
    assert_eq!(refusal(b.store.release_customer(DocId::generate())), ClaimRefusal::NotOwner);

    let head = w.storage.head_seq(&w.team).unwrap();
    // A device writing an ownership document (making itself the owner) is refused.
    let mut forged = w.listing(second.id);
    forged.owner_user_id = Some(b.scope.user_id.clone());
    let mut doc = Automerge::new().with_actor(ActorId::from(&b.scope.device_id[..]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "ownership").unwrap();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    fieldsync_core::model::write_record(&mut tx, &forged).unwrap();
    tx.commit();
    let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let response = w.push_raw(&b, DocId::generate(), bytes.clone()).await;
    assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
    // Nor may it edit the relay's listing to name itself.
    let stored = w.storage.load_document(forged.id).unwrap().unwrap();
    let mut doc =
        Automerge::load(&stored.snapshot).unwrap().with_actor(ActorId::from(&b.scope.device_id[..]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "owner_user_id", b.scope.user_id.as_str()).unwrap();
    tx.commit();
    let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let response = w.push_raw(&b, forged.id, bytes).await;
    assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
    // A claim that arrives already granted is refused.
    let mut doc = Automerge::new().with_actor(ActorId::from(&b.scope.device_id[..]));
    let claim = fieldsync_core::model::ClaimRequest {
        id: DocId::generate(),
        customer_id: second.id,
        action: fieldsync_core::model::ClaimAction::Claim,
        requested_at: T0,
        decision: Some(fieldsync_core::model::ClaimDecision {
            granted: true,
            code: "granted".into(),
            message: String::new(),
            owner_user_id: Some(b.scope.user_id.clone()),
            at: T0,
        }),
        provenance: fieldsync_core::model::Provenance { created_at: T0, created_by: b.store.device_id() },
    };
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "claim").unwrap();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    fieldsync_core::model::write_record(&mut tx, &claim).unwrap();
    tx.commit();
    let response = w.push_raw(&b, claim.id, doc.get_last_local_change().unwrap().raw_bytes().to_vec()).await;
    assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
    assert!(response.rejected[0].message.contains("relay only"), "{}", response.rejected[0].message);
    assert_eq!(w.storage.head_seq(&w.team).unwrap(), head, "nothing refused reached the log");
    assert_eq!(w.owner(second.id), None);
    // And the phone's own API refuses to write a decision or an ownership record.
    let mut mine = b.store.claims(10).unwrap();
    let mut record: fieldsync_core::model::ClaimRequest = b.store.get(mine.remove(0).id).unwrap();
    record.decision = None;
    assert!(matches!(b.store.update(&record), Err(StoreError::RelayOnly { .. })));
    let listing: Ownership = b.store.get(ownership_id(first.id)).unwrap();
    assert!(matches!(b.store.update(&listing), Err(StoreError::RelayOnly { .. })));
}

#[tokio::test]
async fn an_admin_moves_a_leaving_reps_customers_and_open_deals_in_one_step() {
    let w = world();
    let admin = w.phone(Role::Admin, "管理员");
    let leaving = w.phone(Role::Rep, "王磊");
    let taking = w.phone(Role::Rep, "李娜");
    let customers: Vec<Customer> = (0..3)
        .map(|i| {
            leaving
                .store
                .create(customer(&format!("客户 {i} 机械有限公司"), &format!("1380000000{i}")))
                .unwrap()
        })
        .collect();
    let deal = |stage| NewOpportunity {
        customer_id: customers[0].id,
        owner: leaving.scope.user_id.clone(),
        title: "注塑机 2 台".into(),
        stage,
        amount: None,
        expected_close_at: None,
        next_action_due_at: None,
    };
    let open = leaving.store.create(deal(Stage::FirstContact)).unwrap();
    w.sync(&leaving).await;

    // Refused: the same user twice, a user of another tenant.
    let rival_tenant = w.storage.create_tenant("Rival", 0).unwrap();
    let rival_team = w.storage.create_team(&rival_tenant, "R", 0).unwrap();
    let outsider = w.phone_in(&rival_tenant, &rival_team, Role::Rep, "外人");
    let head = w.storage.head_seq(&w.team).unwrap();
    for to in [&leaving.scope.user_id, &outsider.scope.user_id, &"no-such-user".to_string()] {
        let err = w.relay.transfer(&admin.scope, &leaving.scope.user_id, to).await;
        assert!(matches!(err, Err(RelayError::Transfer(_))), "{err:?}");
    }
    assert_eq!(w.storage.head_seq(&w.team).unwrap(), head, "a refused transfer changes nothing");

    let report = w.relay.transfer(&admin.scope, &leaving.scope.user_id, &taking.scope.user_id).await.unwrap();
    assert_eq!((report.customers, report.deals), (3, 1));
    for c in &customers {
        assert_eq!(w.owner(c.id).as_deref(), Some(taking.scope.user_id.as_str()));
        let reasons: Vec<&str> = w.listing(c.id).history.iter().map(|h| h.reason.as_str()).collect();
        assert_eq!(reasons, ["created", "transferred"], "history kept");
    }
    w.sync(&taking).await;
    assert_eq!(taking.store.my_customers().unwrap().len(), 3);
    assert_eq!(taking.store.get::<Customer>(customers[1].id).unwrap().company_name, "客户 1 机械有限公司");
    assert_eq!(taking.store.get::<Opportunity>(open.id).unwrap().owner, taking.scope.user_id);
    w.sync(&leaving).await;
    assert!(leaving.store.my_customers().unwrap().is_empty());
    // Running it again finds nothing left to move.
    let again = w.relay.transfer(&admin.scope, &leaving.scope.user_id, &taking.scope.user_id).await.unwrap();
    assert_eq!((again.customers, again.deals), (0, 0));
}

#[tokio::test]
async fn merging_two_owned_customers_keeps_the_owner_who_followed_up_first_and_loses_nothing() {
    let w = world();
    let (a, b) = (w.phone(Role::Rep, "王磊"), w.phone(Role::Rep, "李娜"));
    let supervisor = w.phone(Role::Supervisor, "赵主管");
    // A enters the company first but never follows up; B enters it later, offline, and calls.
    let older = a.store.create(customer("苏州精工机械有限公司", "13812345678")).unwrap();
    w.sync(&a).await;
    b.clock.set(T0 + days(1.0));
    w.clock.set(T0 + days(1.0));
    let newer = b.store.create(customer("苏州精工机械", "+86 138-1234-5678")).unwrap();
    let deal = b
        .store
        .create(NewOpportunity {
            customer_id: newer.id,
            owner: b.scope.user_id.clone(),
            title: "数控车床".into(),
            stage: Stage::FirstContact,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    let activity = b
        .store
        .log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id: newer.id,
            opportunity_id: Some(deal.id),
            visit_id: None,
            contact: None,
            phone: None,
            at: T0 + days(1.0),
            duration_s: Some(60),
            summary: "客户要报价".into(),
            outcome: None,
            next_action: None,
        })
        .unwrap();
    w.sync(&b).await;
    w.sync(&a).await;
    w.sync(&supervisor).await;

    // The older record stays canonical; B's follow-up came first, so B owns it.
    let merged: Customer = supervisor.store.get(newer.id).unwrap();
    assert_eq!(merged.merged_into, Some(older.id));
    assert_eq!(w.owner(older.id).as_deref(), Some(b.scope.user_id.as_str()));
    // A is told: the listing of its record says B owns it now, since the merge.
    let told = a.store.ownership(older.id).unwrap().unwrap();
    assert_eq!((told.owner_name.as_deref(), told.reason.as_str()), (Some("李娜"), "merged"));
    // B receives the canonical record; nothing is orphaned: B's deal and call resolve to it.
    assert_eq!(b.store.get::<Customer>(older.id).unwrap().id, older.id);
    let call: fieldsync_core::model::Activity = supervisor.store.get(activity.id).unwrap();
    assert_eq!(supervisor.store.resolve_customer(call.customer_id).unwrap().id, older.id);
    let d: Opportunity = supervisor.store.get(deal.id).unwrap();
    assert_eq!(supervisor.store.resolve_customer(d.customer_id).unwrap().id, older.id);
    // Counts: B owns one customer (the merged-away record counts for nobody), A none.
    assert_eq!(w.storage.owned_count(&w.team, &b.scope.user_id).unwrap(), 1);
    assert_eq!(w.storage.owned_count(&w.team, &a.scope.user_id).unwrap(), 0);
}

#[tokio::test]
async fn another_reps_customers_follow_ups_and_cards_with_their_contacts_reach_a_rep_only_with_the_customer()
{
    let w = world();
    let (a, b) = (w.phone(Role::Rep, "王磊"), w.phone(Role::Rep, "李娜"));
    let supervisor = w.phone(Role::Supervisor, "赵主管");
    let theirs = a.store.create(customer("昆山宏达精密模具有限公司", "0512-57771234")).unwrap();
    let call = a.store.start_call(theirs.id, "139 1234 5678".into(), Some("陈经理".into())).unwrap();
    let card = a
        .store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:陈立;TEL:13912345678;;".into(),
            format: "mecard".into(),
            name: Some("陈立".into()),
            phones: vec!["13912345678".into()],
            customer_id: Some(theirs.id),
            ..Default::default()
        })
        .unwrap();
    let bare = a
        .store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:刘洋;TEL:13700001111;;".into(),
            format: "mecard".into(),
            name: Some("刘洋".into()),
            ..Default::default()
        })
        .unwrap();
    w.sync(&a).await;
    w.sync(&b).await;
    w.sync(&supervisor).await;

    // B sees that the customer exists and who owns it, but not the numbers, wherever they are.
    assert_eq!(b.store.ownership(theirs.id).unwrap().unwrap().owner_name.as_deref(), Some("王磊"));
    assert_eq!(b.store.find::<Customer>(theirs.id).unwrap(), None);
    assert_eq!(b.store.find::<Activity>(call.id).unwrap(), None, "the call names 陈经理 and his number");
    assert_eq!(b.store.find::<LeadCard>(card.id).unwrap(), None, "the card is his");
    b.store.get::<LeadCard>(bare.id).unwrap(); // a card linked to no customer is the team's
    assert!(!w.storage.rep_may_pull(call.id, &b.scope.user_id).unwrap(), "GET /v1/documents refuses it too");
    assert!(w.storage.rep_may_pull(call.id, &a.scope.user_id).unwrap());
    // The supervisor sees everything.
    supervisor.store.get::<Activity>(call.id).unwrap();
    supervisor.store.get::<LeadCard>(card.id).unwrap();
    // Later changes to them stay hidden from B too.
    a.store
        .finish_activity(
            call.id,
            fieldsync_core::store::ActivityResult {
                duration_s: Some(120),
                outcome: None,
                summary: "确认下月打样".into(),
                next_action: None,
            },
        )
        .unwrap();
    w.sync(&a).await;
    w.sync(&b).await;
    assert_eq!(b.store.find::<Activity>(call.id).unwrap(), None);

    // A releases it and B claims it: B's phone fetches the record, the call and the card.
    a.store.release_customer(theirs.id).unwrap();
    w.sync(&a).await;
    w.sync(&b).await;
    assert_eq!(b.store.find::<Activity>(call.id).unwrap(), None, "in the pool: still hidden");
    b.store.claim_customer(theirs.id).unwrap();
    w.sync(&b).await;
    assert!(b.store.ownership(theirs.id).unwrap().unwrap().mine);
    assert_eq!(b.store.get::<Activity>(call.id).unwrap().summary, "确认下月打样");
    assert_eq!(b.store.get::<LeadCard>(card.id).unwrap().phones, vec!["13912345678".to_string()]);
    let ids = w.storage.customer_documents(theirs.id, None, 10).unwrap();
    let mut expected = vec![call.id, card.id];
    expected.sort();
    assert_eq!(ids, expected, "the listing names exactly the customer's follow-ups and cards");

    // B calls again and corrects the number; A, whose copy stopped at the release, is given the
    // customer back by an admin: A's phone fetches the record and the new call, not a stale copy.
    let second_call = b.store.start_call(theirs.id, "0512-57779999".into(), Some("周总".into())).unwrap();
    let mut record = b.store.get::<Customer>(theirs.id).unwrap();
    record.phones = vec!["0512-57779999".into()];
    b.store.update(&record).unwrap();
    w.sync(&b).await;
    w.sync(&a).await;
    assert_eq!(a.store.find::<Activity>(second_call.id).unwrap(), None, "B's now");
    let admin = w.phone(Role::Admin, "管理员");
    w.relay.transfer(&admin.scope, &b.scope.user_id, &a.scope.user_id).await.unwrap();
    w.sync(&a).await;
    assert!(a.store.ownership(theirs.id).unwrap().unwrap().mine);
    assert_eq!(a.store.get::<Customer>(theirs.id).unwrap().phones, vec!["0512-57779999".to_string()]);
    assert_eq!(a.store.get::<Activity>(second_call.id).unwrap().contact.as_deref(), Some("周总"));
}

#[tokio::test]
async fn a_follow_up_on_a_record_merged_away_goes_to_the_owner_of_the_record_kept() {
    let w = world();
    let (a, b) = (w.phone(Role::Rep, "王磊"), w.phone(Role::Rep, "李娜"));
    // A enters the company and follows up first; B enters it again a day later and only dials.
    let older = a.store.create(customer("苏州精工机械有限公司", "13812345678")).unwrap();
    let call = a.store.start_call(older.id, "13812345678".into(), None).unwrap();
    let said = fieldsync_core::store::ActivityResult {
        duration_s: Some(60),
        outcome: None,
        summary: "客户要报价".into(),
        next_action: None,
    };
    a.store.finish_activity(call.id, said).unwrap();
    w.sync(&a).await;
    b.clock.set(T0 + days(1.0));
    w.clock.set(T0 + days(1.0));
    let newer = b.store.create(customer("苏州精工机械", "+86 138-1234-5678")).unwrap();
    let dialled = b.store.start_call(newer.id, "138 1234 5678".into(), Some("陈经理".into())).unwrap();
    w.sync(&b).await;
    w.sync(&a).await;

    // The relay merged B's record into A's, and A keeps it. B's call names A's customer's buyer:
    // it now goes with A's record, to A, and no longer to B's other devices.
    assert_eq!(w.owner(older.id).as_deref(), Some(a.scope.user_id.as_str()));
    assert_eq!(w.listing(newer.id).merged_into, Some(older.id));
    assert_eq!(a.store.get::<Activity>(dialled.id).unwrap().contact.as_deref(), Some("陈经理"));
    assert!(!w.storage.rep_may_pull(dialled.id, &b.scope.user_id).unwrap());
    assert_eq!(w.storage.customer_documents(older.id, None, 10).unwrap().len(), 2, "both calls");
}
