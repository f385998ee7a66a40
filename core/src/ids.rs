//! Identifiers made offline: document ids (UUIDv7) and device ids.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use sha2::{Digest, Sha256};

/// Why an identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A document id must be a UUID such as `01890a5d-ac96-774b-bcce-b302099a8057`.
    #[error("\"{0}\" is not a document id; expected a UUID such as 01890a5d-ac96-774b-bcce-b302099a8057")]
    InvalidDocId(String),
    /// A device id is 32 lowercase hex characters.
    #[error("\"{0}\" is not a device id; expected 32 hex characters")]
    InvalidDeviceId(String),
}

/// The id of one business record (one Automerge document).
///
/// A UUIDv7, so ids made offline on different phones never collide and sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(uuid::Uuid);

impl DocId {
    /// A new id for a record created now, on this device, with no network.
    pub fn generate() -> Self {
        DocId(uuid::Uuid::now_v7())
    }

    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Wraps 16 id bytes, as read from a document or the wire.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocId(uuid::Uuid::from_bytes(bytes))
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({self})")
    }
}

impl FromStr for DocId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        // Only the hyphenated form: ids travel through JSON, SQL and URLs as that one spelling.
        if trimmed.len() != 36 {
            return Err(IdError::InvalidDocId(s.to_owned()));
        }
        uuid::Uuid::parse_str(trimmed).map(DocId).map_err(|_| IdError::InvalidDocId(s.to_owned()))
    }
}

// Ids are stored in documents as 16-byte byte scalars, not text: a new record carries two or
// three of them, and as text they would be most of the bytes a phone sends for it.
impl Reconcile for DocId {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.bytes(self.as_bytes())
    }
}

impl Hydrate for DocId {
    fn hydrate_bytes(bytes: &[u8]) -> Result<Self, HydrateError> {
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| {
            HydrateError::unexpected("a 16-byte document id", format!("{} bytes", bytes.len()))
        })?;
        Ok(DocId::from_bytes(bytes))
    }
}

/// The id of one enrolled phone: the first 16 bytes of SHA-256 of its Ed25519 public key.
///
/// Deriving it from the key lets the relay check that a change's Automerge actor (which is the
/// device id) belongs to the key the device enrolled with, without a lookup table on the phone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId([u8; 16]);

impl DeviceId {
    /// The device id that belongs to an Ed25519 public key.
    pub fn from_public_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        DeviceId(id)
    }

    /// Wraps raw id bytes, for example an Automerge actor id read back from a change.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DeviceId(bytes)
    }

    /// The raw bytes; also the Automerge actor id of every change this device makes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The Automerge actor of this device's changes.
    pub fn actor_id(&self) -> automerge::ActorId {
        automerge::ActorId::from(&self.0[..])
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({self})")
    }
}

impl FromStr for DeviceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut id).map_err(|_| IdError::InvalidDeviceId(s.to_owned()))?;
        Ok(DeviceId(id))
    }
}

impl Reconcile for DeviceId {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.bytes(self.0)
    }
}

impl Hydrate for DeviceId {
    fn hydrate_bytes(bytes: &[u8]) -> Result<Self, HydrateError> {
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| HydrateError::unexpected("a 16-byte device id", format!("{} bytes", bytes.len())))?;
        Ok(DeviceId(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_made_offline_are_unique_and_sort_by_creation() {
        let ids: Vec<DocId> = (0..1000).map(|_| DocId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert_eq!(sorted, ids, "UUIDv7 made in sequence sort in creation order");
    }

    #[test]
    fn doc_id_round_trips_through_its_text_form() {
        let id = DocId::generate();
        assert_eq!(id.to_string().parse::<DocId>(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_refused_with_the_input_in_the_message() {
        for bad in ["", "abc", "01890a5dac96774bbcceb302099a8057", "zz890a5d-ac96-774b-bcce-b302099a8057"] {
            let err = bad.parse::<DocId>().unwrap_err();
            assert!(err.to_string().contains("not a document id"));
        }
        assert!("0123".parse::<DeviceId>().is_err());
    }

    #[test]
    fn device_id_is_derived_from_the_public_key() {
        let a = DeviceId::from_public_key(&[1u8; 32]);
        let b = DeviceId::from_public_key(&[2u8; 32]);
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<DeviceId>(), Ok(a));
    }
}
