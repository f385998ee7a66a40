//! Heat tags (issue 13 §4) on the relay against the phone: a rep's phone records a team's
//! customers and what was done with them, syncs them through the real relay engine and SQLite
//! storage, and the relay's heat for every customer equals the phone's — with the default
//! thresholds and with an admin's. Supervisors read it over HTTP (`GET /v1/customers/heat`);
//! reps, unknown tags and team rules with thresholds out of range are refused.

use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use fieldsync_core::heat::{HeatFilter, HeatLevel, HeatRules, HeatTag};
use fieldsync_core::model::{
    ActivityType, Customer, NewActivity, NewCustomer, NewLeadCard, NewOpportunity, NewTeamRules, NewVisit,
    Stage, TeamRules, Visit,
};
use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
use fieldsync_core::{DocId, ManualClock, Store, StoreOptions};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use fieldsync_server::relay::heat::{customer_heat, team_heat};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, RelayStorage, Role};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// When the scenario happens: the system clock at the test's start, since the HTTP endpoint
/// reads the system clock (the data sit days away from every threshold, so the milliseconds
/// between the two do not matter).
fn now() -> i64 {
    static NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock))
}
const DAY: i64 = 86_400_000;

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    storage: Arc<SqliteStorage>,
    team: String,
}

struct Phone {
    store: Store,
    clock: Arc<ManualClock>,
    scope: DeviceScope,
    token: String,
    _dir: tempfile::TempDir,
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let tenant = storage.create_tenant("Acme", 0).unwrap();
    let team = storage.create_team(&tenant, "East", 0).unwrap();
    let config = RelayConfig { data_dir: dir.path().to_owned(), ..Default::default() };
    let state = AppState::new(storage.clone(), config).unwrap();
    World { _dir: dir, state, storage, team }
}

impl World {
    fn phone(&self, role: Role) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now() - 90 * DAY));
        let store =
            Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })
                .unwrap();
        let user = self.storage.create_user(&self.team, role.as_str(), role, 0).unwrap();
        let code_hash = sha(format!("code for {user}").as_bytes());
        self.storage.add_enrollment_code(&user, code_hash, i64::MAX).unwrap();
        let token = format!("token-for-{user}");
        let scope = self
            .storage
            .enroll_device(
                code_hash,
                *store.device_id().as_bytes(),
                store.identity().public_key(),
                "phone",
                sha(token.as_bytes()),
                0,
            )
            .unwrap();
        Phone { store, clock, scope, token, _dir: dir }
    }

    async fn sync(&self, phone: &Phone) {
        for _ in 0..100 {
            let prepared = phone.store.prepare_sync(Default::default()).unwrap();
            let response =
                self.state.relay.sync(&phone.scope, prepared.request.clone(), now() as u64).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            assert!(response.rejected.is_empty(), "{:?}", response.rejected);
            if !applied.more && phone.store.outbox_len().unwrap() == 0 {
                return;
            }
        }
        panic!("sync did not settle");
    }

    async fn get(&self, token: &str, uri: &str) -> (StatusCode, Value) {
        let request =
            Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

impl Phone {
    fn at_days_ago(&self, days: i64) {
        self.clock.set(now() - days * DAY);
    }

    fn customer(&self, name: &str) -> DocId {
        let c: Customer =
            self.store.create(NewCustomer { company_name: name.into(), ..Default::default() }).unwrap();
        c.id
    }

    fn activity(&self, customer_id: DocId, activity_type: ActivityType, days_ago: i64, summary: &str) {
        self.store
            .log_activity(NewActivity {
                activity_type,
                customer_id,
                opportunity_id: None,
                visit_id: None,
                contact: None,
                phone: None,
                at: now() - days_ago * DAY,
                duration_s: None,
                summary: summary.into(),
                outcome: None,
                next_action: None,
            })
            .unwrap();
    }
}

/// A team's customers, one of each kind of heat; returns their ids.
fn record_team(rep: &Phone) -> Vec<DocId> {
    rep.at_days_ago(90);
    let inquiring = rep.customer("宁波鑫达精密模具");
    let negotiating = rep.customer("苏州精工机械");
    let visited = rep.customer("昆山华通电子");
    let new_lead = rep.customer("上海博远自动化");
    let dormant = rep.customer("南京恒信包装");
    let sampled = rep.customer("无锡永盛五金");
    rep.activity(inquiring, ActivityType::InquiryReceived, 25, "");
    rep.activity(inquiring, ActivityType::Call, 2, "");
    rep.activity(sampled, ActivityType::SampleSent, 12, "寄了三种规格");
    rep.activity(sampled, ActivityType::Call, -3, "电话确认收到");
    rep.activity(dormant, ActivityType::Call, 61, "问了交期");
    rep.at_days_ago(5);
    rep.store
        .create(NewOpportunity {
            customer_id: negotiating,
            owner: "李娜".into(),
            title: "二期注塑机".into(),
            stage: Stage::Negotiation,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    let mut visit: Visit = rep
        .store
        .create(NewVisit {
            customer_id: visited,
            opportunity_id: None,
            planned_at: now() - 3 * DAY,
            notes: String::new(),
        })
        .unwrap();
    visit.started_at = Some(now() - 3 * DAY);
    rep.store.update(&visit).unwrap();
    rep.at_days_ago(10);
    rep.store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:王伟;ORG:博远;;".into(),
            format: "mecard".into(),
            customer_id: Some(new_lead),
            ..Default::default()
        })
        .unwrap();
    rep.at_days_ago(1);
    let empty = rep.customer("杭州新客");
    vec![inquiring, negotiating, visited, new_lead, dormant, sampled, empty]
}

/// The relay's heat of every customer and of every filter equals the phone's.
fn assert_relay_agrees_with(w: &World, phone: &Phone, customers: &[DocId]) {
    let storage: &dyn RelayStorage = w.storage.as_ref();
    for &id in customers {
        let on_phone = phone.store.customer_heat(id, now()).unwrap();
        let on_relay =
            customer_heat(storage, &w.team, id, now()).unwrap().expect("the relay has the customer");
        assert_eq!(on_relay, on_phone, "customer {id}");
    }
    let filters = HeatLevel::ALL.map(HeatFilter::Level).into_iter().chain(HeatTag::ALL.map(HeatFilter::Tag));
    for filter in filters {
        let on_phone: Vec<DocId> =
            phone.store.customers_by_tag(filter, now(), 100).unwrap().into_iter().map(|c| c.id).collect();
        let on_relay: Vec<DocId> = team_heat(storage, &w.team, Some(filter), now())
            .unwrap()
            .into_iter()
            .map(|c| c.customer_id)
            .collect();
        assert_eq!(on_relay, on_phone, "{filter:?}");
    }
}

#[tokio::test]
async fn the_relay_gives_the_phones_heat_for_the_same_customers() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let customers = record_team(&rep);
    w.sync(&rep).await;
    assert_relay_agrees_with(&w, &rep, &customers);
    let sampled = rep.store.customer_heat(customers[5], now()).unwrap();
    assert_eq!((sampled.level, sampled.tags), (HeatLevel::Hot, vec![HeatTag::SampleSent]));
    assert_eq!(sampled.last_touch_at, Some(now()), "a call dated ahead counts as now");

    // A supervisor's phone that only syncs sees the same heat as well (another rep's phone holds
    // no record of these customers: docs/ownership.md).
    let other = w.phone(Role::Supervisor);
    w.sync(&other).await;
    assert_relay_agrees_with(&w, &other, &customers);
}

