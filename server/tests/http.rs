//! The relay's HTTP surface in-process (`app(state).oneshot(request)`, no socket): every bad
//! input gets a clear 4xx with a machine-readable code, and nothing is stored.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fieldsync_core::DeviceIdentity;
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::sync::wire::{CONTENT_TYPE, PushedChange, SyncRequest, SyncResponse};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Relay {
    state: AppState,
    _dir: tempfile::TempDir,
    token: String,
    code_for_second: String,
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn code_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"]["code"].as_str().unwrap().to_owned()
}

async fn enroll(state: &AppState, code: &str, identity: &DeviceIdentity) -> (StatusCode, Vec<u8>) {
    let key = identity.public_key();
    let body = serde_json::json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
        "device_name": "t",
    });
    call(
        state,
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn relay() -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let config =
        RelayConfig { data_dir: dir.path().to_owned(), max_sync_body_bytes: 64 * 1024, ..Default::default() };
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "t".into(),
            reps: 2,
            supervisors: 0,
            admins: 0,
        },
    )
    .unwrap();
    let state = AppState::open(config).unwrap();
    let code = boot["users"][0]["code"].as_str().unwrap().to_owned();
    let (status, body) = enroll(&state, &code, &DeviceIdentity::generate().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let token = serde_json::from_slice::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    Relay { state, _dir: dir, token, code_for_second: boot["users"][1]["code"].as_str().unwrap().to_owned() }
}

fn sync_request(token: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/sync")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn bad_sync_bodies_get_4xx_with_a_code_and_store_nothing() {
    let r = relay().await;
    let valid = SyncRequest::default().encode();
    let cases: Vec<(&str, Vec<u8>, &str, StatusCode, &str)> = vec![
        ("garbage", b"hello".to_vec(), CONTENT_TYPE, StatusCode::BAD_REQUEST, "malformed_body"),
        ("empty", vec![], CONTENT_TYPE, StatusCode::BAD_REQUEST, "malformed_body"),
        (
            "truncated",
            valid[..valid.len() - 1].to_vec(),
            CONTENT_TYPE,
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "json instead",
            b"{}".to_vec(),
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
        ),
        ("too large", vec![0xF5; 70 * 1024], CONTENT_TYPE, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (name, body, content_type, status, code) in cases {
        let (got, body) = call(&r.state, sync_request(&r.token, content_type, body)).await;
        assert_eq!(got, status, "{name}: {}", String::from_utf8_lossy(&body));
        assert_eq!(code_of(&body), code, "{name}");
    }
    // A bad cursor.
    let request = SyncRequest { cursor: vec![9, 9, 9], ..Default::default() };
    let (got, body) = call(&r.state, sync_request(&r.token, CONTENT_TYPE, request.encode())).await;
    assert_eq!((got, code_of(&body).as_str()), (StatusCode::BAD_REQUEST, "bad_cursor"));
    // Automerge bytes that do not parse: accepted request, refused change.
    let request = SyncRequest {
        changes: vec![PushedChange {
            doc_id: fieldsync_core::DocId::generate(),
            bytes: b"not automerge".to_vec(),
        }],
        ..Default::default()
    };
    let (got, body) = call(&r.state, sync_request(&r.token, CONTENT_TYPE, request.encode())).await;
    assert_eq!(got, StatusCode::OK);
    let response = SyncResponse::decode(&body).unwrap();
    assert_eq!((response.accepted, response.rejected.len()), (0, 1));
    assert_eq!(r.state.relay.storage().document_count().unwrap(), 0);
}

#[tokio::test]
async fn missing_unknown_and_malformed_tokens_get_401() {
    let r = relay().await;
    let body = SyncRequest::default().encode();
    let no_auth = Request::post("/v1/sync")
        .header("content-type", CONTENT_TYPE)
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, b) = call(&r.state, no_auth).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::UNAUTHORIZED, "missing_token"));
    for token in ["nope", "Basic abc", ""] {
        let request = Request::post("/v1/sync")
            .header(
                "authorization",
                if token.starts_with("Basic") { token.to_owned() } else { format!("Bearer {token}") },
            )
            .header("content-type", CONTENT_TYPE)
            .body(Body::from(body.clone()))
            .unwrap();
        let (status, b) = call(&r.state, request).await;
        assert_eq!((status, code_of(&b).as_str()), (StatusCode::UNAUTHORIZED, "invalid_token"), "{token}");
    }
}

