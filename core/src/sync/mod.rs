//! Sync: the wire format shared with the relay, and the device's side of an exchange.
//!
//! The protocol logic does no I/O (STYLE §1): the store builds a [`wire::SyncRequest`] from its
//! outbox and cursor and applies a [`wire::SyncResponse`] in one transaction; the HTTP client
//! only carries the bytes.

pub mod intake;
pub mod wire;

/// What an enrolling device signs with its key, proving to the relay that it holds the key it
/// enrolls with (docs/protocol.md, Enrollment). Shared so both sides build the same bytes.
pub fn enrollment_message(code: &str, public_key: &[u8; 32]) -> Vec<u8> {
    let mut message = b"fieldsync-enroll-v1\n".to_vec();
    message.extend_from_slice(code.trim().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(public_key);
    message
}

#[cfg(feature = "sync-client")]
pub mod client;
