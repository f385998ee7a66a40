//! Blob uploads and the relay's body limits in-process (`app(state).oneshot(request)`): found by
//! an outside security test of the relay. One device cannot block another's upload of the same
//! photo, stale partial uploads expire, a chunk over the limit is a typed 413 whether or not it
//! declares its length, and sync and enrollment bodies are bounded before they are buffered.

use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::sync::wire::{CONTENT_TYPE, PushedChange, SyncRequest};
use fieldsync_core::{DeviceIdentity, DocId};
use fieldsync_server::config::RelayConfig;
use fieldsync_server::http::app::{AppState, app};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

struct Relay {
    state: AppState,
    dir: tempfile::TempDir,
    /// Tokens of two devices of the same tenant and team.
    owner: String,
    other: String,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn code(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)));
        v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {v}")).to_owned()
    }

    fn header(&self, name: &str) -> Option<u64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }
}

async fn call(state: &AppState, request: Request<Body>) -> Answer {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    Answer { status, headers, body: response.into_body().collect().await.unwrap().to_bytes().to_vec() }
}

fn enroll_body(code: &str, identity: &DeviceIdentity, device_name: &str) -> String {
    let key = identity.public_key();
    serde_json::json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
        "device_name": device_name,
    })
    .to_string()
}

async fn enroll(state: &AppState, code: &str) -> String {
    let body = enroll_body(code, &DeviceIdentity::generate().unwrap(), "t");
    let answer = call(
        state,
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    serde_json::from_slice::<Value>(&answer.body).unwrap()["token"].as_str().unwrap().to_owned()
}

async fn relay_with(configure: impl FnOnce(&mut RelayConfig)) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig {
        data_dir: dir.path().to_owned(),
        max_sync_body_bytes: 256 * 1024,
        ..Default::default()
    };
    configure(&mut config);
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
    let state = AppState::open(config).unwrap();
    let code = |i: usize| boot["users"][i]["code"].as_str().unwrap().to_owned();
    let owner = enroll(&state, &code(0)).await;
    let other = enroll(&state, &code(1)).await;
    Relay { state, dir, owner, other }
}

async fn relay() -> Relay {
    relay_with(|_| {}).await
}

