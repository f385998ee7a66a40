//! Checks on a whole document, shared by the phone's store and the relay: what kind it declares,
//! and whether it still reads as that kind after a change.

use automerge::{Automerge, ROOT, ReadDoc, Value};

use super::{Alert, Customer, LeadCard, Opportunity, Record, RecordKind, ServiceSlip, TeamRules, Visit};

/// What a valid document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentFacts {
    /// Its kind.
    pub kind: RecordKind,
    /// Whether it is sealed (a signed slip): no further change may be accepted.
    pub sealed: bool,
}

/// The kind a document declares in its root `kind` field.
pub fn declared_kind(doc: &Automerge) -> Result<RecordKind, String> {
    match doc.get(ROOT, "kind").map_err(|e| e.to_string())? {
        Some((Value::Scalar(s), _)) => match s.as_str() {
            Some(name) => name.parse().map_err(|e: super::UnknownKind| e.to_string()),
            None => Err("its kind field is not text".into()),
        },
        Some(_) => Err("its kind field is not a scalar".into()),
        None => Err("it has no kind field".into()),
    }
}

/// Checks that a document reads as the kind it declares; returns what it is.
pub fn check_document(doc: &Automerge) -> Result<DocumentFacts, String> {
    let kind = declared_kind(doc)?;
    let sealed = match kind {
        RecordKind::Customer => facts::<Customer>(doc)?,
        RecordKind::LeadCard => facts::<LeadCard>(doc)?,
        RecordKind::Opportunity => facts::<Opportunity>(doc)?,
        RecordKind::Visit => facts::<Visit>(doc)?,
        RecordKind::ServiceSlip => facts::<ServiceSlip>(doc)?,
        // Rules steer every phone's checks and the relay's alerts: a change that leaves them
        // out of range (0-day stall rules would alert on every deal at once) is refused.
        RecordKind::TeamRules => {
            let rules: TeamRules =
                autosurgeon::hydrate(doc).map_err(|e| format!("it does not read as a {}: {e}", kind))?;
            rules.validate().map_err(|e| e.to_string())?;
            false
        }
        RecordKind::Alert => facts::<Alert>(doc)?,
    };
    Ok(DocumentFacts { kind, sealed })
}

fn facts<R: Record>(doc: &Automerge) -> Result<bool, String> {
    let record: R =
        autosurgeon::hydrate(doc).map_err(|e| format!("it does not read as a {}: {e}", R::KIND))?;
    Ok(record.is_sealed())
}
