//! A visit to a customer's site.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Location, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text};
use crate::clock::UnixMillis;
use crate::ids::DocId;

/// Something a check found doubtful about a capture: evidence for a supervisor, not a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct EvidenceFlag {
    /// Stable machine code (`mock_location`, `off_site`, `exif_far_from_fix`, `no_gps`, …).
    pub code: String,
    /// The same in words, with the figures.
    pub detail: String,
}

impl EvidenceFlag {
    /// A flag from a code and its explanation.
    pub fn new(code: impl Into<String>, detail: impl Into<String>) -> Self {
        EvidenceFlag { code: code.into(), detail: detail.into() }
    }
}

/// A photo attached to a visit (its `PhotoEvidence`); the bytes live in the blob store under
/// `sha256`.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PhotoRef {
    /// SHA-256 (hex) of the upload copy.
    #[key]
    pub sha256: String,
    /// SHA-256 (hex) of the thumbnail.
    #[autosurgeon(missing = "Default::default")]
    pub thumbnail_sha256: Option<String>,
    /// When it was taken, per the device.
    pub taken_at: UnixMillis,
    /// SHA-256 (hex) of the original file the copies were made from.
    #[autosurgeon(missing = "Default::default")]
    pub original_sha256: Option<String>,
    /// Where the photo's EXIF block says it was taken (WGS-84), if it says.
    #[autosurgeon(missing = "Default::default")]
    pub exif_location: Option<Location>,
    /// When the EXIF block says it was taken, if it says.
    #[autosurgeon(missing = "Default::default")]
    pub exif_taken_at: Option<UnixMillis>,
    /// The device's fix when the photo was captured.
    #[autosurgeon(missing = "Default::default")]
    pub fix: Option<Location>,
    /// Whether the fix was within the team's radius of the customer's site; `None` when either
    /// position is unknown.
    #[autosurgeon(missing = "Default::default")]
    pub on_site: Option<bool>,
    /// What the photo and plausibility checks found.
    #[autosurgeon(missing = "Default::default")]
    pub flags: Vec<EvidenceFlag>,
}

/// A visit: planned, then carried out with fixes, photos and notes.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Visit {
    /// Document id.
    pub id: DocId,
    /// The customer visited.
    pub customer_id: DocId,
    /// The deal the visit serves, if any.
    #[autosurgeon(missing = "Default::default")]
    pub opportunity_id: Option<DocId>,
    /// When the visit is planned.
    pub planned_at: UnixMillis,
    /// When the rep checked in.
    #[autosurgeon(missing = "Default::default")]
    pub started_at: Option<UnixMillis>,
    /// When the rep checked out.
    #[autosurgeon(missing = "Default::default")]
    pub ended_at: Option<UnixMillis>,
    /// Location fixes taken during the visit, oldest first.
    pub fixes: Vec<Location>,
    /// Photos taken on site.
    pub photos: Vec<PhotoRef>,
    /// What happened.
    pub notes: String,
    /// The agreed next step.
    #[autosurgeon(missing = "Default::default")]
    pub next_step: Option<String>,
    /// Whether the check-in fix was on site (distance − accuracy ≤ the team's radius); `None`
    /// until a check-in, or when the customer's site is not known.
    #[autosurgeon(missing = "Default::default")]
    pub on_site: Option<bool>,
    /// What the geofence and plausibility checks found at check-in.
    #[autosurgeon(missing = "Default::default")]
    pub flags: Vec<EvidenceFlag>,
    /// Who created it and when.
    pub provenance: Provenance,
}

/// The fields a rep fills in to plan or log a visit.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVisit {
    /// The customer (required).
    pub customer_id: DocId,
    /// The deal, if any.
    pub opportunity_id: Option<DocId>,
    /// When it is planned (or happened).
    pub planned_at: UnixMillis,
    /// Notes.
    pub notes: String,
}

impl Draft for NewVisit {
    type Record = Visit;

    fn into_record(self, id: DocId, provenance: Provenance) -> Visit {
        Visit {
            id,
            customer_id: self.customer_id,
            opportunity_id: self.opportunity_id,
            planned_at: self.planned_at,
            started_at: None,
            ended_at: None,
            fixes: Vec::new(),
            photos: Vec::new(),
            notes: self.notes,
            next_step: None,
            on_site: None,
            flags: Vec::new(),
            provenance,
        }
    }
}

impl Record for Visit {
    const KIND: RecordKind = RecordKind::Visit;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        limit_text(kind, "notes", &self.notes, 10_000)?;
        limit_list(kind, "fixes", &self.fixes, 500)?;
        limit_list(kind, "photos", &self.photos, 100)?;
        limit_list(kind, "flags", &self.flags, 100)?;
        for fix in &self.fixes {
            fix.check().map_err(|p| ValidationError::new(kind, "fixes", p))?;
        }
        for photo in &self.photos {
            limit_list(kind, "photos.flags", &photo.flags, 50)?;
            for location in photo.fix.iter().chain(&photo.exif_location) {
                location.check().map_err(|p| ValidationError::new(kind, "photos.fix", p))?;
            }
        }
        if let (Some(start), Some(end)) = (self.started_at, self.ended_at)
            && end < start
        {
            return Err(ValidationError::new(kind, "ended_at", "is before started_at"));
        }
        Ok(())
    }
}
