//! KPIs and incentive rules (issue 14, docs/kpi.md) on the relay against the phone: a rep's
//! phone records visits with real camera evidence and a signed slip, a follow-up and a won deal;
//! the admin's team rules carry the calendar and the incentive rules; after a sync through the
//! real relay engine and SQLite storage, the relay's figures and payout for the rep equal the
//! phone's own, and both equal the hand-computed ones. Over HTTP, reps see only themselves and
//! the team's aggregates; the sandbox is for supervisors and admins and changes nothing.
//! Invalid incentive rules are refused by the phone and, pushed raw, by the relay.

use std::path::PathBuf;
use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
use fieldsync_core::kpi::{Band, IncentiveRules, Metric, Period, Shortfall, TeamCalendar};
use fieldsync_core::model::{
    ActivityType, Customer, Datum, FixSource, Location, Money, NewActivity, NewCustomer, NewOpportunity,
    NewServiceSlip, NewTeamRules, NewVisit, NextAction, SlipItem, Stage, TeamRules, Visit,
};
use fieldsync_core::store::{CaptureContext, SlipSignature};
use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
use fieldsync_core::{ManualClock, Store, StoreError, StoreOptions};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use fieldsync_server::relay::kpi::team_board;
use fieldsync_server::storage::push::PushStorage;
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, RelayStorage, Role};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// 2008-10-22 16:29:49 in Tuscany (UTC+2), when DSCN0012 was taken: the scenario's now.
const NOW: i64 = 1_224_685_789_000;
/// Where DSCN0010 was taken: the first customer's site.
const SITE: (f64, f64) = (43.467448, 11.885127);
const CONTEXT: CaptureContext = CaptureContext { utc_offset_minutes: 120, elapsed_since_sync_ms: None };
const MINUTE: i64 = 60_000;

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
    fn phone(&self, role: Role, name: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let store =
            Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })
                .unwrap();
        let user = self.storage.create_user(&self.team, name, role, 0).unwrap();
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
        store.set_user(&scope.user_id, role.as_str()).unwrap();
        Phone { store, clock, scope, token, _dir: dir }
    }

    async fn sync(&self, phone: &Phone) {
        for _ in 0..100 {
            let prepared = phone.store.prepare_sync(Default::default()).unwrap();
            let response = self.state.relay.sync(&phone.scope, prepared.request.clone(), 1).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            assert!(response.rejected.is_empty(), "{:?}", response.rejected);
            if !applied.more && phone.store.outbox_len().unwrap() == 0 {
                return;
            }
        }
        panic!("sync did not settle");
    }

    async fn call(&self, token: &str, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder =
            Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

fn fixture_photo(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/exif").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fix(metres_north: f64, accuracy_m: f64) -> Location {
    Location {
        lat: SITE.0 + metres_north / 111_195.0,
        lon: SITE.1,
        datum: Datum::Wgs84,
        source: FixSource::Gps,
        accuracy_m: Some(accuracy_m),
        at: None,
        mock: false,
    }
}

fn signature() -> SignatureStrokes {
    let stroke = |start: u32, points: &[(f32, f32)]| {
        points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| StrokePoint { x, y, t_ms: start + i as u32 * 12, pressure: 0.5 })
            .collect()
    };
    SignatureStrokes {
        pad_width: 360.0,
        pad_height: 180.0,
        strokes: vec![
            stroke(0, &[(30.0, 120.0), (60.0, 40.0), (90.0, 130.0), (120.0, 50.0)]),
            stroke(400, &[(200.0, 60.0), (240.0, 140.0), (300.0, 70.0)]),
        ],
    }
}

/// Monthly rules in force from 2008: one effective visit and ¥1,000 of margin, weighted 50/50,
/// base ¥1,000, tiers 100–120 % at 50 % and above 120 % at 80 %, gated at one effective visit.
fn rules_2008() -> IncentiveRules {
    serde_json::from_value(json!({
        "version": 1,
        "effective_from": "2008-01-01",
        "period": "month",
        "base_bonus_fen": 100_000,
        "metrics": [
            { "metric": "effective_visits", "weight_bp": 5000, "target": 1 },
            { "metric": "gross_margin", "weight_bp": 5000, "target": 100_000, "cap_pct": 200 }
        ],
        "excess_tiers": [
            { "from_pct": 100, "to_pct": 120, "rate_bp": 5000 },
            { "from_pct": 120, "to_pct": null, "rate_bp": 8000 }
        ],
        "gates": [{ "metric": "effective_visits", "min": 1 }]
    }))
    .unwrap()
}

