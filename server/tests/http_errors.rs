//! Every error of every endpoint is the documented JSON `{"error": {"code", "message"}}`
//! (docs/protocol.md), also the ones the framework answers by itself: wrong methods (405),
//! missing or garbage auth, wrong content types, malformed and oversize bodies, bad path and
//! query parameters, unknown paths and timeouts.
//!
//! The endpoints are read from the table in docs/protocol.md, so a documented endpoint the router
//! does not have fails here, and a new endpoint is walked as soon as it is documented.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use fieldsync_core::DeviceIdentity;
use fieldsync_core::sync::enrollment_message;
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Body limits of the relay under test: small, so oversize bodies are cheap.
const LIMIT: usize = 4096;

/// One documented endpoint: method, path (parameters filled in) and whether it needs a token.
#[derive(Debug, Clone)]
struct Endpoint {
    method: Method,
    path: String,
    bearer: bool,
}

/// The endpoints table of docs/protocol.md.
fn documented_endpoints() -> Vec<Endpoint> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md")).unwrap();
    let mut out = Vec::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("| `") else { continue };
        let Some((route, rest)) = rest.split_once("` |") else { continue };
        let Some((method, path)) = route.split_once(' ') else { continue };
        let Ok(method) = method.parse::<Method>() else { continue };
        if !path.starts_with('/') {
            continue;
        }
        let path = path.split('?').next().unwrap();
        let path = path.replace("{sha256}", &"0".repeat(64)).replace("{id}", &"0".repeat(32));
        let auth = rest.split('|').next().unwrap_or_default();
        out.push(Endpoint { method, path, bearer: auth.contains("bearer") });
    }
    assert!(out.len() >= 15, "the endpoints table of docs/protocol.md was not found: {out:?}");
    out
}

struct Relay {
    state: AppState,
    _dir: tempfile::TempDir,
    token: String,
}

async fn relay() -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let config = RelayConfig {
        data_dir: dir.path().to_owned(),
        max_sync_body_bytes: LIMIT,
        max_blob_chunk_bytes: LIMIT,
        request_timeout_secs: 1,
        scheduler_interval_secs: 0,
        ..Default::default()
    };
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "t".into(),
            reps: 0,
            supervisors: 1,
            admins: 0,
        },
    )
    .unwrap();
    let state = AppState::open(config).unwrap();
    let code = boot["users"][0]["code"].as_str().unwrap();
    let identity = DeviceIdentity::generate().unwrap();
    let key = identity.public_key();
    let body = json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
    });
    let response = app(state.clone())
        .oneshot(
            Request::post("/v1/enroll")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    Relay { state, _dir: dir, token: body["token"].as_str().unwrap().to_owned() }
}

/// Sends `request` and checks that the answer is an error in the documented shape; returns its
/// status and code.
async fn expect_json_error(state: &AppState, what: &str, request: Request<Body>) -> (StatusCode, String) {
    let is_head = request.method() == Method::HEAD;
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    assert!(status.is_client_error() || status.is_server_error(), "{what}: not an error: {status}");
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {status} with content-type {content_type:?}"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if is_head && bytes.is_empty() {
        return (status, String::new()); // HEAD answers carry no body on the wire anyway
    }
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{what}: {status} body is not JSON: {}", String::from_utf8_lossy(&bytes)));
    let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
    assert!(!code.is_empty(), "{what}: {status} without error.code: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {status} without error.message: {body}");
    (status, code)
}

fn request(
    method: &Method,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: Body,
) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(path);
    if let Some(auth) = auth {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body).unwrap()
}

/// The content type an endpoint's body is sent with.
fn content_type_of(path: &str) -> &'static str {
    if path == "/v1/sync" {
        fieldsync_core::sync::wire::CONTENT_TYPE
    } else if path.starts_with("/v1/blobs/") {
        "application/octet-stream"
    } else {
        "application/json"
    }
}

