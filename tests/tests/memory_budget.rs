//! The relay's memory under hostile load, measured on a real relay process: one authenticated
//! device (and anyone, for enrollment) must not be able to make the relay's memory grow with the
//! size or the number of its requests (docs/operations.md, "Limits and memory budget").

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fieldsync_core::DeviceIdentity;
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::sync::wire::{PushedChange, SyncRequest};
use fieldsync_e2e::{RelayProcess, admin, raw_http};
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;
/// What 20 concurrent worst-case requests may add to the relay's resident memory: the budget of
/// docs/operations.md (sync bodies in flight, blob stream buffers, small enrollment bodies) with
/// room for the allocator.
const BUDGET: u64 = 200 * MIB;
/// The relay's defaults (docs/operations.md).
const MAX_SYNC_BODY: usize = 16 * 1024 * 1024;
const MAX_BLOB: usize = 50 * 1024 * 1024;
const MAX_CHUNK: usize = 16 * 1024 * 1024;

/// A `/proc/<pid>/status` field in bytes (`VmRSS`, `VmHWM`).
fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn enroll(addr: SocketAddr, code: &str) -> String {
    let identity = DeviceIdentity::generate().unwrap();
    let key = identity.public_key();
    let body = serde_json::json!({
        "code": code,
        "public_key": hex::encode(key),
        "signature": hex::encode(identity.sign(&enrollment_message(code, &key))),
        "device_name": "memory test",
    })
    .to_string();
    let (status, _, answer) =
        raw_http(addr, "POST", "/v1/enroll", &[("content-type", "application/json")], body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

/// Sends a request whose body the relay may refuse part-way (a write error is then expected),
/// and returns the status line's code, or `None` when the relay closed without answering.
fn send_tolerating_early_answer(addr: SocketAddr, head: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    for chunk in body.chunks(256 * 1024) {
        if stream.write_all(chunk).is_err() {
            break; // the relay answered before reading everything
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    text.split_whitespace().nth(1)?.parse().ok()
}

fn post_head(addr: SocketAddr, path: &str, auth: Option<&str>, content_type: &str, len: usize) -> String {
    let auth = auth.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{auth}content-type: {content_type}\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// An uncompressed sync request as large as the body limit allows: cursor, max response and
/// then as many changes of `change_len` bytes as fit (the security test's 986,891 empty changes).
fn max_size_uncompressed_sync_body(change_len: usize) -> Vec<u8> {
    let mut body = vec![0xF5, 1, 1, 0, 0, 0];
    let per_change = 16 + 1 + change_len;
    let count = (MAX_SYNC_BODY - body.len() - 4) / per_change;
    fieldsync_core::sync::wire::put_varint(&mut body, count as u64);
    for i in 0..count {
        body.extend_from_slice(&(i as u128).to_le_bytes());
        body.push(change_len as u8);
        body.extend(std::iter::repeat_n(0x85, change_len));
    }
    assert!(body.len() <= MAX_SYNC_BODY);
    body
}

/// A slow reader of the whole blob: reads a little, stalls, reads a little more, goes away.
fn slow_blob_get(addr: SocketAddr, token: &str, sha: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let request = format!(
        "GET /v1/blobs/{sha} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first).ok()?;
    let status = String::from_utf8_lossy(&first[..n]).split_whitespace().nth(1)?.parse().ok();
    std::thread::sleep(Duration::from_millis(2000));
    let _ = stream.read(&mut first);
    std::thread::sleep(Duration::from_millis(1000));
    status
}

#[test]
fn twenty_concurrent_worst_case_requests_stay_within_the_relays_memory_budget() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let (addr, pid) = (relay.addr, relay.pid());
    let token = enroll(addr, boot["users"][0]["code"].as_str().unwrap());
    let auth = format!("Bearer {token}");

    // The largest blob the relay stores, uploaded in the largest chunks it takes.
    let blob: Vec<u8> = (0..MAX_BLOB as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    let sha = hex::encode(Sha256::digest(&blob));
    for start in (0..MAX_BLOB).step_by(MAX_CHUNK) {
        let end = (start + MAX_CHUNK).min(MAX_BLOB);
        let range = format!("bytes {start}-{}/{MAX_BLOB}", end - 1);
        let (status, head, _) = raw_http(
            addr,
            "PUT",
            &format!("/v1/blobs/{sha}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/octet-stream"),
                ("content-range", &range),
            ],
            &blob[start..end],
        );
        assert!(status == 200 || status == 201, "{range}: {head}");
    }
    drop(blob);

    let zero_length = Arc::new(max_size_uncompressed_sync_body(0));
    let one_byte = Arc::new(max_size_uncompressed_sync_body(1));
    let compressed = Arc::new(
        SyncRequest {
            changes: vec![
                PushedChange {
                    doc_id: fieldsync_core::DocId::from_bytes([1; 16]),
                    bytes: Vec::new()
                };
                986_891
            ],
            ..Default::default()
        }
        .encode(),
    );
    let enrollment = Arc::new({
        let mut padded = b"{\"code\":\"".to_vec();
        padded.extend(std::iter::repeat_n(b'a', 15 * 1024 * 1024));
        padded.extend_from_slice(b"\"}");
        padded
    });

    std::thread::sleep(Duration::from_millis(300));
    let base = proc_status_bytes(pid, "VmRSS").expect("the relay's VmRSS");
    // Resets VmHWM to the current RSS so the peak below is this phase's (Linux ≥ 4.0).
    let exact_peak = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();

    // Watch the relay's memory; stop it if the old behaviour would take the machine with it.
    let running = Arc::new(AtomicBool::new(true));
    let sampled_peak = Arc::new(AtomicU64::new(base));
    let watcher = {
        let (running, sampled_peak) = (running.clone(), sampled_peak.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                if let Some(rss) = proc_status_bytes(pid, "VmRSS") {
                    sampled_peak.fetch_max(rss, Ordering::SeqCst);
                    if rss > base + 8 * BUDGET {
                        let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let mut workers = Vec::new();
    for i in 0..20 {
        let (token, sha) = (token.clone(), sha.clone());
        let (zero_length, one_byte, compressed, enrollment) =
            (zero_length.clone(), one_byte.clone(), compressed.clone(), enrollment.clone());
        workers.push(std::thread::spawn(move || -> (&'static str, Option<u16>) {
            let sync_type = fieldsync_core::sync::wire::CONTENT_TYPE;
            match i % 5 {
                0 | 1 => ("slow blob GET", slow_blob_get(addr, &token, &sha)),
                2 => {
                    let (what, body) = if i % 2 == 0 {
                        ("sync: 986,891 empty changes", &zero_length)
                    } else {
                        ("sync: 1-byte changes", &one_byte)
                    };
                    let head = post_head(addr, "/v1/sync", Some(&token), sync_type, body.len());
                    (what, send_tolerating_early_answer(addr, &head, body))
                }
                3 => {
                    let head = post_head(addr, "/v1/sync", Some(&token), sync_type, compressed.len());
                    ("sync: compressed empty changes", send_tolerating_early_answer(addr, &head, &compressed))
                }
                _ => {
                    let head = post_head(addr, "/v1/enroll", None, "application/json", enrollment.len());
                    ("15 MiB enrollment", send_tolerating_early_answer(addr, &head, &enrollment))
                }
            }
        }));
    }
    let answers: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    running.store(false, Ordering::SeqCst);
    watcher.join().unwrap();
    let hwm = if exact_peak { proc_status_bytes(pid, "VmHWM") } else { None };
    let peak = hwm.unwrap_or(0).max(sampled_peak.load(Ordering::SeqCst));
    let grew = peak.saturating_sub(base);
    eprintln!(
        "relay RSS: base {} MiB, peak {} MiB (+{} MiB; VmHWM measured: {exact_peak}); answers: {answers:?}",
        base / MIB,
        peak / MIB,
        grew / MIB
    );
    assert!(grew <= BUDGET, "the relay grew by {} MiB; the budget is {} MiB", grew / MIB, BUDGET / MIB);

    // Every hostile request got a typed refusal (the GETs their bytes), and the relay still serves.
    for (what, status) in &answers {
        let expected: &[u16] = match *what {
            "slow blob GET" => &[200],
            "15 MiB enrollment" => &[413],
            _ => &[400, 413],
        };
        assert!(status.is_some_and(|s| expected.contains(&s)), "{what}: {status:?}, expected {expected:?}");
    }
    let (status, _, _) = raw_http(addr, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
}
