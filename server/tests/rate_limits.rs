//! Rate limits (docs/operations.md, "Rate limits"): enrollment lockouts per address and per device
//! key, unknown tokens per address, and per-device limits on sync, blobs and the rest; every
//! refusal a 429 in the documented JSON with `Retry-After`, and nobody else slowed down by it.
//!
//! The security test found 300 wrong enrollment codes in half a second got no lockout; before
//! these limits every request below was answered 401 or 200.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::DeviceIdentity;
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::sync::wire::{CONTENT_TYPE, SyncRequest};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use fieldsync_server::http::limits::{Rate, RateLimits};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Relay {
    state: AppState,
    codes: Vec<String>,
    _dir: tempfile::TempDir,
}

fn relay(limits: RateLimits) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "t".into(),
            reps: 3,
            supervisors: 0,
            admins: 0,
        },
    )
    .unwrap();
    let config = RelayConfig {
        data_dir: dir.path().to_owned(),
        scheduler_interval_secs: 0,
        rate_limits: limits,
        ..Default::default()
    };
    let codes =
        boot["users"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap().to_owned()).collect();
    Relay { state: AppState::open(config).unwrap(), codes, _dir: dir }
}

fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    request
}

/// Status, `Retry-After` and JSON body of one call.
async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, Option<u64>, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after =
        response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() || (status.is_success() && !bytes.starts_with(b"{")) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, retry_after, body)
}

fn enroll_request(code: &str, identity: &DeviceIdentity) -> Request<Body> {
    let key = identity.public_key();
    let body = json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
    });
    Request::post("/v1/enroll")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn sync_request(token: &str) -> Request<Body> {
    Request::post("/v1/sync")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .body(Body::from(SyncRequest::default().encode()))
        .unwrap()
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn enroll(state: &AppState, ip: [u8; 4], code: &str) -> String {
    let (status, _, body) =
        call(state, from(ip, enroll_request(code, &DeviceIdentity::generate().unwrap()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn wrong_enrollment_codes_lock_the_address_out_and_nobody_else() {
    let r = relay(RateLimits::default());
    let attacker = [203, 0, 113, 9];
    let burst = RateLimits::default().enroll_failures_per_ip.burst;
    let mut answers = Vec::new();
    for i in 0..300 {
        let identity = DeviceIdentity::generate().unwrap();
        answers
            .push(call(&r.state, from(attacker, enroll_request(&format!("WRONG{i:05}"), &identity))).await);
    }
    let wrong =
        answers.iter().filter(|(s, _, b)| *s == StatusCode::UNAUTHORIZED && code_of(b) == "invalid_code");
    assert_eq!(wrong.count() as u32, burst, "only the burst of wrong codes is even looked up");
    let (status, retry_after, body) = answers.last().unwrap();
    assert_eq!((*status, code_of(body)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{body}");
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "{retry_after:?}");
    // Locked out means locked out: the right code from that address is refused too, and kept.
    let (status, _, _) =
        call(&r.state, from(attacker, enroll_request(&r.codes[0], &DeviceIdentity::generate().unwrap())))
            .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another address enrolls with that same code at once.
    enroll(&r.state, [198, 51, 100, 7], &r.codes[0]).await;
}

#[tokio::test]
async fn one_device_key_failing_from_many_addresses_is_locked_out() {
    let r = relay(RateLimits::default());
    let identity = DeviceIdentity::generate().unwrap();
    let burst = RateLimits::default().enroll_failures_per_key.burst;
    for i in 0..burst {
        let ip = [10, 0, 0, i as u8 + 1];
        let (status, _, body) = call(&r.state, from(ip, enroll_request("NOTACODE", &identity))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, retry_after, body) =
        call(&r.state, from([10, 0, 1, 1], enroll_request(&r.codes[1], &identity))).await;
    assert_eq!((status, code_of(&body)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(retry_after.is_some());
    // The code was not used up by the refusal: a new key enrolls with it.
    enroll(&r.state, [10, 0, 1, 1], &r.codes[1]).await;
}

#[tokio::test]
async fn unknown_tokens_lock_the_address_out_before_any_lookup() {
    let r = relay(RateLimits::default());
    let token = enroll(&r.state, [192, 0, 2, 1], &r.codes[0]).await;
    let burst = RateLimits::default().token_failures_per_ip.burst;
    let guesser = [192, 0, 2, 66];
    for i in 0..burst {
        let (status, _, body) = call(&r.state, from(guesser, sync_request(&format!("guess{i}")))).await;
        assert_eq!((status, code_of(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    let (status, retry_after, body) = call(&r.state, from(guesser, sync_request("guess-more"))).await;
    assert_eq!((status, code_of(&body)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(retry_after.is_some());
    // The real phone, from its own address, is not affected.
    let (status, _, _) = call(&r.state, from([192, 0, 2, 1], sync_request(&token))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_device_over_its_sync_rate_waits_and_the_others_do_not() {
    let limits = RateLimits {
        sync_per_device: Rate { burst: 5, per_minute: 120 },
        blobs_per_device: Rate { burst: 2, per_minute: 60 },
        ..RateLimits::default()
    };
    let r = relay(limits);
    let office = [100, 64, 0, 1]; // both phones behind one carrier NAT
    let busy = enroll(&r.state, office, &r.codes[0]).await;
    let calm = enroll(&r.state, office, &r.codes[1]).await;
    for _ in 0..5 {
        assert_eq!(call(&r.state, from(office, sync_request(&busy))).await.0, StatusCode::OK);
    }
    let (status, retry_after, body) = call(&r.state, from(office, sync_request(&busy))).await;
    assert_eq!((status, code_of(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{body}");
    let wait = retry_after.expect("Retry-After");
    assert_eq!(wait, 1, "one request comes back every half second");
    // The other phone, same address, syncs as usual.
    assert_eq!(call(&r.state, from(office, sync_request(&calm))).await.0, StatusCode::OK);
    // Blobs have their own bucket: the busy phone's uploads are not held up by its syncs.
    let head = |token: &str| {
        Request::head(format!("/v1/blobs/{}", "ab".repeat(32)))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(call(&r.state, from(office, head(&busy))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&r.state, from(office, head(&busy))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&r.state, from(office, head(&busy))).await.0, StatusCode::TOO_MANY_REQUESTS);
    // After the wait it was told, the busy phone is served again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(call(&r.state, from(office, sync_request(&busy))).await.0, StatusCode::OK);
    let response =
        app(r.state.clone()).oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("fieldsync_rate_limited_total{limit=\"sync_per_device\"} 1"), "{text}");
    assert!(text.contains("fieldsync_rate_limited_total{limit=\"blobs_per_device\"} 1"), "{text}");
}

#[tokio::test]
async fn limits_off_allow_everything() {
    let r = relay(RateLimits { enabled: false, ..RateLimits::default() });
    for i in 0..100 {
        let (status, _, _) = call(
            &r.state,
            from([1, 2, 3, 4], enroll_request(&format!("X{i}"), &DeviceIdentity::generate().unwrap())),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
