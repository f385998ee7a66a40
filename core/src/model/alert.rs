//! A stalled deal reported to the team's supervisors. Written by the relay's scheduler, never by
//! a phone; synced to supervisors' devices and delivered as push messages.

use std::fmt;

use autosurgeon::{Hydrate, Reconcile};

use super::{Provenance, Record, RecordKind, Stage, ValidationError, limit_list, limit_text, require_text};
use crate::clock::UnixMillis;
use crate::ids::DocId;

/// Which of a stage's stall rules a deal broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum StallKind {
    /// `no_activity_days` passed without a visit, stage move or attached document.
    NoActivity,
    /// `max_stage_days` passed in the stage, activity or not.
    StageTooLong,
}

impl StallKind {
    /// Both kinds.
    pub const ALL: [StallKind; 2] = [StallKind::NoActivity, StallKind::StageTooLong];

    /// Stable machine code.
    pub fn as_str(self) -> &'static str {
        match self {
            StallKind::NoActivity => "no_activity",
            StallKind::StageTooLong => "stage_too_long",
        }
    }

    /// Parses a machine code.
    pub fn parse(s: &str) -> Option<StallKind> {
        StallKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for StallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a stall has gone: the rep is reminded first, then the supervisor is alerted, then the
/// next level up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum StallLevel {
    /// The rep's own phone reminds them (computed offline; never an `Alert` document).
    Reminder,
    /// The supervisor is alerted.
    Supervisor,
    /// The stall went on `escalate_after_days` more: the next level is alerted.
    Escalation,
}

impl StallLevel {
    /// Every level, in order.
    pub const ALL: [StallLevel; 3] = [StallLevel::Reminder, StallLevel::Supervisor, StallLevel::Escalation];

    /// Stable machine code.
    pub fn as_str(self) -> &'static str {
        match self {
            StallLevel::Reminder => "reminder",
            StallLevel::Supervisor => "supervisor",
            StallLevel::Escalation => "escalation",
        }
    }

    /// Parses a machine code.
    pub fn parse(s: &str) -> Option<StallLevel> {
        StallLevel::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for StallLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stalled deal, as supervisors see it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Alert {
    /// Document id, derived from the alert's key so that raising it twice writes one document.
    pub id: DocId,
    /// `opportunity/stage/entered/kind/level/period`: what makes this alert this alert.
    pub key: String,
    /// The stalled deal.
    pub opportunity_id: DocId,
    /// Its customer.
    pub customer_id: DocId,
    /// The deal's title when the alert was raised.
    pub opportunity_title: String,
    /// The rep who owns the deal.
    pub owner: String,
    /// The stage it is stuck in.
    pub stage: Stage,
    /// Supervisor or escalation.
    pub level: StallLevel,
    /// The rules broken (both when they came due together).
    pub kinds: Vec<StallKind>,
    /// When the deal entered the stage.
    pub stage_entered_at: UnixMillis,
    /// The deal's last activity the relay knew of.
    pub last_activity_at: UnixMillis,
    /// When the rule came due.
    pub due_at: UnixMillis,
    /// The rule's threshold in days.
    #[autosurgeon(hydrate = "super::lenient::count")]
    pub threshold_days: u32,
    /// When any of the rep's devices last synced, if ever: work after that is unknown.
    #[autosurgeon(missing = "Default::default")]
    pub rep_last_sync_at: Option<UnixMillis>,
    /// When the relay raised it.
    pub raised_at: UnixMillis,
    /// The relay's actor and time.
    pub provenance: Provenance,
}

impl Alert {
    /// How long before `raised_at` the rep last synced, in milliseconds (`None`: never).
    pub fn rep_sync_age_ms(&self) -> Option<i64> {
        self.rep_last_sync_at.map(|at| (self.raised_at - at).max(0))
    }
}

impl Record for Alert {
    const KIND: RecordKind = RecordKind::Alert;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        require_text(kind, "key", &self.key, 300)?;
        limit_text(kind, "opportunity_title", &self.opportunity_title, 200)?;
        limit_text(kind, "owner", &self.owner, 100)?;
        limit_list(kind, "kinds", &self.kinds, StallKind::ALL.len())?;
        if self.kinds.is_empty() {
            return Err(ValidationError::new(kind, "kinds", "an alert names at least one broken rule"));
        }
        if self.level == StallLevel::Reminder {
            return Err(ValidationError::new(kind, "level", "reminders stay on the rep's phone"));
        }
        Ok(())
    }
}
