//! Alert delivery end to end over real HTTP on loopback: supervisors' devices register Web Push
//! subscriptions with the relay, alerts are written into the relay's `alerts` table (what the
//! stall scheduler does), and push receivers on loopback get the messages, which the phone's
//! keys decrypt and whose VAPID tokens verify. Receivers that fail, vanish or hang show that
//! retries, subscription removal and timeouts work, and a restarted relay sends nothing twice.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_core::funnel::{DAY_MS, payload};
use fieldsync_core::model::{Alert, Provenance, Stage, StallKind, StallLevel};
use fieldsync_core::push::{EndpointSecurity, PushEndpoint, SubscriptionKeys};
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::{DeviceId, DeviceIdentity, DocId};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::delivery::PushConfig;
use fieldsync_server::http::app::{AppState, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const CONTACT: &str = "mailto:ops@fieldsync.example";

// ---------------------------------------------------------------- push receivers on loopback

/// How a receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Hang,
}

#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    /// A receiver on a free loopback port answering `script` in turn, then 201; returns its URL.
    async fn start(script: &[Reply]) -> (Receiver, String) {
        let receiver =
            Receiver { got: Arc::default(), script: Arc::new(Mutex::new(script.iter().copied().collect())) };
        let router = axum::Router::new()
            .route("/push/{id}", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, format!("http://{address}/push/{}", hex::encode(rand16())))
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let headers = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    r.got.lock().unwrap().push(Received { headers, body: body.to_vec(), at: Instant::now() });
    let reply = r.script.lock().unwrap().pop_front().unwrap_or(Reply::Status(201));
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Reply::RetryAfter(s, secs) => {
            (StatusCode::from_u16(s).unwrap(), [("retry-after", secs.to_string())]).into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::CREATED.into_response()
        }
    }
}

fn rand16() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b
}

// ---------------------------------------------------------------- a relay and its people

struct World {
    state: AppState,
    dir: tempfile::TempDir,
    team_id: String,
    supervisors: Vec<String>,
    admin: String,
    rep: String,
}

fn push_config() -> PushConfig {
    PushConfig {
        contact: CONTACT.into(),
        allow_insecure_loopback: true,
        request_timeout_secs: 1,
        backoff_base_ms: 100,
        backoff_max_ms: 2000,
        max_attempts: 3,
        poll_interval_secs: 1,
        stream_keepalive_secs: 1,
        ..PushConfig::default()
    }
}

fn relay_config(dir: &std::path::Path, push: PushConfig) -> RelayConfig {
    RelayConfig { data_dir: dir.to_owned(), push, ..Default::default() }
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn authed(method: &str, uri: &str, token: &str, body: Option<String>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap()
}

async fn enroll(state: &AppState, code: &str) -> String {
    let identity = DeviceIdentity::generate().unwrap();
    let key = identity.public_key();
    let body = json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
    });
    let request = Request::post("/v1/enroll")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, body) = call(state, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn world(push: PushConfig) -> World {
    let dir = tempfile::tempdir().unwrap();
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "east".into(),
            reps: 1,
            supervisors: 2,
            admins: 1,
        },
    )
    .unwrap();
    let state = AppState::open(relay_config(dir.path(), push)).unwrap();
    let users = boot["users"].as_array().unwrap();
    let code = |role: &str, n: usize| {
        users.iter().filter(|u| u["role"] == role).nth(n).unwrap()["code"].as_str().unwrap().to_owned()
    };
    World {
        rep: enroll(&state, &code("rep", 0)).await,
        supervisors: vec![
            enroll(&state, &code("supervisor", 0)).await,
            enroll(&state, &code("supervisor", 1)).await,
        ],
        admin: enroll(&state, &code("admin", 0)).await,
        team_id: boot["team_id"].as_str().unwrap().to_owned(),
        state,
        dir,
    }
}

/// A phone's new subscription keys and the JSON it registers for `endpoint`.
fn phone_subscription(endpoint: &str) -> (SubscriptionKeys, String) {
    let keys = SubscriptionKeys::generate().unwrap();
    let endpoint = PushEndpoint::parse(endpoint, EndpointSecurity::AllowInsecureLoopback).unwrap();
    let json = keys.subscription(endpoint).to_json();
    (keys, json)
}

async fn register(state: &AppState, token: &str, body: &str) -> (StatusCode, Value) {
    call(state, authed("POST", "/v1/push/subscriptions", token, Some(body.to_owned()))).await
}