fn put(token: &str, sha: &str, range: &str, body: impl Into<Body>) -> Request<Body> {
    Request::put(format!("/v1/blobs/{sha}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .header("content-range", range)
        .body(body.into())
        .unwrap()
}

fn head(token: &str, sha: &str) -> Request<Body> {
    Request::head(format!("/v1/blobs/{sha}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn photo(len: usize) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let sha = hex::encode(Sha256::digest(&bytes));
    (bytes, sha)
}

/// A body that arrives as a stream of frames with no declared length (HTTP/1.1 chunked).
fn chunked(bytes: Vec<u8>, frame: usize) -> Body {
    let frames: Vec<Result<Bytes, std::io::Error>> =
        bytes.chunks(frame).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Body::from_stream(futures_util::stream::iter(frames))
}

/// Every file of an upload in progress, whatever the layout under `blobs/<tenant>/partial/`.
fn partial_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, inside_partial: bool, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let partial = inside_partial || entry.file_name() == "partial";
            if path.is_dir() {
                walk(&path, partial, out);
            } else if partial {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("blobs"), false, &mut out);
    out
}

#[tokio::test]
async fn another_devices_partial_upload_with_a_wrong_length_does_not_block_the_owner() {
    let r = relay().await;
    let (bytes, sha) = photo(3000);
    // Another device of the tenant learnt the hash from a synced visit and starts an upload of
    // it with a wrong total length.
    let poison = call(&r.state, put(&r.other, &sha, "bytes 0-9/999999", vec![0u8; 10])).await;
    assert_eq!(poison.status, StatusCode::OK, "{}", String::from_utf8_lossy(&poison.body));

    // The owner does not see the other device's partial upload, and uploads the real photo.
    let owner_head = call(&r.state, head(&r.owner, &sha)).await;
    assert_eq!(owner_head.status, StatusCode::NOT_FOUND, "the owner sees only its own partial upload");
    let first = call(&r.state, put(&r.owner, &sha, "bytes 0-1499/3000", bytes[..1500].to_vec())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", String::from_utf8_lossy(&first.body));
    let last = call(&r.state, put(&r.owner, &sha, "bytes 1500-2999/3000", bytes[1500..].to_vec())).await;
    assert_eq!(last.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&last.body));

    // Complete for everyone of the tenant now, the poisoner included.
    let other_head = call(&r.state, head(&r.other, &sha)).await;
    assert_eq!((other_head.status, other_head.header("upload-offset")), (StatusCode::OK, Some(3000)));
    assert_eq!(other_head.headers.get("upload-complete").unwrap(), "true");
    // And the poisoner's next PUT is answered as a complete blob, its own partial discarded.
    let again = call(&r.state, put(&r.other, &sha, "bytes 10-19/999999", vec![0u8; 10])).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(partial_files(r.dir.path()).is_empty(), "left behind: {:?}", partial_files(r.dir.path()));
}

#[tokio::test]
async fn a_put_from_offset_zero_restarts_the_devices_own_upload_with_a_new_length() {
    let r = relay().await;
    let (bytes, sha) = photo(2000);
    let wrong = call(&r.state, put(&r.owner, &sha, "bytes 0-9/5000", vec![0u8; 10])).await;
    assert_eq!(wrong.status, StatusCode::OK);
    // Continuing with another length is refused: one of the two lengths is wrong.
    let mismatch = call(&r.state, put(&r.owner, &sha, "bytes 10-1999/2000", bytes[10..].to_vec())).await;
    assert_eq!((mismatch.status, mismatch.code().as_str()), (StatusCode::CONFLICT, "length_mismatch"));
    // Starting again from 0 replaces the partial upload.
    let whole = call(&r.state, put(&r.owner, &sha, "bytes 0-1999/2000", bytes.clone())).await;
    assert_eq!(whole.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&whole.body));
}

#[tokio::test]
async fn a_partial_upload_untouched_for_a_day_expires() {
    let r = relay().await;
    let (bytes, sha) = photo(2000);
    let started = call(&r.state, put(&r.owner, &sha, "bytes 0-999/3000", vec![1u8; 1000])).await;
    assert_eq!(started.status, StatusCode::OK);
    let files = partial_files(r.dir.path());
    assert!(!files.is_empty());
    let a_day_ago = SystemTime::now() - Duration::from_secs(25 * 3600);
    for file in &files {
        std::fs::File::options().write(true).open(file).unwrap().set_modified(a_day_ago).unwrap();
    }

    let after = call(&r.state, head(&r.owner, &sha)).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "an expired partial upload is gone");
    // A fresh upload of the blob with its real length is not held to the stale one's.
    let fresh = call(&r.state, put(&r.owner, &sha, "bytes 0-1999/2000", bytes)).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&fresh.body));
}

