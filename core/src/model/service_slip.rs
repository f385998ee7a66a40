//! A service slip the customer signs on the rep's phone.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Location, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, DocId};

/// One line of a slip.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct SlipItem {
    /// What was delivered or serviced.
    pub description: String,
    /// How many, in `unit`.
    #[autosurgeon(hydrate = "super::lenient::number")]
    pub quantity: f64,
    /// Unit (台, 件, hours, …).
    pub unit: String,
}

/// A service slip. The signing fields are set once by the evidence code; after that the slip is
/// immutable (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ServiceSlip {
    /// Document id.
    pub id: DocId,
    /// The visit the slip belongs to.
    pub visit_id: DocId,
    /// Lines.
    pub items: Vec<SlipItem>,
    /// Free notes.
    pub notes: String,
    /// The customer's signer, as they write their name.
    #[autosurgeon(missing = "Default::default")]
    pub signer_name: Option<String>,
    /// SHA-256 (hex) of the rendered signature PNG blob.
    #[autosurgeon(missing = "Default::default")]
    pub signature_png_sha256: Option<String>,
    /// SHA-256 (hex) of the canonical encoding of the signature strokes, also a blob.
    #[autosurgeon(missing = "Default::default")]
    pub strokes_sha256: Option<String>,
    /// SHA-256 (hex) of the visit's photos (upload copies) at signing time, in visit order.
    #[autosurgeon(missing = "Default::default")]
    pub photo_sha256s: Vec<String>,
    /// The device's location fix when the customer signed.
    #[autosurgeon(missing = "Default::default")]
    pub fix: Option<Location>,
    /// The device that signed.
    #[autosurgeon(missing = "Default::default")]
    pub signed_by: Option<DeviceId>,
    /// That device's Ed25519 public key (hex), so the slip verifies on its own anywhere.
    #[autosurgeon(missing = "Default::default")]
    pub device_public_key: Option<String>,
    /// SHA-256 (hex) of the slip's canonical content.
    #[autosurgeon(missing = "Default::default")]
    pub content_sha256: Option<String>,
    /// Ed25519 signature (hex) of the content hash by the device key.
    #[autosurgeon(missing = "Default::default")]
    pub device_signature: Option<String>,
    /// When it was signed; `Some` means the slip is sealed.
    #[autosurgeon(missing = "Default::default")]
    pub signed_at: Option<UnixMillis>,
    /// Who created it and when.
    pub provenance: Provenance,
}

impl ServiceSlip {
    /// A signed slip can no longer be edited.
    pub fn is_signed(&self) -> bool {
        self.signed_at.is_some()
    }
}

/// The fields of a new, unsigned slip.
#[derive(Debug, Clone, PartialEq)]
pub struct NewServiceSlip {
    /// The visit (required).
    pub visit_id: DocId,
    /// Lines.
    pub items: Vec<SlipItem>,
    /// Notes.
    pub notes: String,
}

impl Draft for NewServiceSlip {
    type Record = ServiceSlip;

    fn into_record(self, id: DocId, provenance: Provenance) -> ServiceSlip {
        ServiceSlip {
            id,
            visit_id: self.visit_id,
            items: self.items,
            notes: self.notes,
            signer_name: None,
            signature_png_sha256: None,
            strokes_sha256: None,
            photo_sha256s: Vec::new(),
            fix: None,
            signed_by: None,
            device_public_key: None,
            content_sha256: None,
            device_signature: None,
            signed_at: None,
            provenance,
        }
    }
}

impl Record for ServiceSlip {
    const KIND: RecordKind = RecordKind::ServiceSlip;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        limit_list(kind, "items", &self.items, 200)?;
        limit_text(kind, "notes", &self.notes, 10_000)?;
        limit_list(kind, "photo_sha256s", &self.photo_sha256s, 100)?;
        if let Some(name) = &self.signer_name {
            limit_text(kind, "signer_name", name, 100)?;
        }
        if let Some(fix) = &self.fix {
            fix.check().map_err(|p| ValidationError::new(kind, "fix", p))?;
        }
        for item in &self.items {
            limit_text(kind, "items.unit", &item.unit, 50)?;
            limit_text(kind, "items.description", &item.description, 500)?;
            if !item.quantity.is_finite() || item.quantity < 0.0 {
                return Err(ValidationError::new(
                    kind,
                    "items.quantity",
                    format!("{} is not a non-negative quantity", item.quantity),
                ));
            }
        }
        Ok(())
    }

    fn is_sealed(&self) -> bool {
        self.is_signed()
    }
}
