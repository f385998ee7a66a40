//! The phone's blob upload against a real relay process: every conflict the relay can answer
//! (`length_mismatch`, `upload_in_progress`, `offset_mismatch`, `hash_mismatch`) is recovered
//! from, so a photo never stays "pending" forever because of a stale partial upload.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fieldsync_core::Store;
use fieldsync_core::sync::client::{RelayClient, RetryPolicy};
use fieldsync_e2e::{RelayProcess, admin, raw_http};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

struct Phone {
    store: Store,
    client: RelayClient,
    token: String,
    dir: TempDir,
}

async fn phone(relay: &RelayProcess, code: &str) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.fieldsync")).unwrap();
    let client = RelayClient::new(&relay.url()).unwrap().with_retry(RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1200),
        max_backoff: Duration::from_secs(2),
        ..RetryPolicy::default()
    });
    client.enroll(&store, code, "test phone").await.unwrap();
    let token = store.relay().unwrap().unwrap().1;
    Phone { store, client, token, dir }
}

fn photo(len: usize) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    let sha = hex::encode(Sha256::digest(&bytes));
    (bytes, sha)
}

/// Conflicts and refusals the relay has answered so far, from `/metrics`.
fn answered(relay: &RelayProcess, status: u16) -> u64 {
    let (_, _, body) = raw_http(relay.addr, "GET", "/metrics", &[], b"");
    let text = String::from_utf8(body).unwrap();
    let series = format!("fieldsync_http_responses_total{{status=\"{status}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&series)?.trim().parse().ok()).unwrap_or(0)
}

/// A `PUT` of the device's own, sent by hand (an earlier attempt of the same phone).
fn put_raw(relay: &RelayProcess, token: &str, sha: &str, range: &str, body: &[u8]) -> u16 {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/octet-stream"),
        ("content-range", range),
    ];
    raw_http(relay.addr, "PUT", &format!("/v1/blobs/{sha}"), &headers, body).0
}

/// Queues `bytes` on the phone, uploads the queue and checks the relay has the blob, whole.
async fn upload_and_check(relay: &RelayProcess, phone: &Phone, bytes: &[u8], sha: &str, chunk: usize) {
    let path = phone.dir.path().join(format!("{sha}.jpg"));
    std::fs::write(&path, bytes).unwrap();
    phone.store.queue_blob(sha, &path, bytes.len() as u64).unwrap();
    let done = phone.client.upload_blobs(&phone.store, chunk).await.unwrap();
    assert_eq!(done, 1);
    assert!(phone.store.pending_blobs().unwrap().is_empty());
    let auth = format!("Bearer {}", phone.token);
    let (status, _, stored) =
        raw_http(relay.addr, "GET", &format!("/v1/blobs/{sha}"), &[("authorization", &auth)], b"");
    assert_eq!(status, 200);
    assert_eq!(hex::encode(Sha256::digest(&stored)), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_started_with_another_length_restarts_from_zero_and_completes() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let phone = phone(&relay, boot["users"][0]["code"].as_str().unwrap()).await;
    let (bytes, sha) = photo(300_000);
    // An earlier attempt declared another total (the file was rewritten since, say).
    let wrong_total = format!("bytes 0-9/{}", bytes.len() + 1);
    assert_eq!(put_raw(&relay, &phone.token, &sha, &wrong_total, &bytes[..10]), 200);

    let conflicts = answered(&relay, 409);
    upload_and_check(&relay, &phone, &bytes, &sha, 64 * 1024).await;
    assert_eq!(answered(&relay, 409) - conflicts, 1, "the client met length_mismatch once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_upload_with_wrong_bytes_is_restarted_once_after_hash_mismatch() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let phone = phone(&relay, boot["users"][0]["code"].as_str().unwrap()).await;
    let (bytes, sha) = photo(300_000);
    // An earlier attempt stored 1000 corrupt bytes: the relay finds out only at the end.
    let range = format!("bytes 0-999/{}", bytes.len());
    assert_eq!(put_raw(&relay, &phone.token, &sha, &range, &[0u8; 1000]), 200);

    let refusals = answered(&relay, 422);
    upload_and_check(&relay, &phone, &bytes, &sha, 64 * 1024).await;
    assert_eq!(answered(&relay, 422) - refusals, 1, "the client met hash_mismatch once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_blocked_by_a_lingering_request_waits_then_continues_where_the_relay_is() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let phone = phone(&relay, boot["users"][0]["code"].as_str().unwrap()).await;
    let (bytes, sha) = photo(300_000);

    // An earlier request of the same phone still runs on the relay (its sender is slow): it
    // holds the upload of this blob, with half of its 100,000-byte chunk delivered so far.
    let mut lingering = TcpStream::connect(relay.addr).unwrap();
    lingering.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "PUT /v1/blobs/{sha} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nauthorization: Bearer {}\r\n\
         content-type: application/octet-stream\r\ncontent-range: bytes 0-99999/{}\r\ncontent-length: 100000\r\n\r\n",
        relay.addr,
        phone.token,
        bytes.len()
    );
    lingering.write_all(head.as_bytes()).unwrap();
    lingering.write_all(&bytes[..50_000]).unwrap();
    lingering.flush().unwrap();
    let auth = format!("Bearer {}", phone.token);
    for _ in 0..100 {
        let (_, head, _) =
            raw_http(relay.addr, "HEAD", &format!("/v1/blobs/{sha}"), &[("authorization", &auth)], b"");
        if head.to_ascii_lowercase().contains("upload-offset: 50000") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let conflicts = answered(&relay, 409);
    let finish_lingering = std::thread::spawn(move || {
        // The phone's first PUT meets upload_in_progress; then the old request finishes, so the
        // phone's retry at its old offset meets offset_mismatch with the relay's offset.
        std::thread::sleep(Duration::from_millis(300));
        lingering.write_all(&bytes[50_000..100_000]).unwrap();
        let mut answer = Vec::new();
        let _ = lingering.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    });
    let (again, _) = photo(300_000);
    upload_and_check(&relay, &phone, &again, &sha, 64 * 1024).await;
    let lingering_answer = finish_lingering.join().unwrap();
    assert!(lingering_answer.starts_with("HTTP/1.1 200"), "{lingering_answer}");
    assert_eq!(
        answered(&relay, 409) - conflicts,
        2,
        "the client met upload_in_progress, then offset_mismatch"
    );
}
