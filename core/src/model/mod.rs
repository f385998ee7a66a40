//! The business records a rep creates offline, each one Automerge document (DESIGN §3).
//!
//! Records are plain Rust structs mapped to documents with `autosurgeon`: `reconcile` writes only
//! the fields that differ from the document, so two reps editing different fields of the same
//! record offline both keep their edit after a merge. Every document's root also carries `kind`
//! and `schema`, written by the store, so a reader can tell what it holds and from which version.

mod activity;
mod alert;
mod customer;
mod document;
mod lead_card;
mod lenient;
mod location;
mod opportunity;
mod ownership;
mod scoreboard;
mod service_slip;
mod team_rules;
mod visit;

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, Reconcile};

pub use activity::{Activity, ActivityType, MAX_DURATION_S, MAX_SUMMARY_CHARS, NewActivity, NextAction};
pub use alert::{Alert, StallKind, StallLevel};
pub use customer::{Contact, Customer, NewCustomer};
pub use document::{
    DocumentFacts, DocumentProblem, check_document, check_readable, check_record, declared_kind,
};
pub use lead_card::{LeadCard, NewLeadCard};
pub use lenient::{UnreadableRecord, read_record, write_record};
pub use location::{Datum, FixSource, Location};
pub use opportunity::{DealEvidence, EvidenceKind, Money, NewOpportunity, Opportunity, Stage, StageChange};
pub use ownership::{
    ClaimAction, ClaimDecision, ClaimRefusal, ClaimRequest, Cooldown, MAX_OWNERSHIP_HISTORY, Ownership,
    OwnershipEvent, OwnershipReason, ownership_id, return_due_at,
};
pub use scoreboard::{
    MAX_TABLE_REPS, MetricValue, RepLine, ScoreLine, Scoreboard, TeamTable, scoreboard_id, team_table_id,
};
pub use service_slip::{NewServiceSlip, ServiceSlip, SlipItem};
pub use team_rules::{GeofenceMode, NewTeamRules, StageEvidence, StageRule, TeamRules};
pub use visit::{EvidenceFlag, NewVisit, PhotoRef, Visit};

use crate::clock::UnixMillis;
use crate::ids::{DeviceId, DocId};

/// The schema version this build writes. Readers accept every older version: fields added later
/// are `missing = "Default::default"` so old documents still hydrate.
pub const SCHEMA_VERSION: u64 = 1;

/// The kinds of record, as stored in each document's `kind` field and in the store's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A company the team sells to.
    Customer,
    /// A lead captured from a QR business card.
    LeadCard,
    /// A deal moving through the funnel.
    Opportunity,
    /// A visit to a customer's site.
    Visit,
    /// A customer-signed service slip.
    ServiceSlip,
    /// The team's rules: stall thresholds, geofence radius, required fields.
    TeamRules,
    /// A stalled deal reported to supervisors; written by the relay only.
    Alert,
    /// A follow-up between visits: a call, a message, a sample sent.
    Activity,
    /// Who owns a customer; written by the relay only.
    Ownership,
    /// A rep's request to claim or release a customer.
    ClaimRequest,
    /// A team's KPI aggregates for one period, for the whole team; written by the relay only.
    Scoreboard,
    /// Every rep's KPI figures for one period, for supervisors and admins; written by the relay
    /// only.
    TeamTable,
}

impl RecordKind {
    /// Every kind, in a stable order.
    pub const ALL: [RecordKind; 12] = [
        RecordKind::Customer,
        RecordKind::LeadCard,
        RecordKind::Opportunity,
        RecordKind::Visit,
        RecordKind::ServiceSlip,
        RecordKind::TeamRules,
        RecordKind::Alert,
        RecordKind::Activity,
        RecordKind::Ownership,
        RecordKind::ClaimRequest,
        RecordKind::Scoreboard,
        RecordKind::TeamTable,
    ];

    /// The name stored in documents and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::LeadCard => "lead_card",
            RecordKind::Opportunity => "opportunity",
            RecordKind::Visit => "visit",
            RecordKind::ServiceSlip => "service_slip",
            RecordKind::TeamRules => "team_rules",
            RecordKind::Alert => "alert",
            RecordKind::Activity => "activity",
            RecordKind::Ownership => "ownership",
            RecordKind::ClaimRequest => "claim",
            RecordKind::Scoreboard => "scoreboard",
            RecordKind::TeamTable => "team_table",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record kind name that this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind \"{0}\"")]
pub struct UnknownKind(pub String);

impl FromStr for RecordKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A record whose fields fail a rule that holds for every record of its kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} {field}: {problem}")]
pub struct ValidationError {
    /// The kind of record.
    pub kind: RecordKind,
    /// The offending field.
    pub field: &'static str,
    /// What is wrong, and what would be right.
    pub problem: String,
}

impl ValidationError {
    pub(crate) fn new(kind: RecordKind, field: &'static str, problem: impl Into<String>) -> Self {
        ValidationError { kind, field, problem: problem.into() }
    }
}

/// Who made a record and when; filled in by the store, never by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Provenance {
    /// When the record was created, on the creating device's clock.
    pub created_at: UnixMillis,
    /// The device that created it.
    pub created_by: DeviceId,
}

/// A typed business record stored as one Automerge document.
pub trait Record: Reconcile + Hydrate + Clone + fmt::Debug + Send + 'static {
    /// Which kind of record this is.
    const KIND: RecordKind;

    /// The record's document id.
    fn id(&self) -> DocId;

    /// Who created the record and when.
    fn provenance(&self) -> Provenance;

    /// Checks the rules every record of this kind must satisfy before it is written.
    fn validate(&self) -> Result<(), ValidationError>;

    /// A sealed record refuses every further local change (a signed service slip).
    fn is_sealed(&self) -> bool {
        false
    }
}

/// The fields a caller supplies to create a record; the store adds id and provenance.
pub trait Draft: Send {
    /// The record this draft becomes.
    type Record: Record;

    /// Builds the record with a fresh id and the given provenance.
    fn into_record(self, id: DocId, provenance: Provenance) -> Self::Record;
}

pub(crate) fn require_text(
    kind: RecordKind,
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(kind, field, "must not be empty"));
    }
    limit_text(kind, field, value, max_chars)
}

pub(crate) fn limit_text(
    kind: RecordKind,
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(ValidationError::new(
            kind,
            field,
            format!("is {chars} characters long; the limit is {max_chars}"),
        ));
    }
    Ok(())
}

pub(crate) fn limit_list<T>(
    kind: RecordKind,
    field: &'static str,
    items: &[T],
    max_items: usize,
) -> Result<(), ValidationError> {
    if items.len() > max_items {
        return Err(ValidationError::new(
            kind,
            field,
            format!("has {} entries; the limit is {max_items}", items.len()),
        ));
    }
    Ok(())
}
