//! The sales funnel's rules, shared by the phone and the relay (DESIGN §4 Funnel, §6 Alerts).
//!
//! - Which documents a deal needs to enter a stage ([`missing_evidence`]).
//! - How long a stage normally lasts ([`dwell_norm`]).
//! - When a deal stalls: [`assess`] turns a deal's stage times and the team's [`StageRule`] into
//!   dated triggers — the rep's reminder, the supervisor's alert, the escalation — and says which
//!   are due at a given time and when the next one falls due. The phone computes its rep's
//!   reminders with it offline; the relay's scheduler computes alerts with it. Time is always a
//!   parameter: callers read it from a [`crate::clock::Clock`], tests from a fake one.
//! - What an alert carries in a push message ([`payload`]).

pub mod payload;

use sha2::{Digest, Sha256};

use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{EvidenceKind, Opportunity, Stage, StageRule, StallKind, StallLevel, TeamRules};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// How long a deal normally stays in a stage, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DwellNorm {
    /// Fewer days than this is quick.
    pub min_days: u32,
    /// More days than this is slow.
    pub max_days: u32,
}

/// The field's dwell norms: 3–5, 7–10, 5–8, 10–15 and 2–3 days; none for won and lost.
pub fn dwell_norm(stage: Stage) -> Option<DwellNorm> {
    let norm = |min_days, max_days| Some(DwellNorm { min_days, max_days });
    match stage {
        Stage::FirstContact => norm(3, 5),
        Stage::NeedsConfirmed => norm(7, 10),
        Stage::ProposalSubmitted => norm(5, 8),
        Stage::Negotiation => norm(10, 15),
        Stage::ContractSigning => norm(2, 3),
        Stage::Won | Stage::Lost => None,
    }
}

/// Whether moving from `from` to `to` goes forward in the funnel. Won counts as forward from
/// every open stage; lost is neither (a deal may be lost at any stage, with no evidence).
pub fn is_forward(from: Stage, to: Stage) -> bool {
    match to {
        Stage::Lost => false,
        Stage::Won => !from.is_closed(),
        _ => !from.is_closed() && to > from,
    }
}

/// The documents a deal still lacks to move to `to` under `rules`. Only forward moves need
/// evidence: going back a stage (the customer changed their contact, the quote must be redone)
/// is always allowed and recorded. Winning needs what contract signing needs.
pub fn missing_evidence(opportunity: &Opportunity, to: Stage, rules: &TeamRules) -> Vec<EvidenceKind> {
    if !is_forward(opportunity.stage, to) {
        return Vec::new();
    }
    let entry = if to == Stage::Won { Stage::ContractSigning } else { to };
    rules.evidence_for(entry).iter().copied().filter(|kind| !opportunity.has_evidence(*kind)).collect()
}

/// The last activity recorded in the deal itself: its stage entry, its last stage move, the
/// last document attached. (Visits to it are activity too; they live in their own documents.)
pub fn deal_activity(opportunity: &Opportunity) -> UnixMillis {
    let moved = opportunity.stage_history.iter().map(|c| c.at).max().unwrap_or(i64::MIN);
    let attached = opportunity.evidence.iter().map(|e| e.added_at).max().unwrap_or(i64::MIN);
    opportunity.stage_entered_at.max(moved).max(attached)
}

/// The times the stall rules read from a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealTimes {
    /// The deal.
    pub opportunity_id: DocId,
    /// Its current stage.
    pub stage: Stage,
    /// When it entered the stage.
    pub stage_entered_at: UnixMillis,
    /// Its last activity (visit, stage move, attached document); never before the stage entry.
    pub last_activity_at: UnixMillis,
}

/// One dated consequence of a stage rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StallTrigger {
    /// Which rule.
    pub kind: StallKind,
    /// Who hears about it.
    pub level: StallLevel,
    /// When it falls due.
    pub due_at: UnixMillis,
    /// The rule's threshold in days.
    pub threshold_days: u32,
    /// The moment its clock started: the stage entry, or the last activity for
    /// [`StallKind::NoActivity`]. New activity starts a new period.
    pub period_start: UnixMillis,
}

impl StallTrigger {
    /// What makes an alert for this trigger unique: deal, stage (and when it was entered), rule,
    /// level and period. Raising the same trigger again gives the same key.
    pub fn key(&self, deal: &DealTimes) -> String {
        format!(
            "{}/{}/{}/{}/{}/{}",
            deal.opportunity_id, deal.stage, deal.stage_entered_at, self.kind, self.level, self.period_start
        )
    }
}

/// The document id of the alert with `key`: the same key always gives the same id, so two relay
/// instances (or one restarted) raising the same alert write one document. A UUIDv8 built from
/// SHA-256 of the key.
pub fn alert_id(key: &str) -> DocId {
    let digest = Sha256::digest(format!("fieldsync/alert/v1\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    DocId::from_bytes(bytes)
}

/// Every trigger `rule` sets for `deal`, in due order. A closed deal has none.
pub fn triggers(deal: &DealTimes, rule: &StageRule) -> Vec<StallTrigger> {
    if deal.stage.is_closed() || rule.stage != deal.stage {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(6);
    let active_since = deal.last_activity_at.max(deal.stage_entered_at);
    for (kind, start, days) in [
        (StallKind::NoActivity, active_since, rule.no_activity_days),
        (StallKind::StageTooLong, deal.stage_entered_at, rule.max_stage_days),
    ] {
        let alert_at = start.saturating_add(i64::from(days) * DAY_MS);
        let mut push = |level, due_at| {
            out.push(StallTrigger { kind, level, due_at, threshold_days: days, period_start: start })
        };
        if rule.remind_days_before > 0 {
            push(StallLevel::Reminder, alert_at - i64::from(rule.remind_days_before) * DAY_MS);
        }
        push(StallLevel::Supervisor, alert_at);
        push(StallLevel::Escalation, alert_at.saturating_add(i64::from(rule.escalate_after_days) * DAY_MS));
    }
    out.sort_by_key(|t| (t.due_at, t.level, t.kind));
    out
}

/// Where a deal stands against its stage rule at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assessment {
    /// Triggers that are due (due time ≤ now), in due order.
    pub due: Vec<StallTrigger>,
    /// When the next trigger falls due, if any is left.
    pub next_due_at: Option<UnixMillis>,
}

impl Assessment {
    /// The due triggers at `level`.
    pub fn at_level(&self, level: StallLevel) -> impl Iterator<Item = &StallTrigger> {
        self.due.iter().filter(move |t| t.level == level)
    }

    /// The highest level due, if any.
    pub fn worst(&self) -> Option<StallLevel> {
        self.due.iter().map(|t| t.level).max()
    }
}

/// Assesses `deal` against the team's rule for its stage at `now`. A stage without a rule never
/// stalls.
pub fn assess(deal: &DealTimes, rules: &TeamRules, now: UnixMillis) -> Assessment {
    let Some(rule) = rules.stage_rule(deal.stage) else {
        return Assessment::default();
    };
    let (due, later): (Vec<_>, Vec<_>) = triggers(deal, rule).into_iter().partition(|t| t.due_at <= now);
    Assessment { due, next_due_at: later.first().map(|t| t.due_at) }
}

#[cfg(test)]
mod tests;