#[tokio::test]
async fn enrollment_needs_a_valid_unused_code_and_proof_of_the_key() {
    let r = relay().await;
    let identity = DeviceIdentity::generate().unwrap();
    // A signature by another key.
    let key = identity.public_key();
    let forged = serde_json::json!({
        "code": r.code_for_second,
        "public_key": hex::encode(key),
        "signature": hex::encode(DeviceIdentity::generate().unwrap().sign(&enrollment_message(&r.code_for_second, &key))),
    });
    let (status, b) = call(
        &r.state,
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .body(Body::from(forged.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::UNAUTHORIZED, "bad_signature"));
    // An unknown code.
    let (status, b) = enroll(&r.state, "NOTACODE22", &identity).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::UNAUTHORIZED, "invalid_code"));
    // The right code works once.
    assert_eq!(enroll(&r.state, &r.code_for_second, &identity).await.0, StatusCode::OK);
    let (status, b) = enroll(&r.state, &r.code_for_second, &DeviceIdentity::generate().unwrap()).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::CONFLICT, "code_unusable"));
    // Malformed JSON and hex.
    let (status, _) = call(
        &r.state,
        Request::post("/v1/enroll").header("content-type", "application/json").body(Body::from("{")).unwrap(),
    )
    .await;
    assert!(status.is_client_error());
    let bad_hex = serde_json::json!({"code": "X", "public_key": "zz", "signature": "00"});
    let (status, b) = call(
        &r.state,
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .body(Body::from(bad_hex.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
}

#[tokio::test]
async fn blobs_refuse_bad_names_ranges_oversize_and_wrong_bytes() {
    let r = relay().await;
    let auth = format!("Bearer {}", r.token);
    let put = |path: &str, range: Option<&str>, body: Vec<u8>| {
        let mut b = Request::put(path)
            .header("authorization", auth.clone())
            .header("content-type", "application/octet-stream");
        if let Some(range) = range {
            b = b.header("content-range", range);
        }
        b.body(Body::from(body)).unwrap()
    };
    let (status, b) = call(&r.state, put("/v1/blobs/not-a-hash", None, vec![1])).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_blob_id"));
    let sha = "0".repeat(64);
    let (status, b) =
        call(&r.state, put(&format!("/v1/blobs/{sha}"), Some("bytes 0-9/999999999999"), vec![0; 10])).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large"));
    let (status, b) =
        call(&r.state, put(&format!("/v1/blobs/{sha}"), Some("bytes 5-9/10"), vec![0; 5])).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::CONFLICT, "offset_mismatch"));
    let (status, b) =
        call(&r.state, put(&format!("/v1/blobs/{sha}"), Some("bytes 0-9/10"), vec![0; 10])).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch"));
    let (status, _) = call(
        &r.state,
        Request::head(format!("/v1/blobs/{sha}"))
            .header("authorization", auth.clone())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a failed upload leaves nothing behind");
    let (status, b) = call(&r.state, put(&format!("/v1/blobs/{sha}"), Some("items 0-9"), vec![0; 10])).await;
    assert_eq!((status, code_of(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_content_range"));
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let r = relay().await;
    let (status, body) = call(&r.state, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["status"], "ok");
    let (status, body) = call(&r.state, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("fieldsync_http_responses_total{status=\"200\"}"), "{text}");
    assert!(text.contains("fieldsync_documents 0"));
    let (status, body) = call(&r.state, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!((status, code_of(&body).as_str()), (StatusCode::NOT_FOUND, "no_such_endpoint"));
}

#[tokio::test]
async fn review_and_flags_are_for_supervisors_and_refuse_bad_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "t".into(),
            reps: 1,
            supervisors: 1,
            admins: 0,
        },
    )
    .unwrap();
    let state =
        AppState::open(RelayConfig { data_dir: dir.path().to_owned(), ..Default::default() }).unwrap();
    let mut tokens = Vec::new();
    for user in boot["users"].as_array().unwrap() {
        let (status, body) =
            enroll(&state, user["code"].as_str().unwrap(), &DeviceIdentity::generate().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_slice(&body).unwrap();
        tokens.push((body["role"].as_str().unwrap().to_owned(), body["token"].as_str().unwrap().to_owned()));
    }
    let token_of = |role: &str| tokens.iter().find(|(r, _)| r == role).unwrap().1.clone();
    let get = |path: &str, token: String| {
        Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
    };
    let post = |body: &str, token: String| {
        Request::post("/v1/review")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };

    for path in ["/v1/review", "/v1/flags"] {
        let (status, body) = call(&state, get(path, token_of("rep"))).await;
        assert_eq!((status, code_of(&body).as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
        let (status, body) = call(&state, get(path, token_of("supervisor"))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let (status, body) = call(&state, get("/v1/review", token_of("supervisor"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["pending"], serde_json::json!([]));

    let id = fieldsync_core::DocId::generate().to_string();
    let other = fieldsync_core::DocId::generate().to_string();
    let cases = [
        ("not json".to_string(), StatusCode::BAD_REQUEST, "bad_request"),
        (format!(r#"{{"a": "{id}", "b": "{other}"}}"#), StatusCode::BAD_REQUEST, "bad_request"),
        (
            format!(r#"{{"a": "nope", "b": "{other}", "decision": "merge"}}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            format!(r#"{{"a": "{id}", "b": "{other}", "decision": "maybe"}}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            format!(r#"{{"a": "{id}", "b": "{other}", "decision": "merge"}}"#),
            StatusCode::NOT_FOUND,
            "no_such_pair",
        ),
    ];
    for (body, expected_status, expected_code) in cases {
        let (status, answer) = call(&state, post(&body, token_of("supervisor"))).await;
        assert_eq!((status, code_of(&answer).as_str()), (expected_status, expected_code), "{body}");
    }
    let (status, answer) = call(
        &state,
        post(&format!(r#"{{"a": "{id}", "b": "{other}", "decision": "merge"}}"#), token_of("rep")),
    )
    .await;
    assert_eq!((status, code_of(&answer).as_str()), (StatusCode::FORBIDDEN, "forbidden"));
}
