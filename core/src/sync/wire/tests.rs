//! Wire format tests: round trips, malformed input, and byte snapshots that pin format v1.

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

fn id(n: u8) -> DocId {
    DocId::from_bytes([n; 16])
}

fn sample_request() -> SyncRequest {
    SyncRequest {
        cursor: vec![1, 0, 42],
        max_response_bytes: 4 * 1024 * 1024,
        changes: vec![
            PushedChange { doc_id: id(1), bytes: b"customer_idcompany_nameprovenance".to_vec() },
            PushedChange { doc_id: id(2), bytes: vec![0x85, 0x6f, 0x4a, 0x83] },
        ],
    }
}

fn sample_response() -> SyncResponse {
    SyncResponse {
        server_time_ms: 1_795_654_800_000,
        accepted: 7,
        rejected: vec![Rejection {
            index: 3,
            code: RejectCode::ForeignActor,
            message: "actor is not you".into(),
        }],
        snapshots: vec![DocumentBytes { doc_id: id(3), bytes: vec![9; 40] }],
        changes: vec![DocumentBytes { doc_id: id(4), bytes: vec![7; 3] }],
        cursor: vec![1, 0, 99],
        more: true,
    }
}

#[test]
fn requests_and_responses_round_trip() {
    let request = sample_request();
    assert_eq!(SyncRequest::decode(&request.encode()).unwrap(), request);
    let response = sample_response();
    assert_eq!(SyncResponse::decode(&response.encode()).unwrap(), response);
    let empty = SyncResponse::default();
    assert_eq!(SyncResponse::decode(&empty.encode()).unwrap(), empty);
}

/// Wire format v1, byte for byte. If this fails, the protocol changed: bump WIRE_VERSION and
/// update docs/protocol.md, or undo the accidental change.
#[test]
fn wire_format_v1_snapshot_request() {
    assert_eq!(hex::encode(sample_request().encode()), EXPECTED_REQUEST_HEX);
}

/// See [`wire_format_v1_snapshot_request`].
#[test]
fn wire_format_v1_snapshot_response() {
    assert_eq!(hex::encode(sample_response().encode()), EXPECTED_RESPONSE_HEX);
}

/// The preset dictionary is part of wire version 1.
#[test]
fn wire_format_v1_dictionary_is_pinned() {
    assert_eq!(hex::encode(Sha256::digest(DICTIONARY)), EXPECTED_DICTIONARY_SHA256);
}

const EXPECTED_REQUEST_HEX: &str = "f5010101636664d06a686860626244038a4831859c5a104633a10196d67caf6600";
const EXPECTED_RESPONSE_HEX: &str = "f50102016b58fa7dd542137646662681c4e492fc2285cc6285bcfc1285cafc52466634a0c1492460644103ccecececcc8c0cc98c00";
const EXPECTED_DICTIONARY_SHA256: &str = "8e05909082c4cc105c18477e7069c50859a3468ac6568f3462c6b43e136fbf7e";

#[test]
fn the_dictionary_shrinks_key_heavy_payloads() {
    let change = b"customer_idopportunity_idplanned_atstarted_atended_atfixesphotosnotesnext_stepprovenancecreated_atcreated_by".to_vec();
    let request = SyncRequest {
        changes: vec![PushedChange { doc_id: id(1), bytes: change.clone() }],
        ..Default::default()
    };
    let encoded = request.encode();
    assert!(encoded.len() < change.len() / 2, "{} bytes for a {}-byte change", encoded.len(), change.len());
}

#[test]
fn malformed_messages_are_refused_with_a_specific_error() {
    let good = sample_request().encode();
    assert!(matches!(SyncRequest::decode(&[]), Err(WireError::Truncated { .. })));
    assert!(matches!(SyncRequest::decode(b"GET / HTTP/1.1"), Err(WireError::BadMagic(b'G'))));
    let mut wrong_version = good.clone();
    wrong_version[1] = 9;
    assert!(matches!(
        SyncRequest::decode(&wrong_version),
        Err(WireError::UnsupportedVersion { found: 9, .. })
    ));
    assert!(matches!(
        SyncRequest::decode(&sample_response().encode()),
        Err(WireError::WrongMessageType { .. })
    ));
    let mut flags = good.clone();
    flags[3] = 0x80;
    assert!(matches!(SyncRequest::decode(&flags), Err(WireError::UnknownFlags(0x80))));
    let mut corrupt = good.clone();
    corrupt.truncate(good.len() - 3);
    assert!(SyncRequest::decode(&corrupt).is_err());
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(SyncRequest::decode(&trailing).is_err());
}