/// China's 2008 National Day week: 1–7 October off, 27–28 September worked.
fn calendar_2008() -> TeamCalendar {
    TeamCalendar {
        utc_offset_minutes: 480,
        holidays: (1..=7).map(|d| fieldsync_core::kpi::Date::new(2008, 10, d).unwrap()).collect(),
        make_up_working_days: [27, 28].map(|d| fieldsync_core::kpi::Date::new(2008, 9, d).unwrap()).into(),
    }
}

fn customer_at(rep: &Phone, name: &str, metres_north: f64) -> Customer {
    rep.store
        .create(NewCustomer {
            company_name: name.into(),
            location: Some(fix(metres_north, 5.0)),
            ..Default::default()
        })
        .unwrap()
}

/// The rep's October: one effective visit (on-site check-in, an on-site camera photo, a signed
/// slip), one visit with no photo, a follow-up whose next action was missed, and a deal won with
/// ¥1,500 of margin.
fn record_october(rep: &Phone) {
    let first = customer_at(rep, "Officine Meccaniche Toscane", 0.0);
    let second = customer_at(rep, "Ceramiche Valdarno", 5.0);
    let visit: Visit = rep
        .store
        .create(NewVisit {
            customer_id: first.id,
            opportunity_id: None,
            planned_at: NOW,
            notes: String::new(),
        })
        .unwrap();
    assert!(rep.store.check_in(visit.id, fix(120.0, 15.0), CONTEXT).unwrap().flags.is_empty());
    rep.clock.advance(MINUTE);
    let photo = rep
        .store
        .attach_photo(visit.id, &fixture_photo("gps_DSCN0012.jpg"), Some(fix(30.0, 8.0)), CONTEXT)
        .unwrap()
        .photo;
    assert_eq!(photo.on_site, Some(true));
    let codes: Vec<&str> = photo.flags.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["no_time_zone"], "a camera without a zone doubts nothing");
    let slip = rep
        .store
        .create(NewServiceSlip {
            visit_id: visit.id,
            items: vec![SlipItem {
                description: "更换主轴轴承".into(), quantity: 2.0, unit: "套".into()
            }],
            notes: String::new(),
        })
        .unwrap();
    rep.clock.advance(MINUTE);
    rep.store
        .sign_slip(slip.id, SlipSignature { signer_name: "王建国".into(), strokes: signature(), fix: None })
        .unwrap();

    rep.clock.advance(60 * MINUTE);
    let bare: Visit = rep
        .store
        .create(NewVisit {
            customer_id: second.id,
            opportunity_id: None,
            planned_at: NOW,
            notes: String::new(),
        })
        .unwrap();
    rep.store.check_in(bare.id, fix(10.0, 10.0), CONTEXT).unwrap();

    rep.store
        .log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id: second.id,
            opportunity_id: None,
            visit_id: None,
            contact: None,
            phone: None,
            at: NOW + 62 * MINUTE,
            duration_s: Some(120),
            summary: "问了交期".into(),
            outcome: None,
            next_action: Some(NextAction {
                what: "寄样".into(),
                due_at: NOW + 2 * 86_400_000,
                done_at: None,
            }),
        })
        .unwrap();

    let deal = rep
        .store
        .create(NewOpportunity {
            customer_id: first.id,
            owner: rep.scope.user_id.clone(),
            title: "主轴改造".into(),
            stage: Stage::FirstContact,
            amount: Some(Money { minor_units: 900_000, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    rep.store.set_deal_margin(deal.id, Some(Money { minor_units: 150_000, currency: "CNY".into() })).unwrap();
    rep.clock.advance(MINUTE);
    rep.store.move_stage(deal.id, Stage::Won, None).unwrap();
}

async fn team_with_rules(w: &World) -> (Phone, Phone, Phone) {
    let admin = w.phone(Role::Admin, "管理员");
    admin
        .store
        .create(NewTeamRules {
            calendar: calendar_2008(),
            incentive_rules: vec![rules_2008()],
            // The deal is won straight away: no contract to attach here (docs/funnel.md).
            stage_evidence: Vec::new(),
            ..NewTeamRules::default()
        })
        .unwrap();
    w.sync(&admin).await;
    let rep = w.phone(Role::Rep, "王磊");
    let supervisor = w.phone(Role::Supervisor, "赵主管");
    w.sync(&rep).await;
    assert!(rep.store.team_rules().unwrap().is_some(), "the rep's phone has the rules");
    (admin, rep, supervisor)
}

#[tokio::test]
async fn the_relay_gives_the_phones_figures_and_payout_for_the_same_records() {
    let w = world();
    let (_admin, rep, supervisor) = team_with_rules(&w).await;
    // Asked about before any record: the team's rows are rebuilt (from no document), and from
    // then on the writer keeps them as changes arrive.
    let (status, empty) = w.call(&supervisor.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!((status, empty["reps"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{empty}");
    record_october(&rep);
    let october: Period = "2008-10".parse().unwrap();
    let as_of = NOW + 30 * 86_400_000;
    let on_phone = rep.store.my_figures_at(october, as_of).unwrap();
    w.sync(&rep).await;
    let board = team_board(w.storage.as_ref() as &dyn RelayStorage, &w.team, october, as_of).unwrap();
    assert_eq!(board.reps.len(), 1, "{:?}", board.reps);
    assert_eq!(board.reps[0], on_phone.figures, "phone and relay agree");
    assert_eq!(board.payouts.as_ref().unwrap()[0], *on_phone.payout.as_ref().unwrap());

    // By hand: 1 effective visit (target 1: 100 %), ¥1,500 margin (target ¥1,000: 150 %), so
    // A = 125 %: base ¥1,000 + tier 1 20 % × 50 % × 1,000 = ¥100 + tier 2 5 % × 80 % × 1,000 = ¥40.
    let facts = &on_phone.figures.facts;
    assert_eq!(facts.get(Metric::EffectiveVisits), Some(1));
    assert_eq!(facts.get(Metric::VisitsNotEffective), Some(1));
    assert_eq!(on_phone.figures.shortfalls.get(&Shortfall::NoOnSitePhoto), Some(&1));
    assert_eq!(facts.get(Metric::GrossMargin), Some(150_000));
    assert_eq!(facts.get(Metric::Output), Some(900_000));
    assert_eq!(facts.get(Metric::NextActionsOnTime), Some(0), "the one next action is overdue");
    // Two customers touched over October's 23 weekdays less five National Day holidays.
    assert_eq!(facts.get(Metric::CustomerTouchesPerDay), Some(2 * 1000 / 18));
    let payout = on_phone.payout.unwrap();
    assert_eq!(payout.achievement_ppm, 1_250_000);
    assert_eq!(payout.band, Band::Excess(2));
    assert_eq!(payout.payout_fen, 114_000);

    // Over HTTP (the system clock is 2026, long after October 2008): the rep sees themself and
    // the team's aggregates; the supervisor sees every rep with payouts.
    let (status, mine) = w.call(&rep.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["me"]["facts"]["metrics"]["effective_visits"], 1, "{mine}");
    assert_eq!(mine["payout"]["payout_fen"], 114_000, "{mine}");
    assert_eq!(mine["team"]["gross_margin"]["mean"], 150_000, "{mine}");
    assert!(mine.get("reps").is_none(), "a rep sees no other rep's row: {mine}");
    let (status, table) = w.call(&supervisor.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!(status, StatusCode::OK, "{table}");
    assert_eq!(table["reps"].as_array().unwrap().len(), 1);
    assert_eq!(table["payouts"][0]["payout_fen"], 114_000);
    // The rows the writer kept give what the documents give (the repair path) and the phone.
    assert_eq!(table["reps"][0], serde_json::to_value(&board.reps[0]).unwrap());

    // Asked again with nothing new, the relay reuses what it read; a pushed follow-up moves the
    // team's log and the next answer counts it.
    let (_, again) = w.call(&supervisor.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!(again, table);
    let before = table["reps"][0]["facts"]["metrics"]["payment_follow_ups"].as_i64().unwrap();
    let customer = rep
        .store
        .create(NewCustomer { company_name: "Fonderia Aretina".into(), ..Default::default() })
        .unwrap();
    rep.store
        .log_activity(NewActivity {
            activity_type: ActivityType::PaymentFollowUp,
            customer_id: customer.id,
            opportunity_id: None,
            visit_id: None,
            contact: None,
            phone: None,
            at: NOW + 3 * 60 * MINUTE,
            duration_s: None,
            summary: "催第二期款".into(),
            outcome: None,
            next_action: None,
        })
        .unwrap();
    w.sync(&rep).await;
    let (_, after) = w.call(&supervisor.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!(
        after["reps"][0]["facts"]["metrics"]["payment_follow_ups"].as_i64(),
        Some(before + 1),
        "{after}"
    );

    for bad in ["/v1/kpi?period=2008-13", "/v1/kpi?period=soon", "/v1/kpi?period=2999-01"] {
        let (status, error) = w.call(&rep.token, "GET", bad, None).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_period")),
            "{bad}: {error}"
        );
    }
}

#[tokio::test]
async fn the_sandbox_compares_a_candidate_on_past_periods_for_supervisors_only_and_changes_nothing() {
    let w = world();
    let (_admin, rep, supervisor) = team_with_rules(&w).await;
    record_october(&rep);
    w.sync(&rep).await;
    let rules_before = w.storage.team_rules_document(&w.team).unwrap().unwrap();
    let snapshot_before = w.storage.load_document(rules_before).unwrap().unwrap().snapshot;

    // Half the base: ¥500 + 20 % × 50 % × 500 + 5 % × 80 % × 500 = ¥570 in October 2008, and
    // nothing in the other months (no effective visit: gated both ways).
    let mut candidate = serde_json::to_value(rules_2008()).unwrap();
    candidate["version"] = json!(2);
    candidate["effective_from"] = json!("2027-01-01");
    candidate["base_bonus_fen"] = json!(50_000);
    // Every month from October 2008 to the one before this one (2026 or later).
    let months_since = {
        let today = fieldsync_core::kpi::Date::of_instant(
            fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock),
            480,
        );
        let (y, m, _) = today.ymd();
        (y - 2008) as u32 * 12 + m - 10
    };
    assert!(months_since > 36, "the scenario lies more than three years back");
    let (status, error) = w
        .call(
            &supervisor.token,
            "POST",
            "/v1/incentive/sandbox",
            Some(json!({"candidate": candidate, "periods": months_since})),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_sandbox")),
        "{error}"
    );

    // The newest 36 months hold no record: both rule sets pay nothing.
    let (status, report) = w
        .call(
            &supervisor.token,
            "POST",
            "/v1/incentive/sandbox",
            Some(json!({"candidate": candidate, "periods": 36})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["current_total_fen"].as_i64(), report["candidate_total_fen"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(report["periods"].as_array().unwrap().len(), 36);

    let (status, forbidden) = w
        .call(
            &rep.token,
            "POST",
            "/v1/incentive/sandbox",
            Some(json!({"candidate": candidate, "periods": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forbidden}");

    let mut overlapping = candidate.clone();
    overlapping["excess_tiers"][1]["from_pct"] = json!(110);
    let mut negative = candidate.clone();
    negative["excess_tiers"][0]["rate_bp"] = json!(-1);
    let mut unknown = candidate.clone();
    unknown["metrics"][0]["metric"] = json!("smiles");
    for (what, bad) in
        [("overlapping tiers", overlapping), ("a negative rate", negative), ("an unknown metric", unknown)]
    {
        let (status, error) = w
            .call(
                &supervisor.token,
                "POST",
                "/v1/incentive/sandbox",
                Some(json!({"candidate": bad, "periods": 1})),
            )
            .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_rules")),
            "{what}: {error}"
        );
    }
    let after = w.storage.load_document(rules_before).unwrap().unwrap().snapshot;
    assert_eq!(after, snapshot_before, "the sandbox changed nothing");
}

#[tokio::test]
async fn invalid_incentive_rules_are_refused_on_the_phone_and_pushed_raw_on_the_relay() {
    let w = world();
    let (admin, _rep, _supervisor) = team_with_rules(&w).await;
    let mut overlapping = rules_2008();
    overlapping.excess_tiers[1].from_pct = 110;
    let err = admin
        .store
        .create(NewTeamRules { incentive_rules: vec![overlapping], ..NewTeamRules::default() })
        .unwrap_err();
    match err {
        StoreError::Invalid(e) => assert_eq!(e.field, "incentive_rules", "{e}"),
        other => panic!("expected a validation error, got {other}"),
    }

    let id = w.storage.team_rules_document(&w.team).unwrap().unwrap();
    let stored = w.storage.load_document(id).unwrap().unwrap();
    let cases = [
        ("not JSON", "{\"version\": 2,".to_owned()),
        ("a negative rate", {
            let mut r = serde_json::to_value(rules_2008()).unwrap();
            r["version"] = json!(2);
            r["effective_from"] = json!("2009-01-01");
            r["excess_tiers"][0]["rate_bp"] = json!(-500);
            r.to_string()
        }),
        ("an older effective date", {
            let mut r = serde_json::to_value(rules_2008()).unwrap();
            r["version"] = json!(2);
            r["effective_from"] = json!("2007-01-01");
            r.to_string()
        }),
    ];
    for (what, text) in cases {
        let mut doc =
            Automerge::load(&stored.snapshot).unwrap().with_actor(ActorId::from(&admin.scope.device_id[..]));
        let list = doc.get(ROOT, "incentive_rules").unwrap().unwrap().1;
        let mut tx = doc.transaction();
        tx.insert(&list, 1, text.as_str()).unwrap();
        tx.commit();
        let bytes = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
        let request = SyncRequest { changes: vec![PushedChange { doc_id: id, bytes }], ..Default::default() };
        let response = w.state.relay.sync(&admin.scope, request, 1).await.unwrap();
        assert_eq!(response.rejected.len(), 1, "{what}");
        assert_eq!(response.rejected[0].code, RejectCode::InvalidDocument, "{what}");
        assert!(
            response.rejected[0].message.contains("incentive_rules"),
            "{what}: {}",
            response.rejected[0].message
        );
    }
    assert_eq!(w.storage.load_document(id).unwrap().unwrap().snapshot, stored.snapshot, "nothing stored");
    let rules: TeamRules =
        fieldsync_core::model::read_record(&Automerge::load(&stored.snapshot).unwrap()).unwrap();
    assert_eq!(rules.rule_book().unwrap().unwrap().versions, vec![rules_2008()]);
}

#[tokio::test]
async fn the_weekly_brief_is_written_once_at_the_teams_hour_and_read_by_supervisors_only() {
    let w = world();
    let (_admin, rep, supervisor) = team_with_rules(&w).await;
    record_october(&rep);
    w.sync(&rep).await;
    // The records are of Wednesday 22 October 2008 (week 43); the brief of that week is due on
    // Monday 27 October at 08:00 China time, the default.
    let monday_8 = fieldsync_core::kpi::Date::new(2008, 10, 27).unwrap().start_ms(480) + 8 * 60 * MINUTE;
    assert_eq!(w.state.relay.brief_tick(monday_8 - MINUTE).await.unwrap(), 0, "not yet");
    assert_eq!(w.state.relay.brief_tick(monday_8).await.unwrap(), 1);
    assert_eq!(w.state.relay.brief_tick(monday_8 + 60 * MINUTE).await.unwrap(), 0, "once per team and week");

    // What a supervisor's phone receives (push, stream or `GET /v1/briefs`) decodes as the brief.
    assert!(w.state.relay.team_alerts(&w.team, 10).unwrap().is_empty(), "a brief is not a stall alert");
    let alerts = w.state.relay.team_briefs(&w.team, 10).unwrap();
    assert_eq!(alerts.len(), 1);
    let brief = fieldsync_core::kpi::brief::decode(&alerts[0].1).unwrap();
    assert_eq!(brief.week.to_string(), "2008-W43");
    assert_eq!(
        brief.text, "W43周报：最大单「主轴改造」¥9000元新建→赢单；各阶段转化正常；无人明显落后。",
        "one rep: nobody to compare"
    );
    let deal = brief.biggest_deal.as_ref().unwrap();
    assert_eq!((deal.amount_fen, deal.owner.as_str()), (900_000, rep.scope.user_id.as_str()));
    assert!(fieldsync_core::funnel::payload::decode(&alerts[0].1).is_err(), "a brief is not a stall alert");

    let (status, listed) = w.call(&supervisor.token, "GET", "/v1/briefs", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["briefs"][0]["text"], brief.text.as_str());
    assert_eq!(listed["briefs"][0]["biggest_deal"]["to"], "Won");
    let (_, stall) = w.call(&supervisor.token, "GET", "/v1/alerts", None).await;
    assert_eq!(
        stall["alerts"].as_array().map(Vec::len),
        Some(0),
        "briefs are not in the stall alerts: {stall}"
    );
    let (status, _) = w.call(&rep.token, "GET", "/v1/briefs", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the brief names who needs support: not for reps");

    // Queued for delivery to supervisors and admins like an escalation.
    let fanned = w.storage.fan_out_alerts(monday_8, 10).unwrap();
    assert_eq!(fanned.len(), 1);
    assert_eq!(fanned[0].payload, alerts[0].1);
}

/// A deal of `rep`'s, won with `margin_fen` of margin.
fn won_deal(rep: &Phone, customer: &Customer, title: &str, amount_fen: i64, margin_fen: i64) {
    let deal = rep
        .store
        .create(NewOpportunity {
            customer_id: customer.id,
            owner: rep.scope.user_id.clone(),
            title: title.into(),
            stage: Stage::FirstContact,
            amount: Some(Money { minor_units: amount_fen, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    rep.store
        .set_deal_margin(deal.id, Some(Money { minor_units: margin_fen, currency: "CNY".into() }))
        .unwrap();
    rep.clock.advance(MINUTE);
    rep.store.move_stage(deal.id, Stage::Won, None).unwrap();
}

/// One change creating `record` as a new document written by `phone`, as only the relay may.
fn forged_change<R: autosurgeon::Reconcile>(phone: &Phone, kind: &str, record: &R) -> Vec<u8> {
    let mut doc = Automerge::new().with_actor(phone.store.device_id().actor_id());
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", kind).unwrap();
    tx.put(ROOT, "schema", fieldsync_core::model::SCHEMA_VERSION).unwrap();
    autosurgeon::reconcile(&mut tx, record).unwrap();
    tx.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[tokio::test]
async fn scoreboards_bring_the_team_means_to_every_phone_and_the_table_to_supervisors_only() {
    use fieldsync_core::model::{Scoreboard, TeamTable, scoreboard_id, team_table_id};
    let w = world();
    let (_admin, rep, supervisor) = team_with_rules(&w).await;
    let other = w.phone(Role::Rep, "李娜");
    w.sync(&other).await; // the team's rules: a deal is won without a contract here
    record_october(&rep);
    let customer = customer_at(&other, "Ceramiche Valdarno Due", 10.0);
    won_deal(&other, &customer, "窑炉", 400_000, 50_000);
    w.sync(&rep).await;
    w.sync(&other).await;

    let october: Period = "2008-10".parse().unwrap();
    let as_of = NOW + 7 * 86_400_000; // Wednesday 29 October 2008
    let written = w.state.relay.scoreboard_tick(as_of).await.unwrap();
    // The running and the previous week, month and quarter (weeks 44 and 43, October and
    // September, the fourth and third quarters): a scoreboard and a table each.
    assert_eq!(written, 12);
    assert_eq!(w.state.relay.scoreboard_tick(as_of).await.unwrap(), 0, "nothing changed, nothing due");
    assert_eq!(w.state.relay.scoreboard_tick(as_of + 60 * MINUTE).await.unwrap(), 0, "same figures");
    let board_id = scoreboard_id(&w.team, "2008-10");
    let table_id = team_table_id(&w.team, "2008-10");
    assert!(w.storage.load_document(board_id).unwrap().is_some());

    // Offline after one sync: the rep's phone shows its figures against the team's.
    w.sync(&rep).await;
    w.sync(&supervisor).await;
    let mine = rep.store.my_figures_at(october, as_of).unwrap();
    let team = mine.team.as_ref().expect("the scoreboard reached the rep's phone");
    assert_eq!((team.reps, team.period.as_str()), (2, "2008-10"));
    let margin = team.team.iter().find(|l| l.metric == "gross_margin").unwrap();
    // ¥1,500 and ¥500 of margin: mean and median ¥1,000.
    assert_eq!((margin.reps, margin.mean, margin.median), (2, 100_000, 100_000));
    let output = team.team.iter().find(|l| l.metric == "output").unwrap();
    assert_eq!((output.mean, output.median), ((900_000 + 400_000) / 2, (900_000 + 400_000) / 2));
    // The aggregates the repair path computes from the documents at the same moment, and those
    // `GET /v1/kpi` gives online (at the system clock, years later: the rates over working days
    // elapsed differ, the money does not).
    let board = team_board(w.storage.as_ref() as &dyn RelayStorage, &w.team, october, as_of).unwrap();
    let expected: Vec<(String, u32, i64, i64)> =
        board.team.iter().map(|(m, a)| (m.as_str().to_owned(), a.reps, a.mean, a.median)).collect();
    let got: Vec<(String, u32, i64, i64)> =
        team.team.iter().map(|l| (l.metric.clone(), l.reps, l.mean, l.median)).collect();
    assert_eq!(got, expected);
    let (status, online) = w.call(&rep.token, "GET", "/v1/kpi?period=2008-10", None).await;
    assert_eq!(status, StatusCode::OK, "{online}");
    assert_eq!(online["team"]["gross_margin"]["mean"], margin.mean, "{online}");
    assert_eq!(online["team"]["output"]["median"], output.median, "{online}");
    assert_eq!(rep.store.team_table(october).unwrap(), None, "a rep never receives the team table");
    let fetch = |token: String, id| {
        let state = w.state.clone();
        async move {
            let request = Request::builder()
                .uri(format!("/v1/documents/{id}"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            app(state).oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(fetch(rep.token.clone(), table_id).await, StatusCode::NOT_FOUND, "nor fetches it");
    assert_eq!(fetch(rep.token.clone(), board_id).await, StatusCode::OK);
    assert_eq!(fetch(supervisor.token.clone(), table_id).await, StatusCode::OK);
    assert!(rep.store.team_scoreboard("2008-W43".parse().unwrap()).unwrap().is_some());
    let september = rep.store.team_scoreboard("2008-09".parse().unwrap()).unwrap().unwrap();
    let visits = september.team.iter().find(|l| l.metric == "effective_visits").unwrap();
    assert_eq!((september.reps, visits.mean), (2, 0), "both reps, nothing done in September");
    assert_eq!(rep.store.team_scoreboard("2008-08".parse().unwrap()).unwrap(), None, "not kept");

    // The supervisor's phone has every rep's line with the payouts the relay computes.
    let table: TeamTable = supervisor.store.team_table(october).unwrap().expect("the supervisor's table");
    assert_eq!(table.reps.len(), 2);
    for (line, figures) in table.reps.iter().zip(&board.reps) {
        assert_eq!(line.rep, figures.facts.rep);
        let values: Vec<(String, i64)> = line.metrics.iter().map(|m| (m.metric.clone(), m.value)).collect();
        let expected: Vec<(String, i64)> =
            figures.facts.values.iter().map(|(m, v)| (m.as_str().to_owned(), *v)).collect();
        assert_eq!(values, expected, "{}", line.rep);
    }
    let wang = table.reps.iter().find(|l| l.rep == rep.scope.user_id).unwrap();
    assert_eq!((wang.name.as_str(), wang.payout_fen), ("王磊", Some(114_000)));

    // A change to a rep's figures makes the team's boards due; the next tick rewrites them.
    let second = customer_at(&other, "Fonderia Arezzo", 20.0);
    won_deal(&other, &second, "铸件", 100_000, 150_000);
    w.sync(&other).await;
    assert!(w.state.relay.scoreboard_tick(as_of).await.unwrap() >= 2);
    w.sync(&rep).await;
    let team = rep.store.team_scoreboard(october).unwrap().unwrap();
    let margin = team.team.iter().find(|l| l.metric == "gross_margin").unwrap();
    assert_eq!((margin.mean, margin.median), ((150_000 + 200_000) / 2, (150_000 + 200_000) / 2));

    // No device writes a scoreboard or a team table, whatever its role: not a new one, not a
    // change to the relay's; the phone's store refuses an edit before anything leaves it.
    let before = w.storage.load_document(board_id).unwrap().unwrap().snapshot;
    let mut invented = team.clone();
    invented.reps = 99;
    let table_now = supervisor.store.team_table(october).unwrap().unwrap();
    for phone in [&rep, &supervisor, &_admin] {
        for (id, bytes) in [
            (board_id, forged_change(phone, "scoreboard", &invented)),
            (table_id, forged_change(phone, "team_table", &table_now)),
        ] {
            let request =
                SyncRequest { changes: vec![PushedChange { doc_id: id, bytes }], ..Default::default() };
            let response = w.state.relay.sync(&phone.scope, request, 1).await.unwrap();
            assert_eq!(response.accepted, 0);
            assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
            assert!(response.rejected[0].message.contains("written by the relay only"));
        }
    }
    assert_eq!(w.storage.load_document(board_id).unwrap().unwrap().snapshot, before);
    assert!(matches!(rep.store.update::<Scoreboard>(&invented), Err(StoreError::RelayOnly { .. })));
}