#[tokio::test]
async fn every_error_of_every_endpoint_is_the_documented_json_with_a_code() {
    let relay = relay().await;
    let state = &relay.state;
    let bearer = format!("Bearer {}", relay.token);
    let endpoints = documented_endpoints();

    for endpoint in &endpoints {
        let Endpoint { method, path, bearer: needs_token } = endpoint;
        let at = format!("{method} {path}");

        // Every method the path does not take: 405, with the methods it does take.
        let taken: Vec<&Method> = endpoints.iter().filter(|e| &e.path == path).map(|e| &e.method).collect();
        for wrong in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            if taken.contains(&&wrong) {
                continue;
            }
            let what = format!("{wrong} on {at}");
            let (status, code) =
                expect_json_error(state, &what, request(&wrong, path, Some(&bearer), None, Body::empty()))
                    .await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
                "{what}"
            );
        }

        if *needs_token {
            for (name, auth) in [
                ("no auth", None),
                ("garbage auth", Some("Bearer !!not-a-token!!")),
                ("basic auth", Some("Basic eDp5")),
            ] {
                let what = format!("{name} on {at}");
                let (status, _) =
                    expect_json_error(state, &what, request(method, path, auth, None, Body::empty())).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
            }
        }

        if *method == Method::POST || *method == Method::PUT {
            let auth = needs_token.then_some(bearer.as_str());
            let right_type = content_type_of(path);
            let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
                ("wrong content type", Some("text/plain"), b"hello".to_vec()),
                ("no content type", None, b"{}".to_vec()),
                ("malformed body", Some(right_type), b"\xF5\x01\x09{not json".to_vec()),
                ("empty body", Some(right_type), Vec::new()),
                ("oversize body", Some(right_type), vec![b'x'; 64 * 1024]),
            ];
            for (name, content_type, body) in cases {
                let what = format!("{name} on {at}");
                expect_json_error(state, &what, request(method, path, auth, content_type, Body::from(body)))
                    .await;
            }
        }
    }
}

#[tokio::test]
async fn framework_rejections_of_enrollment_paths_queries_and_unknown_paths_are_documented_json() {
    let relay = relay().await;
    let state = &relay.state;
    let bearer = format!("Bearer {}", relay.token);
    let enroll = |content_type: Option<&str>, body: &str| {
        request(&Method::POST, "/v1/enroll", None, content_type, Body::from(body.to_owned()))
    };
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "enroll without JSON content type",
            enroll(Some("text/plain"), "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
        ),
        (
            "enroll with broken JSON",
            enroll(Some("application/json"), "{\"code\":"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "enroll without fields",
            enroll(Some("application/json"), "{}"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "enroll with a number for a code",
            enroll(Some("application/json"), r#"{"code":1,"public_key":"","signature":""}"#),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "enroll too large",
            enroll(Some("application/json"), &format!("{{\"code\":\"{}\"}}", "x".repeat(64 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "subscription id not UTF-8",
            request(&Method::DELETE, "/v1/push/subscriptions/%FF%FE", Some(&bearer), None, Body::empty()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "query not a number",
            request(&Method::GET, "/v1/push/deliveries?limit=many", Some(&bearer), None, Body::empty()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "blob id not hex",
            request(&Method::GET, "/v1/blobs/xyz", Some(&bearer), None, Body::empty()),
            StatusCode::BAD_REQUEST,
            "bad_blob_id",
        ),
        (
            "unknown path",
            request(&Method::GET, "/v1/nothing-here", None, None, Body::empty()),
            StatusCode::NOT_FOUND,
            "no_such_endpoint",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got_status, got_code) = expect_json_error(state, what, request).await;
        assert_eq!((got_status, got_code.as_str()), (status, code), "{what}");
    }
}

#[tokio::test]
async fn a_request_that_outlasts_the_timeout_gets_a_json_408() {
    let relay = relay().await;
    // A body that never arrives: the handler waits for it until the 1 s request timeout.
    let stalled = Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let started = std::time::Instant::now();
    let (status, code) = expect_json_error(
        &relay.state,
        "a stalled enrollment body",
        request(&Method::POST, "/v1/enroll", None, Some("application/json"), stalled),
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::REQUEST_TIMEOUT, "request_timeout"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
