//! A visit to a customer's site.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Location, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text};
use crate::clock::UnixMillis;
use crate::ids::DocId;

/// A photo attached to a visit; the bytes live in the blob store under `sha256`.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PhotoRef {
    /// SHA-256 (hex) of the upload copy.
    #[key]
    pub sha256: String,
    /// SHA-256 (hex) of the thumbnail.
    pub thumbnail_sha256: Option<String>,
    /// When it was taken, per the device.
    pub taken_at: UnixMillis,
}

/// A visit: planned, then carried out with fixes, photos and notes.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Visit {
    /// Document id.
    pub id: DocId,
    /// The customer visited.
    pub customer_id: DocId,
    /// The deal the visit serves, if any.
    pub opportunity_id: Option<DocId>,
    /// When the visit is planned.
    pub planned_at: UnixMillis,
    /// When the rep checked in.
    pub started_at: Option<UnixMillis>,
    /// When the rep checked out.
    pub ended_at: Option<UnixMillis>,
    /// Location fixes taken during the visit, oldest first.
    pub fixes: Vec<Location>,
    /// Photos taken on site.
    pub photos: Vec<PhotoRef>,
    /// What happened.
    pub notes: String,
    /// The agreed next step.
    pub next_step: Option<String>,
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
        for fix in &self.fixes {
            fix.check().map_err(|p| ValidationError::new(kind, "fixes", p))?;
        }
        if let (Some(start), Some(end)) = (self.started_at, self.ended_at)
            && end < start
        {
            return Err(ValidationError::new(kind, "ended_at", "is before started_at"));
        }
        Ok(())
    }
}
