//! Sync: the wire format shared with the relay, and the device's side of an exchange.
//!
//! The protocol logic does no I/O (STYLE §1): the store builds a [`wire::SyncRequest`] from its
//! outbox and cursor and applies a [`wire::SyncResponse`] in one transaction; the HTTP client
//! only carries the bytes.

pub mod wire;

#[cfg(feature = "sync-client")]
pub mod client;