#[test]
fn uncompressed_payload_errors_point_at_the_field() {
    // Header with no compression, then: cursor len 0, max 0, a count of 9,999 changes in 2 bytes.
    let mut message = vec![0xF5, 1, 1, 0, 0, 0];
    put_varint(&mut message, 9_999);
    let err = SyncRequest::decode(&message).unwrap_err();
    assert!(matches!(err, WireError::Invalid { what: "change count", .. }), "{err}");
    // A varint that never ends.
    let overlong = [0xF5, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert!(matches!(SyncRequest::decode(&overlong), Err(WireError::BadVarint(0))));
    // A length that runs past the end.
    let past_end = [0xF5, 1, 1, 0, 0x10, 1, 2];
    assert!(matches!(SyncRequest::decode(&past_end), Err(WireError::Truncated { .. })));
}

#[test]
fn a_request_declaring_more_changes_than_the_cap_is_refused_before_allocating() {
    assert_eq!(MAX_CHANGES_PER_REQUEST, 10_000, "docs/protocol.md states the cap");
    // A billion changes declared in five bytes: refused by the count alone.
    let mut message = vec![0xF5, 1, 1, 0, 0, 0];
    message.extend_from_slice(&[0x80, 0x94, 0xeb, 0xdc, 0x03]);
    assert_eq!(
        SyncRequest::decode(&message),
        Err(WireError::TooManyChanges { count: 1_000_000_000, limit: MAX_CHANGES_PER_REQUEST })
    );
    // One over the cap, every change present and well formed: still refused.
    let change = PushedChange { doc_id: id(1), bytes: vec![1] };
    let over = SyncRequest { changes: vec![change.clone(); 10_001], ..Default::default() };
    assert!(matches!(
        SyncRequest::decode(&over.encode()),
        Err(WireError::TooManyChanges { count: 10_001, .. })
    ));
    // The cap itself is fine.
    let at_cap = SyncRequest { changes: vec![change; 10_000], ..Default::default() };
    assert_eq!(SyncRequest::decode(&at_cap.encode()).unwrap(), at_cap);
}

#[test]
fn an_empty_pushed_change_is_malformed() {
    let request = SyncRequest {
        changes: vec![
            PushedChange { doc_id: id(1), bytes: vec![1, 2] },
            PushedChange { doc_id: id(2), bytes: Vec::new() },
        ],
        ..Default::default()
    };
    let err = SyncRequest::decode(&request.encode()).unwrap_err();
    assert!(matches!(err, WireError::Invalid { what: "change", .. }), "{err}");
}

#[test]
fn a_request_expanding_past_the_callers_limit_is_refused() {
    let request = SyncRequest {
        changes: vec![PushedChange { doc_id: id(1), bytes: vec![7; 100_000] }],
        ..Default::default()
    };
    let body = request.encode();
    assert!(body.len() < 1000);
    assert_eq!(
        SyncRequest::decode_with_limit(&body, 50_000),
        Err(WireError::PayloadTooLarge { limit: 50_000 })
    );
    assert_eq!(SyncRequest::decode_with_limit(&body, 200_000).unwrap(), request);
}

#[test]
fn a_compression_bomb_is_refused() {
    // 100 MB of zeros compresses to ~100 KB; expanding it must stop at the limit.
    let zeros = vec![0u8; MAX_PAYLOAD_BYTES + 1024];
    let mut body = vec![0xF5, 1, 1, FLAG_DEFLATE];
    body.extend_from_slice(&deflate(&zeros).unwrap());
    assert!(matches!(SyncRequest::decode(&body), Err(WireError::PayloadTooLarge { .. })));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SyncRequest::decode(&bytes);
        let _ = SyncResponse::decode(&bytes);
        let mut framed = vec![0xF5, 1, 1, 0];
        framed.extend_from_slice(&bytes);
        let _ = SyncRequest::decode(&framed);
        framed[3] = FLAG_DEFLATE;
        let _ = SyncRequest::decode(&framed);
        framed[2] = 2;
        let _ = SyncResponse::decode(&framed);
    }

    #[test]
    fn any_request_round_trips(
        cursor in proptest::collection::vec(any::<u8>(), 0..40),
        max in any::<u32>(),
        changes in proptest::collection::vec((any::<[u8; 16]>(), proptest::collection::vec(any::<u8>(), 1..300)), 0..8),
    ) {
        let request = SyncRequest {
            cursor,
            max_response_bytes: max,
            changes: changes.into_iter().map(|(d, b)| PushedChange { doc_id: DocId::from_bytes(d), bytes: b }).collect(),
        };
        prop_assert_eq!(SyncRequest::decode(&request.encode()).unwrap(), request);
    }
}
