//! Checks on a whole document, shared by the phone's store and the relay: what kind it declares,
//! and whether it still reads as that kind after a change.

use automerge::{Automerge, ObjType, ROOT, ReadDoc, Value};

use super::{
    Activity, Alert, ClaimRequest, Customer, LeadCard, Opportunity, Ownership, Record, RecordKind,
    Scoreboard, ServiceSlip, TeamRules, TeamTable, Visit,
};

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
        // Other Automerge writers store strings as text objects by default.
        Some((Value::Object(ObjType::Text), text)) => {
            doc.text(&text).map_err(|e| e.to_string())?.parse().map_err(|e: super::UnknownKind| e.to_string())
        }
        Some(_) => Err("its kind field is not text".into()),
        None => Err("it has no kind field".into()),
    }
}

/// What is wrong with a document, for [`check_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentProblem {
    /// It does not read as the kind it declares (or declares none): no reader can use it.
    Unreadable(String),
    /// It reads, but breaks its kind's rules (`Record::validate`: an empty name, 300 tags, a
    /// position out of range), which the phone's own writes never do.
    Invalid(String),
}

impl std::fmt::Display for DocumentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentProblem::Unreadable(why) | DocumentProblem::Invalid(why) => f.write_str(why),
        }
    }
}

/// Checks that a document reads as the kind it declares; returns what it is. Team rules are also
/// validated (out-of-range rules would steer every phone's checks and the relay's alerts).
pub fn check_document(doc: &Automerge) -> Result<DocumentFacts, String> {
    check(doc, false).map_err(|p| p.to_string())
}

/// [`check_document`], and the record's own rules too: what the relay requires of every document
/// a device changes, so it never hands phones a record their own `validate()` would refuse.
pub fn check_record(doc: &Automerge) -> Result<DocumentFacts, DocumentProblem> {
    check(doc, true)
}

/// Whether a document reads as the kind it declares, checking no rule at all: what a phone
/// requires of what the relay sends, so that no remote change leaves a record it cannot show.
pub fn check_readable(doc: &Automerge) -> Result<DocumentFacts, String> {
    check_with(doc, false, false).map_err(|p| p.to_string())
}

fn check(doc: &Automerge, validate: bool) -> Result<DocumentFacts, DocumentProblem> {
    check_with(doc, validate, true)
}

fn check_with(doc: &Automerge, validate: bool, rules: bool) -> Result<DocumentFacts, DocumentProblem> {
    let kind = declared_kind(doc).map_err(DocumentProblem::Unreadable)?;
    let sealed = match kind {
        RecordKind::Customer => facts::<Customer>(doc, validate)?,
        RecordKind::LeadCard => facts::<LeadCard>(doc, validate)?,
        RecordKind::Opportunity => facts::<Opportunity>(doc, validate)?,
        RecordKind::Visit => facts::<Visit>(doc, validate)?,
        RecordKind::ServiceSlip => facts::<ServiceSlip>(doc, validate)?,
        RecordKind::TeamRules => facts::<TeamRules>(doc, validate || rules)?,
        RecordKind::Alert => facts::<Alert>(doc, validate)?,
        RecordKind::Activity => facts::<Activity>(doc, validate)?,
        RecordKind::Ownership => facts::<Ownership>(doc, validate)?,
        RecordKind::ClaimRequest => facts::<ClaimRequest>(doc, validate)?,
        RecordKind::Scoreboard => facts::<Scoreboard>(doc, validate)?,
        RecordKind::TeamTable => facts::<TeamTable>(doc, validate)?,
    };
    Ok(DocumentFacts { kind, sealed })
}

fn facts<R: Record>(doc: &Automerge, validate: bool) -> Result<bool, DocumentProblem> {
    let record: R = super::read_record(doc)
        .map_err(|e| DocumentProblem::Unreadable(format!("it does not read as a {}: {e}", R::KIND)))?;
    if validate {
        record.validate().map_err(|e| DocumentProblem::Invalid(e.to_string()))?;
    }
    Ok(record.is_sealed())
}