/// Registers a new phone subscription to `endpoint` for the device holding `token`.
async fn subscribe(state: &AppState, token: &str, endpoint: &str) -> (SubscriptionKeys, String) {
    let (keys, json) = phone_subscription(endpoint);
    let (status, body) = register(state, token, &json).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (keys, body["subscription_id"].as_str().unwrap().to_owned())
}

/// What the stall scheduler does: writes an alert row and wakes the deliverer.
fn raise(w: &World, level: &str, payload: &[u8]) -> ([u8; 16], [u8; 16]) {
    let (alert_id, opportunity_id) = (rand16(), rand16());
    raise_with(w, level, payload, alert_id, opportunity_id);
    (alert_id, opportunity_id)
}

fn raise_with(
    w: &World,
    level: &str,
    payload: &[u8],
    alert_id: [u8; 16],
    opportunity_id: [u8; 16],
) -> [u8; 16] {
    let db = rusqlite::Connection::open(w.dir.path().join("relay.sqlite")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "INSERT INTO alerts (alert_id, key, team_id, opportunity_id, level, payload, raised_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            &alert_id[..],
            format!("test-{}", hex::encode(alert_id)),
            w.team_id,
            &opportunity_id[..],
            level,
            payload,
            fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
        ],
    )
    .unwrap();
    w.state.deliverer.notify();
    opportunity_id
}

/// A deal stuck in 方案提交, as the scheduler raises it.
fn stalled_deal_alert() -> Alert {
    let now = fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock);
    let opportunity_id = DocId::generate();
    let key = format!("{opportunity_id}/ProposalSubmitted/0/no_activity/supervisor/0");
    Alert {
        id: fieldsync_core::funnel::alert_id(&key),
        key,
        opportunity_id,
        customer_id: DocId::generate(),
        opportunity_title: "苏州精工 注塑机二期".into(),
        owner: "李娜".into(),
        stage: Stage::ProposalSubmitted,
        level: StallLevel::Supervisor,
        kinds: vec![StallKind::NoActivity],
        stage_entered_at: now - 9 * DAY_MS,
        last_activity_at: now - 9 * DAY_MS,
        due_at: now - DAY_MS,
        threshold_days: 8,
        rep_last_sync_at: Some(now - 3_600_000),
        raised_at: now,
        provenance: Provenance { created_at: now, created_by: DeviceId::from_bytes([9; 16]) },
    }
}

async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn log(w: &World) -> Vec<Value> {
    let (status, body) =
        call(&w.state, authed("GET", "/v1/push/deliveries?limit=1000", &w.supervisors[0], None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

fn outcomes_for(log: &[Value], subscription: &str) -> Vec<String> {
    let mut lines: Vec<&Value> = log.iter().filter(|l| l["subscription_id"] == subscription).collect();
    lines.sort_by_key(|l| l["attempt"].as_u64());
    lines.iter().map(|l| l["outcome"].as_str().unwrap().to_owned()).collect()
}

/// Checks the VAPID header (RFC 8292) of a received request: ES256 signature by the relay's
/// key, audience the receiver's origin, expiry within 24 h, the configured contact.
fn check_vapid(received: &Received, relay_key: &str, origin: &str) {
    let authorization = &received.headers["authorization"];
    let (t, k) = authorization.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
    assert_eq!(k, relay_key);
    let (signing_input, signature) = t.rsplit_once('.').unwrap();
    let public = URL_SAFE_NO_PAD.decode(k).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
        .verify(signing_input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap())
        .expect("the VAPID signature verifies with the relay's public key");
    let (header, claims) = signing_input.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    assert_eq!(claims["sub"], CONTACT);
    let now = fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock) / 1000;
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp} now {now}");
}

fn origin_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("http://{}", rest.split('/').next().unwrap())
}

// ---------------------------------------------------------------- the tests

