//! The managers' web console over in-process HTTP (docs/console.md): sign-in with a one-time
//! code or a password, CSRF, lockout, reps refused, sessions ended by sign-out; the funnel's
//! numbers equal `GET /v1/funnel`'s; a deal page escapes what reps typed; another team's deal is
//! 404; every answer carries the Content-Security-Policy. The real browser walks the same pages
//! in `tests/tests/console_e2e.rs`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::model::{
    ActivityType, Money, NewActivity, NewCustomer, NewOpportunity, Opportunity, Stage,
};
use fieldsync_core::{ManualClock, Store, StoreOptions};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use fieldsync_server::http::console::auth::{code_hash, hash_password};
use fieldsync_server::storage::console::ConsoleStorage;
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, RelayStorage, Role};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const HOSTILE: &str = "<script>alert(1)</script>";

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    storage: Arc<SqliteStorage>,
    team: String,
    other_team: String,
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
    let tenant = storage.create_tenant("苏州精工", 0).unwrap();
    let team = storage.create_team(&tenant, "华东", 0).unwrap();
    let other_team = storage.create_team(&tenant, "华南", 0).unwrap();
    let config = RelayConfig { data_dir: dir.path().to_owned(), ..Default::default() };
    let state = AppState::new(storage.clone(), config).unwrap();
    World { _dir: dir, state, storage, team, other_team }
}

/// An HTTP answer: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    fn cookie_value(&self, name: &str) -> Option<String> {
        self.cookie(name).and_then(|c| c.split(';').next().map(|kv| kv[name.len() + 1..].to_owned()))
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

impl World {
    fn phone(&self, team: &str, role: Role, name: &str) -> Phone {
        self.phone_at(team, role, name, 1_796_000_000_000)
    }