#[tokio::test]
async fn stale_partial_uploads_of_other_devices_are_swept() {
    let r = relay().await;
    let (_, stale_sha) = photo(100);
    let poison = call(&r.state, put(&r.other, &stale_sha, "bytes 0-9/50", vec![0u8; 10])).await;
    assert_eq!(poison.status, StatusCode::OK);
    let a_day_ago = SystemTime::now() - Duration::from_secs(25 * 3600);
    for file in partial_files(r.dir.path()) {
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(a_day_ago).unwrap();
    }
    // Any upload in the tenant sweeps what expired, whoever left it.
    let (bytes, sha) = photo(500);
    let answer = call(&r.state, put(&r.owner, &sha, "bytes 0-499/500", bytes)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert!(partial_files(r.dir.path()).is_empty(), "left behind: {:?}", partial_files(r.dir.path()));
}

#[tokio::test]
async fn a_chunked_put_over_the_chunk_limit_is_413_and_keeps_only_what_fit() {
    let r = relay_with(|c| c.max_blob_chunk_bytes = 1024).await;
    let (bytes, sha) = photo(3000);
    let answer = call(&r.state, put(&r.owner, &sha, "bytes 0-2999/3000", chunked(bytes.clone(), 100))).await;
    assert_eq!((answer.status, answer.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    let kept = answer.header("upload-offset").expect("the 413 says where to resume");
    assert!(kept <= 1024, "kept {kept} bytes of a chunk limited to 1024");
    let stored = call(&r.state, head(&r.owner, &sha)).await;
    assert_eq!(stored.header("upload-offset"), Some(kept), "HEAD agrees with the 413");

    // A declared length over the limit is the same typed answer, before any byte is read.
    let declared = call(
        &r.state,
        put(&r.owner, &sha, &format!("bytes {kept}-2999/3000"), bytes[kept as usize..].to_vec()),
    )
    .await;
    assert_eq!(
        (declared.status, declared.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );

    // Resuming with chunks within the limit completes the blob with the right hash.
    let mut offset = kept as usize;
    while offset < bytes.len() {
        let end = (offset + 1024).min(bytes.len());
        let range = format!("bytes {offset}-{}/3000", end - 1);
        let step =
            call(&r.state, put(&r.owner, &sha, &range, chunked(bytes[offset..end].to_vec(), 100))).await;
        assert!(step.status.is_success(), "{range}: {}", String::from_utf8_lossy(&step.body));
        offset = end;
    }
    let done = call(&r.state, head(&r.owner, &sha)).await;
    assert_eq!(done.headers.get("upload-complete").unwrap(), "true");
}

#[tokio::test]
async fn an_enrollment_body_over_4_kib_is_a_typed_413() {
    let dir = tempfile::tempdir().unwrap();
    let boot = fieldsync_server::cli::admin::run(
        dir.path(),
        fieldsync_server::cli::admin::AdminCommand::Bootstrap {
            tenant: "t".into(),
            team: "t".into(),
            reps: 1,
            supervisors: 0,
            admins: 0,
        },
    )
    .unwrap();
    let state =
        AppState::open(RelayConfig { data_dir: dir.path().to_owned(), ..Default::default() }).unwrap();
    let code = boot["users"][0]["code"].as_str().unwrap();
    let identity = DeviceIdentity::generate().unwrap();
    let padded = enroll_body(code, &identity, &"x".repeat(8 * 1024));
    let enroll = |body: String| {
        Request::post("/v1/enroll").header("content-type", "application/json").body(Body::from(body)).unwrap()
    };
    let answer = call(&state, enroll(padded)).await;
    assert_eq!((answer.status, answer.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    // Not JSON at all is a typed 400, not axum's plain-text rejection.
    let answer = call(&state, enroll("{\"code\":".into())).await;
    assert_eq!((answer.status, answer.code().as_str()), (StatusCode::BAD_REQUEST, "malformed_body"));
    // The code was not used up by the refused requests.
    let answer = call(&state, enroll(enroll_body(code, &identity, "phone"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
}

fn sync(token: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/sync")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", CONTENT_TYPE)
        .body(Body::from(body))
        .unwrap()
}

fn tiny_changes(n: usize, len: usize) -> SyncRequest {
    let doc_id = DocId::generate();
    SyncRequest {
        changes: (0..n).map(|_| PushedChange { doc_id, bytes: vec![0x85; len] }).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sync_request_over_the_change_cap_is_a_typed_413_and_stores_nothing() {
    let r = relay().await;
    let cap = 10_000; // MAX_CHANGES_PER_REQUEST, docs/protocol.md
    let over = call(&r.state, sync(&r.owner, tiny_changes(cap + 1, 1).encode())).await;
    assert_eq!((over.status, over.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_many_changes"));
    // Zero-length changes are malformed requests, not thousands of refusals to build.
    let empty = call(&r.state, sync(&r.owner, tiny_changes(3, 0).encode())).await;
    assert_eq!((empty.status, empty.code().as_str()), (StatusCode::BAD_REQUEST, "malformed_body"));
    let health = call(&r.state, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    let health: Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(health["documents"], 0);
}

#[tokio::test]
async fn a_compressed_sync_body_that_expands_far_beyond_its_size_is_a_typed_413() {
    let r = relay().await;
    // A 1 MiB change of one repeated byte compresses to about ten kilobytes.
    let request = SyncRequest {
        changes: vec![PushedChange { doc_id: DocId::generate(), bytes: vec![7; 1024 * 1024] }],
        ..Default::default()
    };
    let body = request.encode();
    assert!(body.len() < 16 * 1024, "{} bytes", body.len());
    let answer = call(&r.state, sync(&r.owner, body)).await;
    assert_eq!((answer.status, answer.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
}