#[tokio::test]
async fn an_alert_reaches_each_recipient_device_encrypted_and_vapid_signed() {
    let w = world(push_config()).await;
    let (s1, url1) = Receiver::start(&[]).await;
    let (s2, url2) = Receiver::start(&[]).await;
    let (admin_rx, admin_url) = Receiver::start(&[]).await;
    let (keys1, _) = subscribe(&w.state, &w.supervisors[0], &url1).await;
    let (keys2, _) = subscribe(&w.state, &w.supervisors[1], &url2).await;
    let (admin_keys, _) = subscribe(&w.state, &w.admin, &admin_url).await;
    let (status, vapid) = call(&w.state, authed("GET", "/v1/push/vapid", &w.admin, None)).await;
    assert_eq!(status, StatusCode::OK);
    let relay_key = vapid["public_key"].as_str().unwrap().to_owned();

    // A supervisor-level alert, as the scheduler encodes it, goes to both supervisors, not to
    // the admin.
    let alert = stalled_deal_alert();
    let encoded = payload::encode(&alert);
    let payload = encoded.as_slice();
    let opportunity =
        raise_with(&w, "supervisor", payload, *alert.id.as_bytes(), *alert.opportunity_id.as_bytes());
    until("both supervisors' messages", Duration::from_secs(10), || s1.count() == 1 && s2.count() == 1).await;
    for (receiver, keys, url) in [(&s1, &keys1, &url1), (&s2, &keys2, &url2)] {
        let got = &receiver.received()[0];
        assert_eq!(keys.decrypt(&got.body).unwrap(), payload, "the phone's keys decrypt the alert");
        assert_eq!(payload::decode_push(keys, &got.body).unwrap(), alert, "and read it as a typed alert");
        assert_eq!(got.headers["content-encoding"], "aes128gcm");
        assert_eq!(got.headers["urgency"], "normal");
        assert_eq!(got.headers["topic"], hex::encode(opportunity));
        let ttl: u32 = got.headers["ttl"].parse().unwrap();
        assert!((86_390..=86_400).contains(&ttl), "TTL {ttl}");
        check_vapid(got, &relay_key, &origin_of(url));
    }

    // An escalation also reaches the admin, with high urgency.
    let escalation = br#"{"v":1,"title":"pump retrofit","level":"escalation"}"#;
    raise(&w, "escalation", escalation);
    until("the escalation everywhere", Duration::from_secs(10), || {
        s1.count() == 2 && s2.count() == 2 && admin_rx.count() == 1
    })
    .await;
    let got = &admin_rx.received()[0];
    assert_eq!(admin_keys.decrypt(&got.body).unwrap(), escalation);
    assert_eq!(got.headers["urgency"], "high");
    assert_eq!(s1.received()[1].headers["urgency"], "high");
    // Nothing more arrives later: one message per (alert, subscription).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((s1.count(), s2.count(), admin_rx.count()), (2, 2, 1));
    let log = log(&w).await;
    assert_eq!(log.len(), 5, "{log:?}");
    assert!(log.iter().all(|l| l["outcome"] == "accepted" && l["status"] == 201), "{log:?}");
}