    fn phone_at(&self, team: &str, role: Role, name: &str, now: i64) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let store =
            Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })
                .unwrap();
        let user = self.storage.create_user(team, name, role, 0).unwrap();
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

    async fn http(
        &self,
        method: &str,
        uri: &str,
        cookies: &[String],
        form: Option<&str>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if !cookies.is_empty() {
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        if let Some(token) = bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match form {
            Some(form) => builder
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
        Answer { status, headers, body }
    }

    /// Signs in with `secret`: the final answer, and the session cookie when it worked.
    async fn sign_in(&self, user: &str, secret: &str) -> (Answer, Option<String>) {
        let form = self.http("GET", "/console/sign-in", &[], None, None).await;
        let csrf_cookie = format!("fs_console_signin={}", form.cookie_value("fs_console_signin").unwrap());
        let body = format!("csrf={}&user={}&secret={}", form.csrf(), enc(user), enc(secret));
        let answer = self.http("POST", "/console/sign-in", &[csrf_cookie], Some(&body), None).await;
        let session =
            answer.cookie_value("fs_console").filter(|v| !v.is_empty()).map(|v| format!("fs_console={v}"));
        (answer, session)
    }

    fn code_for(&self, user: &str) -> String {
        let code = format!("code-{user}-{}", rand_suffix());
        self.storage.console_add_code(user, code_hash(&code), i64::MAX).unwrap();
        code
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A rep's customer with a hostile name, two deals (one of ¥9,000 in 方案提交, one lost of ¥1,000)
/// and a follow-up on the first, synced to the relay.
async fn team_with_deals(w: &World) -> (Phone, Opportunity) {
    let rep = w.phone(&w.team, Role::Rep, "王磊");
    let customer =
        rep.store.create(NewCustomer { company_name: HOSTILE.into(), ..Default::default() }).unwrap();
    let big: Opportunity = rep
        .store
        .create(NewOpportunity {
            customer_id: customer.id,
            owner: rep.scope.user_id.clone(),
            title: "二期注塑机".into(),
            stage: Stage::ProposalSubmitted,
            amount: Some(Money { minor_units: 900_000, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    let small: Opportunity = rep
        .store
        .create(NewOpportunity {
            customer_id: customer.id,
            owner: rep.scope.user_id.clone(),
            title: "备件".into(),
            stage: Stage::FirstContact,
            amount: Some(Money { minor_units: 100_000, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    rep.store.move_stage(small.id, Stage::Lost, None).unwrap();
    rep.store
        .log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id: customer.id,
            opportunity_id: Some(big.id),
            visit_id: None,
            contact: None,
            phone: None,
            at: 1_796_000_000_000,
            duration_s: None,
            summary: format!("问了交期 {HOSTILE}"),
            outcome: None,
            next_action: None,
        })
        .unwrap();
    w.sync(&rep).await;
    (rep, big)
}

#[tokio::test]
async fn a_supervisor_signs_in_with_a_code_sees_the_funnel_the_api_gives_and_a_deal_escaped() {
    let w = world();
    let (rep, big) = team_with_deals(&w).await;
    let boss = w.phone(&w.team, Role::Supervisor, "赵主管");

    // Not signed in: every page sends to the sign-in form.
    let page = w.http("GET", "/console/funnel", &[], None, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/console/sign-in");

    let form = w.http("GET", "/console/sign-in", &[], None, None).await;
    assert_eq!(form.status, StatusCode::OK);
    let csp = form.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert!(!form.body.contains("<script"), "no script at all");
    let signin_cookie = form.cookie("fs_console_signin").unwrap();
    assert!(
        signin_cookie.contains("HttpOnly") && signin_cookie.contains("SameSite=Strict"),
        "{signin_cookie}"
    );

    let code = w.code_for(&boss.scope.user_id);
    let (answer, session) = w.sign_in(&boss.scope.user_id, &code).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let set = answer.cookie("fs_console").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain HTTP on loopback");
    let session = vec![session.unwrap()];
    let (again, none) = w.sign_in(&boss.scope.user_id, &code).await;
    assert_eq!((again.status, none), (StatusCode::UNAUTHORIZED, None), "a code signs in once");

    // The funnel: the same numbers as the API's, per stage.
    let page = w.http("GET", "/console/funnel", &session, None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let api = w.http("GET", "/v1/funnel", &[], None, Some(&boss.token)).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let api: Value = serde_json::from_str(&api.body).unwrap();
    let stages = api["stages"].as_array().unwrap();
    let proposal = stages.iter().find(|s| s["stage"] == "ProposalSubmitted").unwrap();
    assert_eq!((proposal["deals"].as_u64(), proposal["amount_fen"].as_i64()), (Some(1), Some(900_000)));
    let lost = stages.iter().find(|s| s["stage"] == "Lost").unwrap();
    assert_eq!((lost["deals"].as_u64(), lost["amount_fen"].as_i64()), (Some(1), Some(100_000)));
    // Lost deals are left out of the conversion: the one open deal reached 初步接触 and is past it.
    let first = stages.iter().find(|s| s["stage"] == "FirstContact").unwrap();
    assert_eq!((first["reached"].as_u64(), first["conversion_bp"].as_i64()), (Some(1), Some(10_000)));
    let proposal_conversion = proposal["conversion_bp"].as_i64();
    assert_eq!(proposal_conversion, Some(0), "nothing past 方案提交 yet");
    for stage in stages {
        let row = format!("data-stage=\"{}\"", stage["stage"].as_str().unwrap());
        let at = page.body.find(&row).unwrap_or_else(|| panic!("{row} in the page"));
        let cells = &page.body[at..];
        let cells = &cells[..cells.find("</tr>").unwrap()];
        assert!(cells.contains(&format!("class=\"num deals\">{}<", stage["deals"])), "{cells}");
        assert!(cells.contains(&format!("data-fen=\"{}\"", stage["amount_fen"])), "{cells}");
    }
    assert!(page.body.contains("<svg"), "the chart is drawn on the server");

    // Drill down: the stage's deals, then the deal, whose customer and follow-up are text.
    let stage = w.http("GET", "/console/funnel/ProposalSubmitted", &session, None, None).await;
    assert!(stage.body.contains(&format!("/console/deals/{}", big.id)), "{}", stage.body);
    let deal = w.http("GET", &format!("/console/deals/{}", big.id), &session, None, None).await;
    assert_eq!(deal.status, StatusCode::OK, "{}", deal.body);
    assert!(deal.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", deal.body);
    assert!(!deal.body.contains(HOSTILE), "what reps typed never becomes markup");
    assert!(deal.body.contains("问了交期"));

    // Another team's supervisor: the same URL is 404, like a missing deal.
    let stranger = w.storage.create_user(&w.other_team, "钱主管", Role::Supervisor, 0).unwrap();
    let code = w.code_for(&stranger);
    let (_, other) = w.sign_in(&stranger, &code).await;
    let other = vec![other.unwrap()];
    let theirs = w.http("GET", &format!("/console/deals/{}", big.id), &other, None, None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(!theirs.body.contains("二期注塑机"));
    let funnel = w.http("GET", "/console/funnel", &other, None, None).await;
    assert!(funnel.body.contains("id=\"total-deals\">0<"), "team B has no deals: {}", funnel.body);
    let garbage = w.http("GET", "/console/deals/not-an-id", &session, None, None).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);

    // The other pages answer.
    for uri in ["/console/stalls", "/console/scoreboard", "/console/scoreboard?period=2026-W49"] {
        let page = w.http("GET", uri, &session, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
        assert!(
            page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("form-action 'self'")
        );
    }
    // The trend: a rep's weekly figure against the team's mean over the last eight weeks.
    let trend = w
        .http(
            "GET",
            &format!("/console/scoreboard?metric=quote_revisions&rep={}", rep.scope.user_id),
            &session,
            None,
            None,
        )
        .await;
    assert_eq!(trend.status, StatusCode::OK, "{}", trend.body);
    assert!(
        trend.body.contains("id=\"trend-table\"") && trend.body.matches("<polyline").count() == 2,
        "{}",
        trend.body
    );
    let unknown = w.http("GET", "/console/scoreboard?metric=charm", &session, None, None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let bad = w.http("GET", "/console/scoreboard?period=2026-13", &session, None, None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "an error page");

    // Sign-out needs the session's CSRF token, then ends the session.
    let forged = w.http("POST", "/console/sign-out", &session, Some("csrf=forged"), None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = page.csrf();
    let out = w.http("POST", "/console/sign-out", &session, Some(&format!("csrf={csrf}")), None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = w.http("GET", "/console/funnel", &session, None, None).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session ended");
}

#[tokio::test]
async fn passwords_lockout_csrf_and_reps_at_the_sign_in() {
    let w = world();
    let boss = w.storage.create_user(&w.team, "赵主管", Role::Supervisor, 0).unwrap();
    let rep = w.storage.create_user(&w.team, "王磊", Role::Rep, 0).unwrap();
    w.storage.console_set_password(&boss, &hash_password("correct horse battery").unwrap(), 0).unwrap();

    let (ok, session) = w.sign_in(&boss, "correct horse battery").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(session.is_some());

    // A rep's valid code is refused, with a clear word.
    let code = w.code_for(&rep);
    let (refused, none) = w.sign_in(&rep, &code).await;
    assert_eq!((refused.status, none), (StatusCode::FORBIDDEN, None));
    assert!(refused.body.contains("主管和管理员"), "{}", refused.body);

    // A form without its sign-in cookie (another site's form) is refused.
    let form = w.http("GET", "/console/sign-in", &[], None, None).await;
    let body = format!("csrf={}&user={boss}&secret=correct+horse+battery", form.csrf());
    let forged = w.http("POST", "/console/sign-in", &[], Some(&body), None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie_value("fs_console").is_none());

    // Five wrong secrets lock the account; then even the right one is refused.
    for i in 0..4 {
        let (wrong, _) = w.sign_in(&boss, "wrong password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (locked, _) = w.sign_in(&boss, "wrong password").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    let (still, none) = w.sign_in(&boss, "correct horse battery").await;
    assert_eq!((still.status, none), (StatusCode::TOO_MANY_REQUESTS, None));
    assert!(still.body.contains("锁定"), "{}", still.body);

    // An unknown account and an empty form get the same answers as a wrong secret.
    let (unknown, _) = w.sign_in("no-such-user", "whatever").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let empty = w.http("POST", "/console/sign-in", &[], Some("user="), None).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_review_queue_merges_from_the_console_and_admins_issue_codes_and_revoke_devices() {
    let w = world();
    let rep = w.phone(&w.team, Role::Rep, "王磊");
    let a = rep
        .store
        .create(NewCustomer {
            company_name: "无锡华光电子科技有限公司".into(),
            phones: vec!["13900001111".into()],
            ..Default::default()
        })
        .unwrap();
    let b = rep
        .store
        .create(NewCustomer {
            company_name: "无锡华光电子科技".into(),
            phones: vec!["13900002222".into()],
            ..Default::default()
        })
        .unwrap();
    w.sync(&rep).await;
    assert_eq!(
        w.storage.pairs(&w.team, fieldsync_server::storage::PairStatus::Pending, 10).unwrap().len(),
        1
    );

    let boss = w.storage.create_user(&w.team, "赵主管", Role::Supervisor, 0).unwrap();
    let (_, session) = w.sign_in(&boss, &w.code_for(&boss)).await;
    let session = vec![session.unwrap()];
    let queue = w.http("GET", "/console/review", &session, None, None).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert!(
        queue.body.contains("无锡华光电子科技有限公司") && queue.body.contains("13900002222"),
        "both sides"
    );
    let csrf = queue.csrf();
    let (lo, hi) = if a.id < b.id { (a.id, b.id) } else { (b.id, a.id) };
    let forged = format!("csrf=nope&a={lo}&b={hi}&decision=merge");
    assert_eq!(
        w.http("POST", "/console/review", &session, Some(&forged), None).await.status,
        StatusCode::FORBIDDEN
    );
    let unknown = format!("csrf={csrf}&a={lo}&b={}&decision=merge", fieldsync_core::DocId::generate());
    assert_eq!(
        w.http("POST", "/console/review", &session, Some(&unknown), None).await.status,
        StatusCode::NOT_FOUND
    );
    let merge = format!("csrf={csrf}&a={lo}&b={hi}&decision=merge");
    let merged = w.http("POST", "/console/review", &session, Some(&merge), None).await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    assert!(w.storage.pairs(&w.team, fieldsync_server::storage::PairStatus::Pending, 10).unwrap().is_empty());
    w.sync(&rep).await;
    let merged_into: Vec<_> = [a.id, b.id]
        .iter()
        .filter_map(|id| rep.store.find::<fieldsync_core::model::Customer>(*id).unwrap())
        .filter_map(|c| c.merged_into)
        .collect();
    assert_eq!(merged_into.len(), 1, "the phone received the merge");

    // People: a supervisor sees them but may not issue codes or revoke.
    let people = w.http("GET", "/console/people", &session, None, None).await;
    assert_eq!(people.status, StatusCode::OK);
    assert!(people.body.contains("王磊") && !people.body.contains("/console/people/revoke"));
    let device = hex::encode(rep.scope.device_id);
    let csrf = people.csrf();
    let revoke = format!("csrf={csrf}&device={device}");
    let refused = w.http("POST", "/console/people/revoke", &session, Some(&revoke), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // An admin issues a code (shown once, with its QR code) that enrolls, and revokes the rep's phone.
    let admin_id = w.storage.create_user(&w.team, "孙管理员", Role::Admin, 0).unwrap();
    let (_, admin) = w.sign_in(&admin_id, &w.code_for(&admin_id)).await;
    let admin = vec![admin.unwrap()];
    let people = w.http("GET", "/console/people", &admin, None, None).await;
    let csrf = people.csrf();
    let issued = w
        .http(
            "POST",
            "/console/people/code",
            &admin,
            Some(&format!("csrf={csrf}&user={}", rep.scope.user_id)),
            None,
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert!(issued.body.contains("<svg class=\"qr\""), "a QR code");
    let at = issued.body.find("id=\"enrollment-code\">").unwrap() + 20;
    let code = issued.body[at..].split('<').next().unwrap().to_owned();
    assert!(!code.is_empty());
    let stranger = w.storage.create_user(&w.other_team, "钱", Role::Rep, 0).unwrap();
    let theirs = w
        .http("POST", "/console/people/code", &admin, Some(&format!("csrf={csrf}&user={stranger}")), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another team's user");
    let other_phone = w.phone(&w.other_team, Role::Rep, "孙");
    let other_device = hex::encode(other_phone.scope.device_id);
    let theirs = w
        .http(
            "POST",
            "/console/people/revoke",
            &admin,
            Some(&format!("csrf={csrf}&device={other_device}")),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another team's device");
    let revoke = format!("csrf={csrf}&device={device}");
    let done = w.http("POST", "/console/people/revoke", &admin, Some(&revoke), None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let api = w.http("GET", "/v1/kpi", &[], None, Some(&rep.token)).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "the revoked phone's token stops working");
    let still = w.http("GET", "/v1/kpi", &[], None, Some(&other_phone.token)).await;
    assert_eq!(still.status, StatusCode::OK, "the other team's phone is untouched");
}

/// When DSCN0012 was taken (its EXIF time), as in `server/tests/kpi.rs`.
const PHOTO_NOW: i64 = 1_224_685_789_000;
const SITE: (f64, f64) = (43.467448, 11.885127);

fn fix(metres_north: f64, accuracy_m: f64) -> fieldsync_core::model::Location {
    fieldsync_core::model::Location {
        lat: SITE.0 + metres_north / 111_195.0,
        lon: SITE.1,
        datum: fieldsync_core::model::Datum::Wgs84,
        source: fieldsync_core::model::FixSource::Gps,
        accuracy_m: Some(accuracy_m),
        at: None,
        mock: false,
    }
}

#[tokio::test]
async fn a_visits_evidence_shows_its_photo_plan_slip_and_verdict_to_its_team_only() {
    use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
    use fieldsync_core::model::{NewServiceSlip, NewVisit, SlipItem, Visit};
    use fieldsync_core::store::{CaptureContext, SlipSignature};
    const CONTEXT: CaptureContext = CaptureContext { utc_offset_minutes: 120, elapsed_since_sync_ms: None };
    let w = world();
    let rep = w.phone_at(&w.team, Role::Rep, "王磊", PHOTO_NOW);
    let customer = rep
        .store
        .create(NewCustomer {
            company_name: "Officine Meccaniche Toscane".into(),
            location: Some(fix(0.0, 5.0)),
            ..Default::default()
        })
        .unwrap();
    let visit: Visit = rep
        .store
        .create(NewVisit {
            customer_id: customer.id,
            opportunity_id: None,
            planned_at: PHOTO_NOW,
            notes: String::new(),
        })
        .unwrap();
    rep.store.check_in(visit.id, fix(120.0, 15.0), CONTEXT).unwrap();
    rep.clock.advance(60_000);
    let photo =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/exif/gps_DSCN0012.jpg"))
            .unwrap();
    let photo = rep.store.attach_photo(visit.id, &photo, Some(fix(30.0, 8.0)), CONTEXT).unwrap().photo;
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
    let strokes = SignatureStrokes {
        pad_width: 360.0,
        pad_height: 180.0,
        strokes: vec![
            [(30.0, 120.0), (60.0, 40.0), (90.0, 130.0), (120.0, 50.0)]
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| StrokePoint { x, y, t_ms: i as u32 * 12, pressure: 0.5 })
                .collect(),
        ],
    };
    rep.clock.advance(60_000);
    rep.store.sign_slip(slip.id, SlipSignature { signer_name: "王建国".into(), strokes, fix: None }).unwrap();
    w.sync(&rep).await;
    // The phone's blobs, uploaded as the app does (one whole-range PUT each).
    for blob in rep.store.pending_blobs().unwrap() {
        let bytes = std::fs::read(&blob.path).unwrap();
        let request = Request::builder()
            .method("PUT")
            .uri(format!("/v1/blobs/{}", blob.sha256))
            .header(header::AUTHORIZATION, format!("Bearer {}", rep.token))
            .header(header::CONTENT_RANGE, format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len()))
            .body(Body::from(bytes))
            .unwrap();
        let response = app(w.state.clone()).oneshot(request).await.unwrap();
        assert!(response.status().is_success(), "{}: {}", blob.sha256, response.status());
    }

    let boss = w.storage.create_user(&w.team, "赵主管", Role::Supervisor, 0).unwrap();
    let (_, session) = w.sign_in(&boss, &w.code_for(&boss)).await;
    let session = vec![session.unwrap()];
    // 22 October 2008 in the team's default zone (UTC+8).
    let list = w.http("GET", "/console/visits?day=2008-10-22", &session, None, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(&format!("/console/visits/{}", visit.id)), "{}", list.body);
    assert!(list.body.contains("id=\"effective\">1<"), "one effective visit: {}", list.body);
    let page = w.http("GET", &format!("/console/visits/{}", visit.id), &session, None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("有效拜访 · Effective visit"), "{}", page.body);
    assert!(page.body.contains("签名验证通过"), "the slip verifies");
    assert!(page.body.contains("120 m ±15 m"), "the check-in's distance and accuracy: {}", page.body);
    assert!(page.body.contains("<svg") && page.body.contains("客户 site"), "the plan");
    let thumb = photo.thumbnail_sha256.clone().unwrap_or(photo.sha256.clone());
    let img =
        w.http("GET", &format!("/console/visits/{}/blob/{thumb}", visit.id), &session, None, None).await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.headers[header::CONTENT_TYPE], "image/jpeg");
    let signed: fieldsync_core::model::ServiceSlip = rep.store.get(slip.id).unwrap();
    let png = signed.signature_png_sha256.clone().expect("a signature image");
    assert!(page.body.contains(&png));
    let sig = w.http("GET", &format!("/console/visits/{}/blob/{png}", visit.id), &session, None, None).await;
    assert_eq!(
        (sig.status, sig.headers[header::CONTENT_TYPE].to_str().unwrap()),
        (StatusCode::OK, "image/png")
    );
    // A blob the visit does not name, and malformed names: 404.
    for sha in [&"0".repeat(64), "../../etc/passwd", &thumb.to_uppercase()] {
        let other =
            w.http("GET", &format!("/console/visits/{}/blob/{sha}", visit.id), &session, None, None).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{sha}");
    }
    // Another team's supervisor: the visit and its photo are 404.
    let stranger = w.storage.create_user(&w.other_team, "钱主管", Role::Supervisor, 0).unwrap();
    let (_, other) = w.sign_in(&stranger, &w.code_for(&stranger)).await;
    let other = vec![other.unwrap()];
    assert_eq!(
        w.http("GET", &format!("/console/visits/{}", visit.id), &other, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let theirs =
        w.http("GET", &format!("/console/visits/{}/blob/{thumb}", visit.id), &other, None, None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let bad_day = w.http("GET", "/console/visits?day=2008-13-01", &session, None, None).await;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);
}

/// The rules form's fields for `radius` and `versions` (the rest as the page shows them).
fn rules_form(csrf: &str, radius: &str, versions: &str) -> String {
    let mut fields = vec![
        ("csrf", csrf.to_owned()),
        ("geofence_radius_m", radius.to_owned()),
        ("geofence_mode", "soft".to_owned()),
        ("required_customer_fields", "phones, address".to_owned()),
        ("alert_grace_hours", "24".to_owned()),
        ("pool_return_days", "30".to_owned()),
        ("max_owned_customers", "200".to_owned()),
        ("incentive_rules", versions.to_owned()),
        ("periods", "3".to_owned()),
    ];
    fields.push(("no_activity_ProposalSubmitted", "9".to_owned()));
    fields.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
}

const VERSION_1: &str = r#"[{"version": 1, "effective_from": "2008-01-01", "period": "month", "base_bonus_fen": 100000,
  "metrics": [{"metric": "effective_visits", "weight_bp": 10000, "target": 10}],
  "excess_tiers": [{"from_pct": 100, "to_pct": null, "rate_bp": 5000}], "gates": []}]"#;

#[tokio::test]
async fn rules_are_checked_in_place_saved_for_every_phone_and_tried_in_the_sandbox() {
    let w = world();
    let rep = w.phone(&w.team, Role::Rep, "王磊");
    let admin_id = w.storage.create_user(&w.team, "孙管理员", Role::Admin, 0).unwrap();
    let (_, admin) = w.sign_in(&admin_id, &w.code_for(&admin_id)).await;
    let admin = vec![admin.unwrap()];
    let page = w.http("GET", "/console/rules", &admin, None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("name=\"geofence_radius_m\"") && page.body.contains("value=\"300\""),
        "the defaults"
    );
    let csrf = page.csrf();

    // A number that is not one, and rules that break the checks: errors beside their fields,
    // nothing saved.
    let bad =
        w.http("POST", "/console/rules", &admin, Some(&rules_form(&csrf, "三百", VERSION_1)), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("id=\"geofence_radius_m-error\""), "{}", bad.body);
    assert!(bad.body.contains("aria-invalid=\"true\""));
    let negative = VERSION_1.replace("\"rate_bp\": 5000", "\"rate_bp\": -5");
    let bad =
        w.http("POST", "/console/rules", &admin, Some(&rules_form(&csrf, "250", &negative)), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("id=\"incentive_rules-error\""), "{}", bad.body);
    let not_json =
        w.http("POST", "/console/rules", &admin, Some(&rules_form(&csrf, "250", "[{")), None).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert!(w.storage.team_rules_document(&w.team).unwrap().is_none(), "nothing was saved");

    // A supervisor may look, not save.
    let boss = w.storage.create_user(&w.team, "赵主管", Role::Supervisor, 0).unwrap();
    let (_, supervisor) = w.sign_in(&boss, &w.code_for(&boss)).await;
    let supervisor = vec![supervisor.unwrap()];
    let look = w.http("GET", "/console/rules", &supervisor, None, None).await;
    assert!(look.body.contains("disabled"), "read-only for supervisors");
    let theirs = rules_form(&look.csrf(), "250", VERSION_1);
    assert_eq!(
        w.http("POST", "/console/rules", &supervisor, Some(&theirs), None).await.status,
        StatusCode::FORBIDDEN
    );
    let forged = rules_form("forged", "250", VERSION_1);
    assert_eq!(
        w.http("POST", "/console/rules", &admin, Some(&forged), None).await.status,
        StatusCode::FORBIDDEN
    );

    // Saved: the relay writes the rules document, and the rep's phone receives it.
    let saved =
        w.http("POST", "/console/rules", &admin, Some(&rules_form(&csrf, "250", VERSION_1)), None).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    w.sync(&rep).await;
    let rules = rep.store.team_rules().unwrap().expect("the phone has the rules");
    assert_eq!(rules.geofence_radius_m, 250.0);
    assert_eq!(rules.required_customer_fields, ["phones", "address"]);
    let proposal = rules.stage_rules.iter().find(|r| r.stage == Stage::ProposalSubmitted).unwrap();
    assert_eq!(proposal.no_activity_days, 9);
    assert_eq!(rules.incentive_rules.len(), 1);
    let page = w.http("GET", "/console/rules?saved=1", &admin, None, None).await;
    assert!(page.body.contains("value=\"250\"") && page.body.contains("已保存"));

    // The sandbox: a second version tried against the first, nothing saved.
    let two = VERSION_1.trim_end_matches(']').to_owned()
        + r#", {"version": 2, "effective_from": "2030-01-01", "period": "month", "base_bonus_fen": 120000,
  "metrics": [{"metric": "effective_visits", "weight_bp": 10000, "target": 8}],
  "excess_tiers": [{"from_pct": 100, "to_pct": null, "rate_bp": 5000}], "gates": []}]"#;
    let before = w
        .storage
        .load_document(w.storage.team_rules_document(&w.team).unwrap().unwrap())
        .unwrap()
        .unwrap()
        .snapshot;
    let tried =
        w.http("POST", "/console/rules/sandbox", &admin, Some(&rules_form(&csrf, "250", &two)), None).await;
    assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
    assert!(tried.body.contains("id=\"sandbox\"") && tried.body.contains("规则没有保存"), "{}", tried.body);
    let after = w
        .storage
        .load_document(w.storage.team_rules_document(&w.team).unwrap().unwrap())
        .unwrap()
        .unwrap()
        .snapshot;
    assert_eq!(before, after, "the sandbox saved nothing");
    let too_many = rules_form(&csrf, "250", &two).replace("periods=3", "periods=999");
    let refused = w.http("POST", "/console/rules/sandbox", &admin, Some(&too_many), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("id=\"periods-error\""), "{}", refused.body);
}

#[tokio::test]
async fn an_admin_imports_a_csv_whose_duplicates_merge_and_whose_bad_rows_are_reported() {
    let w = world();
    let rep = w.phone(&w.team, Role::Rep, "王磊");
    rep.store
        .create(NewCustomer {
            company_name: "无锡华光电子科技有限公司".into(),
            phones: vec!["13900001111".into()],
            ..Default::default()
        })
        .unwrap();
    w.sync(&rep).await;
    let admin_id = w.storage.create_user(&w.team, "孙管理员", Role::Admin, 0).unwrap();
    let (_, admin) = w.sign_in(&admin_id, &w.code_for(&admin_id)).await;
    let admin = vec![admin.unwrap()];
    let page = w.http("GET", "/console/import", &admin, None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();

    let csv = "公司名称,电话,地址,备注\n无锡华光电子科技有限公司,13900001111,无锡,老客户\n常州恒达轴承,13900004444,常州,\n,13900009999,,没有名字\n";
    let upload = |csrf: &str, owner: &str, file_name: &str, body: &str| {
        let boundary = "fieldsyncboundary";
        let mut form = String::new();
        for (name, value) in [("csrf", csrf), ("owner", owner)] {
            form.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        form.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{body}\r\n--{boundary}--\r\n"
        ));
        Request::builder()
            .method("POST")
            .uri("/console/import")
            .header(header::COOKIE, admin.join("; "))
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(form))
            .unwrap()
    };
    let send = |request: Request<Body>| async {
        let response = app(w.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body =
            String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
        (status, body)
    };
    // Refusals first: a forged form, an owner of no team of ours, a format it cannot read.
    assert_eq!(send(upload("forged", &rep.scope.user_id, "list.csv", csv)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        send(upload(&csrf, &admin_id, "list.csv", csv)).await.0,
        StatusCode::BAD_REQUEST,
        "an admin is no rep"
    );
    let (status, body) = send(upload(&csrf, &rep.scope.user_id, "list.pdf", csv)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = send(upload(&csrf, &rep.scope.user_id, "list.csv", "电话\n13900001111\n")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no company column: {body}");
    assert_eq!(w.storage.teams().unwrap().len(), 2);

    let (status, body) = send(upload(&csrf, &rep.scope.user_id, "list.csv", csv)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let value = |id: &str| {
        let at =
            body.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("{id} in {body}")) + id.len() + 6;
        body[at..].split('<').next().unwrap().to_owned()
    };
    assert_eq!(
        [value("rows"), value("created"), value("merged"), value("skipped")],
        ["3", "1", "1", "1"],
        "{body}"
    );
    assert!(body.contains("第 4 行"), "the bad row is named by its row number: {body}");
    assert!(
        body.contains("<ol id=\"progress\"") && body.contains("已写入 2 / 2"),
        "a line per batch: {body}"
    );
    assert!(body.trim_end().ends_with("</html>"), "the streamed page is whole");
    assert!(body.contains("备注"), "the ignored column is named");

    // The rep's phone receives the new customer, theirs.
    w.sync(&rep).await;
    let found = rep.store.customers_by_name_prefix("常州恒达", 10).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let listing = rep.store.ownership(found[0].id).unwrap().expect("a listing");
    assert_eq!(listing.owner_user_id.as_deref(), Some(rep.scope.user_id.as_str()));
}