#[tokio::test]
async fn an_admins_thresholds_reach_the_relay_and_the_phones_alike() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let admin = w.phone(Role::Admin);
    let customers = record_team(&rep);
    let narrow = HeatRules { window_days: 20, hot_touches: 1, dormant_days: 40, new_lead_days: 7 };
    admin.store.create(NewTeamRules { heat: narrow, ..NewTeamRules::default() }).unwrap();
    w.sync(&admin).await;
    w.sync(&rep).await;
    assert_eq!(rep.store.team_rules().unwrap().unwrap().heat_rules(), narrow);
    assert_relay_agrees_with(&w, &rep, &customers);
    let inquiring = rep.store.customer_heat(customers[0], now()).unwrap();
    assert_eq!((inquiring.level, inquiring.tags), (HeatLevel::Cold, vec![]), "25 days is outside 20");
}

#[tokio::test]
async fn team_rules_with_heat_thresholds_out_of_range_are_refused_with_invalid_document() {
    let w = world();
    let admin = w.phone(Role::Admin);
    let mut rules: TeamRules = TeamRules::defaults();
    rules.id = DocId::generate();
    rules.heat_dormant_days = 10;
    let mut doc = Automerge::new().with_actor(admin.store.device_id().actor_id());
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "team_rules").unwrap();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    autosurgeon::reconcile(&mut tx, &rules).unwrap();
    tx.commit();
    let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let request =
        SyncRequest { changes: vec![PushedChange { doc_id: rules.id, bytes }], ..Default::default() };
    let response = w.state.relay.sync(&admin.scope, request, now() as u64).await.unwrap();
    assert_eq!(response.accepted, 0);
    assert_eq!(response.rejected[0].code, RejectCode::InvalidDocument, "{:?}", response.rejected);
    assert!(response.rejected[0].message.contains("heat_dormant_days"), "{}", response.rejected[0].message);
}

#[tokio::test]
async fn supervisors_list_customers_by_tag_over_http_and_others_are_refused() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let supervisor = w.phone(Role::Supervisor);
    let customers = record_team(&rep);
    w.sync(&rep).await;

    let (status, body) = w.get(&supervisor.token, "/v1/customers/heat?tag=late_stage_deal").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body["customers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["customer_id"], customers[1].to_string());
    assert_eq!(listed[0]["company_name"], "苏州精工机械");
    assert_eq!(listed[0]["level"], "hot");
    assert_eq!(listed[0]["tags"], serde_json::json!(["open_deal", "late_stage_deal"]));
    assert_eq!(listed[0]["tag_labels"], serde_json::json!(["在谈商机", "商机后期"]));

    let (status, body) = w.get(&supervisor.token, "/v1/customers/heat").await;
    assert_eq!((status, body["total"].as_u64()), (StatusCode::OK, Some(customers.len() as u64)), "{body}");

    let (status, body) = w.get(&supervisor.token, "/v1/customers/heat?tag=lukewarm").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("recent_inquiry"), "{body}");

    let (status, body) = w.get(&supervisor.token, "/v1/customers/heat?limit=0").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));

    let (status, body) = w.get(&rep.token, "/v1/customers/heat?tag=hot").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
}