#[tokio::test]
async fn failing_push_services_are_retried_with_backoff_and_gone_subscriptions_removed() {
    let w = world(push_config()).await;
    let (flaky, flaky_url) = Receiver::start(&[Reply::Status(500)]).await;
    let (busy, busy_url) = Receiver::start(&[Reply::RetryAfter(429, 1)]).await;
    let (gone, gone_url) = Receiver::start(&[Reply::Status(410)]).await;
    let (down, down_url) =
        Receiver::start(&[Reply::Status(503), Reply::Status(503), Reply::Status(503)]).await;
    let (flaky_keys, flaky_id) = subscribe(&w.state, &w.supervisors[0], &flaky_url).await;
    let (_, busy_id) = subscribe(&w.state, &w.supervisors[0], &busy_url).await;
    let (_, gone_id) = subscribe(&w.state, &w.supervisors[1], &gone_url).await;
    let (_, down_id) = subscribe(&w.state, &w.supervisors[1], &down_url).await;

    raise(&w, "supervisor", br#"{"v":1}"#);
    until("the retries", Duration::from_secs(10), || {
        flaky.count() == 2 && busy.count() == 2 && gone.count() == 1 && down.count() == 3
    })
    .await;
    // 500 then 201: the retry carries a message the phone still decrypts.
    let attempts = flaky.received();
    assert_eq!(flaky_keys.decrypt(&attempts[1].body).unwrap(), br#"{"v":1}"#);
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(50), "backoff before the retry");
    // 429 with Retry-After: 1 waits at least a second.
    let attempts = busy.received();
    assert!(
        attempts[1].at - attempts[0].at >= Duration::from_millis(950),
        "{:?}",
        attempts[1].at - attempts[0].at
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = log(&w).await;
    assert_eq!(outcomes_for(&log, &flaky_id), ["retry", "accepted"]);
    assert_eq!(outcomes_for(&log, &busy_id), ["retry", "accepted"]);
    assert_eq!(outcomes_for(&log, &gone_id), ["gone"]);
    // Three 503s with max_attempts = 3: given up, not retried forever.
    assert_eq!(outcomes_for(&log, &down_id), ["retry", "retry", "gave_up"]);
    assert_eq!(down.count(), 3);

    // The gone subscription is no longer listed, and the next alert skips it.
    let (_, listed) = call(&w.state, authed("GET", "/v1/push/subscriptions", &w.supervisors[1], None)).await;
    let listed: Vec<&str> = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscription_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [down_id.as_str()]);
    raise(&w, "supervisor", br#"{"v":1,"n":2}"#);
    until("the second alert", Duration::from_secs(10), || flaky.count() == 3 && down.count() == 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gone.count(), 1, "nothing is sent to a subscription the push service called gone");

    let (_, metrics) = {
        let response = app(w.state.clone())
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        (
            response.status(),
            String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap(),
        )
    };
    assert!(
        metrics.contains(r#"fieldsync_push_attempts_total{provider="webpush",outcome="gone"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"fieldsync_push_deliveries{state="gone"} 1"#), "{metrics}");
    assert!(metrics.contains("fieldsync_alerts_fanned_out_total 2"), "{metrics}");
}

#[tokio::test]
async fn a_hanging_push_service_times_out_without_holding_back_the_others() {
    let w = world(push_config()).await;
    let (hanging, hanging_url) = Receiver::start(&[Reply::Hang, Reply::Hang, Reply::Hang]).await;
    let (fine, fine_url) = Receiver::start(&[]).await;
    let (_, hanging_id) = subscribe(&w.state, &w.supervisors[0], &hanging_url).await;
    subscribe(&w.state, &w.supervisors[1], &fine_url).await;
    let started = Instant::now();
    raise(&w, "supervisor", br#"{"v":1}"#);
    until("the healthy receiver", Duration::from_secs(5), || fine.count() == 1).await;
    assert!(started.elapsed() < Duration::from_millis(900), "the healthy device waited for the hanging one");
    until("three timed-out attempts", Duration::from_secs(15), || hanging.count() == 3).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let log = log(&w).await;
    assert_eq!(outcomes_for(&log, &hanging_id), ["timeout", "timeout", "gave_up"]);
    assert_eq!(fine.count(), 1);
}

#[tokio::test]
async fn a_restarted_relay_sends_pending_deliveries_once_and_acknowledged_ones_never_again() {
    let mut config = push_config();
    config.backoff_base_ms = 1500;
    config.backoff_max_ms = 1500;
    let w = world(config.clone()).await;
    let (done, done_url) = Receiver::start(&[]).await;
    let (later, later_url) = Receiver::start(&[Reply::Status(503)]).await;
    let (done_keys, _) = subscribe(&w.state, &w.supervisors[0], &done_url).await;
    subscribe(&w.state, &w.supervisors[1], &later_url).await;
    raise(&w, "supervisor", br#"{"v":1,"restart":true}"#);
    until("first attempts", Duration::from_secs(5), || done.count() == 1 && later.count() == 1).await;
    // Stop the relay while the second delivery waits for its retry, then start a new one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.state.deliverer.close().await;
    let World { state, dir, .. } = w;
    drop(state);
    let state = AppState::open(relay_config(dir.path(), config)).unwrap();
    until("the retry after the restart", Duration::from_secs(10), || later.count() == 2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(done.count(), 1, "an acknowledged delivery is never sent again");
    assert_eq!(later.count(), 2, "the pending delivery is sent once more, then done");
    assert_eq!(done_keys.decrypt(&done.received()[0].body).unwrap(), br#"{"v":1,"restart":true}"#);
    state.deliverer.close().await;
    let db = rusqlite::Connection::open(dir.path().join("relay.sqlite")).unwrap();
    let states: Vec<(String, i64)> = db
        .prepare("SELECT state, attempts FROM push_deliveries ORDER BY attempts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(states, [("delivered".to_owned(), 1), ("delivered".to_owned(), 2)]);
}

#[tokio::test]
async fn malformed_subscriptions_are_refused_with_a_clear_error_and_nothing_is_stored() {
    let mut config = push_config();
    config.allow_insecure_loopback = false;
    let w = world(config).await;
    let (keys, good) = phone_subscription("https://push.example.net/wpush/v2/abc");
    let good: Value = serde_json::from_str(&good).unwrap();
    let with = |path: &str, value: Value| {
        let mut v = good.clone();
        let mut target = &mut v;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            target = &mut target[*p];
        }
        target[parts[parts.len() - 1]] = value;
        v.to_string()
    };
    let off_curve = {
        let mut point = keys.public().p256dh();
        point[64] ^= 1;
        URL_SAFE_NO_PAD.encode(point)
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("not json", "{endpoint".into(), "bad_subscription", "not JSON"),
        ("no keys", json!({ "endpoint": good["endpoint"] }).to_string(), "bad_subscription", "keys"),
        ("plain http", with("endpoint", json!("http://127.0.0.1:9/push")), "bad_subscription", "https://"),
        ("ftp", with("endpoint", json!("ftp://push.example.net/x")), "bad_subscription", "https://"),
        ("bad base64", with("keys.p256dh", json!("not base64!")), "bad_subscription", "base64url"),
        ("short auth", with("keys.auth", json!("AAAA")), "bad_subscription", "auth is 3 bytes"),
        ("off the curve", with("keys.p256dh", json!(off_curve)), "bad_subscription", "curve"),
        (
            "unknown provider",
            json!({ "provider": "pigeon", "token": "x" }).to_string(),
            "bad_subscription",
            "pigeon",
        ),
        (
            "fcm not configured",
            json!({ "provider": "fcm", "token": "abc" }).to_string(),
            "provider_not_configured",
            "fcm",
        ),
    ];
    for (name, body, code, says) in cases {
        let (status, answer) = register(&w.state, &w.supervisors[0], &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{name}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
    }
    let (status, answer) = register(&w.state, &w.rep, &good.to_string()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (status, _) = register(&w.state, "not-a-token", &good.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = register(&w.state, &w.supervisors[0], &"x".repeat(20_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    for token in [&w.supervisors[0], &w.rep] {
        let (_, listed) = call(&w.state, authed("GET", "/v1/push/subscriptions", token, None)).await;
        assert_eq!(listed["subscriptions"], json!([]), "nothing was stored");
    }
    // The real thing is accepted; another device cannot remove it, its own device can.
    let (status, answer) = register(&w.state, &w.supervisors[0], &good.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer["subscription_id"].as_str().unwrap();
    let uri = format!("/v1/push/subscriptions/{id}");
    let (status, _) = call(&w.state, authed("DELETE", &uri, &w.supervisors[1], None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&w.state, authed("DELETE", "/v1/push/subscriptions/zz", &w.supervisors[0], None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&w.state, authed("DELETE", &uri, &w.supervisors[0], None)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(&w.state, authed("GET", "/v1/push/subscriptions", &w.supervisors[0], None)).await;
    assert_eq!(listed["subscriptions"], json!([]));
    // Reps do not read the delivery log.
    let (status, _) = call(&w.state, authed("GET", "/v1/push/deliveries", &w.rep, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&w.state, authed("GET", "/v1/push/deliveries?limit=0", &w.admin, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Reads an SSE response until `done` says the text so far is enough.
async fn read_stream(
    response: &mut reqwest::Response,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    let started = Instant::now();
    while !done(&text) {
        let left = limit.checked_sub(started.elapsed()).unwrap_or_else(|| panic!("stream so far: {text:?}"));
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => panic!("the stream ended: {text:?}"),
            Ok(Err(e)) => panic!("stream error {e}: {text:?}"),
            Err(_) => panic!("timed out; stream so far: {text:?}"),
        }
    }
    text
}

#[tokio::test]
async fn the_live_stream_sends_each_new_alert_to_the_teams_supervisors() {
    let w = world(push_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let router = app(w.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = fieldsync_server::delivery::http_client(Duration::from_secs(60)).unwrap();
    let open =
        |token: &str| client.get(format!("http://{address}/v1/alerts/stream")).bearer_auth(token).send();
    let rep = open(&w.rep).await.unwrap();
    assert_eq!(rep.status(), 403);
    let mut supervisor = open(&w.supervisors[0]).await.unwrap();
    assert_eq!(supervisor.status(), 200);
    assert_eq!(supervisor.headers()["content-type"], "text/event-stream");
    let mut admin = open(&w.admin).await.unwrap();
    // Keep-alive comments arrive while nothing happens.
    read_stream(&mut supervisor, Duration::from_secs(5), |t| t.contains(":")).await;

    let payload = r#"{"v":1,"title":"华东 pump retrofit"}"#;
    let (alert_id, _) = raise(&w, "supervisor", payload.as_bytes());
    let text = read_stream(&mut supervisor, Duration::from_secs(5), |t| {
        t.contains("event: alert") && t.contains(payload)
    })
    .await;
    assert!(text.contains(&format!("id: {}", hex::encode(alert_id))), "{text}");
    // The admin's stream sees the escalation, not the supervisor-level alert.
    let (escalation_id, _) = raise(&w, "escalation", br#"{"v":1,"escalated":true}"#);
    let text = read_stream(&mut admin, Duration::from_secs(5), |t| t.contains("escalated")).await;
    assert!(text.contains(&format!("id: {}", hex::encode(escalation_id))), "{text}");
    assert!(!text.contains(&hex::encode(alert_id)), "{text}");
    // Closing the deliverer ends the streams (what a graceful shutdown does).
    w.state.deliverer.close().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = supervisor.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end");
}

/// Enrolls one supervisor and one admin of a second tenant in the same relay; returns their tokens.
async fn other_tenant(w: &World) -> (String, String) {
    let boot = fieldsync_server::cli::admin::run(
        w.dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "other".into(),
            team: "west".into(),
            reps: 0,
            supervisors: 1,
            admins: 1,
        },
    )
    .unwrap();
    let users = boot["users"].as_array().unwrap();
    let code =
        |role: &str| users.iter().find(|u| u["role"] == role).unwrap()["code"].as_str().unwrap().to_owned();
    (enroll(&w.state, &code("supervisor")).await, enroll(&w.state, &code("admin")).await)
}

#[tokio::test]
async fn another_tenants_supervisor_registering_the_same_endpoint_neither_takes_it_over_nor_deletes_it() {
    let w = world(push_config()).await;
    let (victim_rx, url) = Receiver::start(&[]).await;
    let (victim_keys, victim_id) = subscribe(&w.state, &w.supervisors[0], &url).await;
    let (attacker, attacker_admin) = other_tenant(&w).await;

    // The attacker knows the endpoint and registers it with keys of their own: refused.
    let (_, attacker_json) = phone_subscription(&url);
    let (status, answer) = register(&w.state, &attacker, &attacker_json).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "subscription_in_use", "{answer}");
    // So does a second device of the victim's own team: an address belongs to one device.
    let (status, _) = register(&w.state, &w.supervisors[1], &attacker_json).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The victim's row is untouched: same id, same owner, and the attacker sees nothing.
    let (_, listed) = call(&w.state, authed("GET", "/v1/push/subscriptions", &w.supervisors[0], None)).await;
    let listed = listed["subscriptions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["subscription_id"], victim_id.as_str());
    let (_, theirs) = call(&w.state, authed("GET", "/v1/push/subscriptions", &attacker, None)).await;
    assert_eq!(theirs["subscriptions"], json!([]));

    // Neither the attacker nor their tenant's admin can delete it.
    let uri = format!("/v1/push/subscriptions/{victim_id}");
    for token in [&attacker, &attacker_admin] {
        let (status, answer) = call(&w.state, authed("DELETE", &uri, token, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    }

    // The victim still receives alerts, encrypted to the victim's keys (not the attacker's).
    let alert = br#"{"v":1,"title":"still mine","level":"supervisor"}"#;
    raise(&w, "supervisor", alert);
    until("the victim's alert", Duration::from_secs(10), || victim_rx.count() == 1).await;
    assert_eq!(victim_keys.decrypt(&victim_rx.received()[0].body).unwrap(), alert);

    // Once the victim unregisters, the address is free; the next owner gets a fresh row, so the
    // victim's old id (and the delivery log written for it) never changes hands.
    let (status, _) = call(&w.state, authed("DELETE", &uri, &w.supervisors[0], None)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = register(&w.state, &attacker, &attacker_json).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_ne!(answer["subscription_id"], victim_id.as_str());
}

#[tokio::test]
async fn the_same_device_registering_its_endpoint_again_keeps_its_one_subscription() {
    let w = world(push_config()).await;
    let (_, url) = Receiver::start(&[]).await;
    let (_, first) = subscribe(&w.state, &w.supervisors[0], &url).await;
    // New keys for the same endpoint (the phone rotated them): same row, updated.
    let (_, again) = subscribe(&w.state, &w.supervisors[0], &url).await;
    assert_eq!(first, again);
    let (_, listed) = call(&w.state, authed("GET", "/v1/push/subscriptions", &w.supervisors[0], None)).await;
    assert_eq!(listed["subscriptions"].as_array().unwrap().len(), 1);
}
