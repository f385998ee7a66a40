//! The team's rules, edited by admins and synced to every phone.

use std::collections::BTreeSet;

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, EvidenceKind, Provenance, Record, RecordKind, Stage, ValidationError, limit_list};
use crate::dedup::DedupThresholds;
use crate::heat::HeatRules;
use crate::ids::DocId;
use crate::kpi::{Date, IncentiveRules, RuleBook, TeamCalendar};

/// Holidays or make-up days a team lists at most (ten years' worth).
const MAX_CALENDAR_DAYS: usize = 400;
/// Versions of the incentive rules a team keeps at most.
const MAX_RULE_VERSIONS: usize = 100;
/// Bytes of one version's JSON at most.
const MAX_RULE_TEXT: usize = 32 * 1024;

/// Whether an off-site visit is flagged or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum GeofenceMode {
    /// Record the visit and flag it.
    Soft,
    /// Refuse to record the visit as on site.
    Hard,
}

/// Stall thresholds for one stage.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct StageRule {
    /// The stage.
    #[key]
    pub stage: Stage,
    /// Days without any activity before the deal counts as stalled.
    #[autosurgeon(hydrate = "super::lenient::count")]
    pub no_activity_days: u32,
    /// Days in the stage before the deal counts as stalled, activity or not.
    #[autosurgeon(hydrate = "super::lenient::count")]
    pub max_stage_days: u32,
    /// Days before the supervisor is alerted that the rep's own phone reminds them (0: no
    /// reminder). Rules written before the field existed read as 1.
    #[autosurgeon(missing = "default_remind_days_before", hydrate = "super::lenient::count")]
    pub remind_days_before: u32,
    /// Days after the supervisor's alert, with still no progress, before the next level is
    /// alerted. Rules written before the field existed read as 3.
    #[autosurgeon(missing = "default_escalate_after_days", hydrate = "super::lenient::count")]
    pub escalate_after_days: u32,
}

fn default_remind_days_before() -> u32 {
    1
}

fn default_escalate_after_days() -> u32 {
    3
}

impl StageRule {
    /// A rule with the default reminder and escalation.
    pub fn new(stage: Stage, no_activity_days: u32, max_stage_days: u32) -> Self {
        StageRule {
            stage,
            no_activity_days,
            max_stage_days,
            remind_days_before: default_remind_days_before(),
            escalate_after_days: default_escalate_after_days(),
        }
    }
}

/// The documents a deal must carry to enter a stage.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct StageEvidence {
    /// The stage entered.
    #[key]
    pub stage: Stage,
    /// Every kind of document it needs.
    pub required: Vec<EvidenceKind>,
}

/// The field's defaults: 需求确认 needs a technical document, 方案提交 a quote, 合同签订 a signed
/// contract.
pub fn default_stage_evidence() -> Vec<StageEvidence> {
    let needs = |stage, kind| StageEvidence { stage, required: vec![kind] };
    vec![
        needs(Stage::NeedsConfirmed, EvidenceKind::TechnicalDocument),
        needs(Stage::ProposalSubmitted, EvidenceKind::Quote),
        needs(Stage::ContractSigning, EvidenceKind::SignedContract),
    ]
}

fn default_alert_grace_hours() -> u32 {
    24
}

/// The team's rules.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct TeamRules {
    /// Document id.
    pub id: DocId,
    /// On-site radius in metres (default 300).
    #[autosurgeon(hydrate = "super::lenient::number")]
    pub geofence_radius_m: f64,
    /// Soft (flag) or hard (refuse).
    pub geofence_mode: GeofenceMode,
    /// Per-stage stall thresholds.
    pub stage_rules: Vec<StageRule>,
    /// Documents each stage needs on entry. Rules written before the field existed read as
    /// the defaults.
    #[autosurgeon(missing = "default_stage_evidence")]
    pub stage_evidence: Vec<StageEvidence>,
    /// Hours the relay holds a due alert while the rep has not synced since it came due: their
    /// phone may hold the work that answers it (default 24).
    #[autosurgeon(missing = "default_alert_grace_hours", hydrate = "super::lenient::count")]
    pub alert_grace_hours: u32,
    /// Fields a customer record must have before it is saved, beyond the company name.
    pub required_customer_fields: Vec<String>,
    /// Name similarity at which two customers count as the same name (default 0.8); with a
    /// shared phone they are the same customer. Rules written before the field existed read as
    /// the default.
    #[autosurgeon(missing = "default_same_name", hydrate = "super::lenient::number")]
    pub dedup_same_name: f64,
    /// Name similarity at which a pair is shown for review (default 0.6).
    #[autosurgeon(missing = "default_possible_name", hydrate = "super::lenient::number")]
    pub dedup_possible_name: f64,
    /// Customer ownership and the public pool (docs/ownership.md). Days without an effective
    /// follow-up (a visit checked in on site, or a follow-up that says what was said) after
    /// which an owned customer returns to the pool; 0 = never (default 30).
    #[autosurgeon(missing = "default_pool_return_days", hydrate = "super::lenient::count")]
    pub pool_return_days: u32,
    /// Days without a won deal after which an owned customer returns to the pool; 0 = this rule
    /// is off (the default).
    #[autosurgeon(missing = "Default::default", hydrate = "super::lenient::count")]
    pub pool_return_without_won_days: u32,
    /// At most this many customers owned per rep (default 200).
    #[autosurgeon(missing = "default_max_owned_customers", hydrate = "super::lenient::count")]
    pub max_owned_customers: u32,
    /// Days a rep may not claim again a customer they released or lost to the pool (default 30).
    #[autosurgeon(missing = "default_reclaim_cooldown_days", hydrate = "super::lenient::count")]
    pub reclaim_cooldown_days: u32,
    /// Days before its return to the pool that the owner's phone warns (default 3).
    #[autosurgeon(missing = "default_pool_warn_days", hydrate = "super::lenient::count")]
    pub pool_warn_days: u32,
    // Heat tags (docs/heat-tags.md); rules written before these fields existed read as the
    // defaults of `HeatRules`.
    /// Days that count as recent for heat (default 30, 1–365).
    #[autosurgeon(missing = "default_heat_window_days", hydrate = "super::lenient::count")]
    pub heat_window_days: u32,
    /// Touches within the heat window that make a customer hot (default 4, 1–1000).
    #[autosurgeon(missing = "default_heat_hot_touches", hydrate = "super::lenient::count")]
    pub heat_hot_touches: u32,
    /// Days without a touch before a customer is dormant (default 60; window–730).
    #[autosurgeon(missing = "default_heat_dormant_days", hydrate = "super::lenient::count")]
    pub heat_dormant_days: u32,
    /// Days a scanned lead card keeps its customer a new lead (default 14, 1–365).
    #[autosurgeon(missing = "default_heat_new_lead_days", hydrate = "super::lenient::count")]
    pub heat_new_lead_days: u32,
    // Performance on facts (docs/kpi.md); rules written before these fields existed read as a
    // China-time calendar with no holidays and no incentive rules.
    /// The team's time zone for KPI periods, as minutes east of UTC (default 480, China).
    #[autosurgeon(missing = "default_utc_offset_minutes")]
    pub utc_offset_minutes: i32,
    /// Public holidays that are not working days (法定节假日), as ISO dates `2026-10-01`.
    #[autosurgeon(missing = "Default::default")]
    pub holidays: Vec<String>,
    /// Weekend days worked instead (调休上班), as ISO dates.
    #[autosurgeon(missing = "Default::default")]
    pub make_up_working_days: Vec<String>,
    /// The incentive rules (规则中心), one JSON text per version, in version order. Each version
    /// is one value, so two admins' concurrent edits of a version never merge into rules neither
    /// wrote (docs/kpi.md).
    #[autosurgeon(missing = "Default::default")]
    pub incentive_rules: Vec<String>,
    /// The day of the week (1 = Monday … 7 = Sunday, team time) the relay writes the weekly brief
    /// of the week before (default 1).
    #[autosurgeon(missing = "default_brief_weekday", hydrate = "super::lenient::count")]
    pub brief_weekday: u32,
    /// The hour of that day, team time (default 8).
    #[autosurgeon(missing = "default_brief_hour", hydrate = "super::lenient::count")]
    pub brief_hour: u32,
    /// Who created the rules and when.
    pub provenance: Provenance,
}

fn default_brief_weekday() -> u32 {
    1
}

fn default_brief_hour() -> u32 {
    8
}

fn default_utc_offset_minutes() -> i32 {
    480
}

fn default_pool_return_days() -> u32 {
    30
}

fn default_max_owned_customers() -> u32 {
    200
}

fn default_reclaim_cooldown_days() -> u32 {
    30
}

fn default_pool_warn_days() -> u32 {
    3
}

fn default_same_name() -> f64 {
    DedupThresholds::default().same_name
}

fn default_possible_name() -> f64 {
    DedupThresholds::default().possible_name
}

fn default_heat_window_days() -> u32 {
    HeatRules::default().window_days
}

fn default_heat_hot_touches() -> u32 {
    HeatRules::default().hot_touches
}

fn default_heat_dormant_days() -> u32 {
    HeatRules::default().dormant_days
}

fn default_heat_new_lead_days() -> u32 {
    HeatRules::default().new_lead_days
}

impl TeamRules {
    /// The rules in force before an admin wrote any (or when theirs cannot be read): the
    /// field defaults, with a nil id and provenance.
    pub fn defaults() -> TeamRules {
        NewTeamRules::default().into_record(
            DocId::from_bytes([0; 16]),
            Provenance { created_at: 0, created_by: crate::ids::DeviceId::from_bytes([0; 16]) },
        )
    }

    /// The stall rule for `stage`, if the team has one.
    pub fn stage_rule(&self, stage: Stage) -> Option<&StageRule> {
        self.stage_rules.iter().find(|r| r.stage == stage)
    }

    /// The documents `stage` needs on entry.
    pub fn evidence_for(&self, stage: Stage) -> &[EvidenceKind] {
        self.stage_evidence.iter().find(|e| e.stage == stage).map_or(&[], |e| &e.required)
    }

    /// The grace period in milliseconds.
    pub fn alert_grace_ms(&self) -> i64 {
        i64::from(self.alert_grace_hours) * 3_600_000
    }

    /// How long before its return to the pool the owner's phone warns, in milliseconds.
    pub fn pool_warn_ms(&self) -> i64 {
        i64::from(self.pool_warn_days) * 86_400_000
    }

    /// The cooldown before a rep may claim again what they released or lost, in milliseconds.
    pub fn reclaim_cooldown_ms(&self) -> i64 {
        i64::from(self.reclaim_cooldown_days) * 86_400_000
    }

    /// The thresholds the duplicate check uses for this team.
    pub fn dedup_thresholds(&self) -> DedupThresholds {
        DedupThresholds { same_name: self.dedup_same_name, possible_name: self.dedup_possible_name }
    }

    /// The thresholds the heat tags use for this team.
    pub fn heat_rules(&self) -> HeatRules {
        HeatRules {
            window_days: self.heat_window_days,
            hot_touches: self.heat_hot_touches,
            dormant_days: self.heat_dormant_days,
            new_lead_days: self.heat_new_lead_days,
        }
    }

    /// The team's working calendar for KPIs.
    pub fn calendar(&self) -> Result<TeamCalendar, ValidationError> {
        let kind = Self::KIND;
        let dates = |field: &'static str, list: &[String]| -> Result<BTreeSet<Date>, ValidationError> {
            list.iter()
                .map(|d| d.parse::<Date>().map_err(|e| ValidationError::new(kind, field, e.to_string())))
                .collect()
        };
        let calendar = TeamCalendar {
            utc_offset_minutes: self.utc_offset_minutes,
            holidays: dates("holidays", &self.holidays)?,
            make_up_working_days: dates("make_up_working_days", &self.make_up_working_days)?,
        };
        calendar.check().map_err(|why| ValidationError::new(kind, "holidays", why))?;
        Ok(calendar)
    }

    /// The incentive rules as a checked book, or `None` when the team has none.
    pub fn rule_book(&self) -> Result<Option<RuleBook>, ValidationError> {
        if self.incentive_rules.is_empty() {
            return Ok(None);
        }
        let versions = self
            .incentive_rules
            .iter()
            .enumerate()
            .map(|(i, text)| {
                serde_json::from_str::<IncentiveRules>(text).map_err(|e| {
                    ValidationError::new(Self::KIND, "incentive_rules", format!("versions[{i}]: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let book = RuleBook { versions };
        book.check().map_err(|e| ValidationError::new(Self::KIND, "incentive_rules", e.to_string()))?;
        Ok(Some(book))
    }
}

/// Rules to create; [`NewTeamRules::default`] gives the defaults from the field.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTeamRules {
    /// On-site radius in metres.
    pub geofence_radius_m: f64,
    /// Soft (flag) or hard (refuse).
    pub geofence_mode: GeofenceMode,
    /// Per-stage stall thresholds.
    pub stage_rules: Vec<StageRule>,
    /// Documents each stage needs on entry.
    pub stage_evidence: Vec<StageEvidence>,
    /// Hours a due alert waits for a rep who has not synced since.
    pub alert_grace_hours: u32,
    /// Required customer fields beyond the company name.
    pub required_customer_fields: Vec<String>,
    /// Name similarity that counts as the same name (default 0.8).
    pub dedup_same_name: f64,
    /// Name similarity worth a review (default 0.6).
    pub dedup_possible_name: f64,
    /// Days without an effective follow-up before the pool takes a customer back (0 = never).
    pub pool_return_days: u32,
    /// Days without a won deal before the pool takes a customer back (0 = off).
    pub pool_return_without_won_days: u32,
    /// Customers a rep may own at most.
    pub max_owned_customers: u32,
    /// Days before a rep may claim again what they released or lost.
    pub reclaim_cooldown_days: u32,
    /// Days of warning before a customer returns to the pool.
    pub pool_warn_days: u32,
    /// Heat thresholds (docs/heat-tags.md).
    pub heat: HeatRules,
    /// The KPI calendar: zone, holidays and make-up working days.
    pub calendar: TeamCalendar,
    /// The incentive rules' versions, oldest first (checked when saved).
    pub incentive_rules: Vec<IncentiveRules>,
    /// When the weekly brief is written: ISO weekday and hour, team time.
    pub brief_at: (u32, u32),
}

impl Default for NewTeamRules {
    fn default() -> Self {
        let rule = StageRule::new;
        NewTeamRules {
            geofence_radius_m: 300.0,
            geofence_mode: GeofenceMode::Soft,
            stage_rules: vec![
                rule(Stage::FirstContact, 5, 5),
                rule(Stage::NeedsConfirmed, 7, 10),
                rule(Stage::ProposalSubmitted, 8, 8),
                rule(Stage::Negotiation, 10, 15),
                rule(Stage::ContractSigning, 3, 3),
            ],
            stage_evidence: default_stage_evidence(),
            alert_grace_hours: default_alert_grace_hours(),
            required_customer_fields: Vec::new(),
            dedup_same_name: default_same_name(),
            dedup_possible_name: default_possible_name(),
            pool_return_days: default_pool_return_days(),
            pool_return_without_won_days: 0,
            max_owned_customers: default_max_owned_customers(),
            reclaim_cooldown_days: default_reclaim_cooldown_days(),
            pool_warn_days: default_pool_warn_days(),
            heat: HeatRules::default(),
            calendar: TeamCalendar::default(),
            incentive_rules: Vec::new(),
            brief_at: (default_brief_weekday(), default_brief_hour()),
        }
    }
}

impl Draft for NewTeamRules {
    type Record = TeamRules;

    fn into_record(self, id: DocId, provenance: Provenance) -> TeamRules {
        TeamRules {
            id,
            geofence_radius_m: self.geofence_radius_m,
            geofence_mode: self.geofence_mode,
            stage_rules: self.stage_rules,
            stage_evidence: self.stage_evidence,
            alert_grace_hours: self.alert_grace_hours,
            required_customer_fields: self.required_customer_fields,
            dedup_same_name: self.dedup_same_name,
            dedup_possible_name: self.dedup_possible_name,
            pool_return_days: self.pool_return_days,
            pool_return_without_won_days: self.pool_return_without_won_days,
            max_owned_customers: self.max_owned_customers,
            reclaim_cooldown_days: self.reclaim_cooldown_days,
            pool_warn_days: self.pool_warn_days,
            heat_window_days: self.heat.window_days,
            heat_hot_touches: self.heat.hot_touches,
            heat_dormant_days: self.heat.dormant_days,
            heat_new_lead_days: self.heat.new_lead_days,
            utc_offset_minutes: self.calendar.utc_offset_minutes,
            holidays: self.calendar.holidays.iter().map(Date::to_string).collect(),
            make_up_working_days: self.calendar.make_up_working_days.iter().map(Date::to_string).collect(),
            incentive_rules: self
                .incentive_rules
                .iter()
                .map(|r| serde_json::to_string(r).expect("incentive rules serialise"))
                .collect(),
            brief_weekday: self.brief_at.0,
            brief_hour: self.brief_at.1,
            provenance,
        }
    }
}

impl Record for TeamRules {
    const KIND: RecordKind = RecordKind::TeamRules;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        if !self.geofence_radius_m.is_finite() || !(10.0..=50_000.0).contains(&self.geofence_radius_m) {
            return Err(ValidationError::new(
                kind,
                "geofence_radius_m",
                format!("{} m is outside 10 m – 50 km", self.geofence_radius_m),
            ));
        }
        check_dedup_thresholds(self.dedup_same_name, self.dedup_possible_name)?;
        check_heat_rules(&self.heat_rules())?;
        limit_list(kind, "stage_rules", &self.stage_rules, Stage::ALL.len())?;
        for (i, rule) in self.stage_rules.iter().enumerate() {
            if rule.stage.is_closed() {
                return Err(ValidationError::new(
                    kind,
                    "stage_rules.stage",
                    format!("{} closes the deal; a closed deal cannot stall", rule.stage),
                ));
            }
            if self.stage_rules[..i].iter().any(|r| r.stage == rule.stage) {
                return Err(ValidationError::new(
                    kind,
                    "stage_rules.stage",
                    format!("{} has two rules", rule.stage),
                ));
            }
            for (field, days) in [
                ("stage_rules.no_activity_days", rule.no_activity_days),
                ("stage_rules.max_stage_days", rule.max_stage_days),
                ("stage_rules.escalate_after_days", rule.escalate_after_days),
            ] {
                if !(1..=365).contains(&days) {
                    return Err(ValidationError::new(
                        kind,
                        field,
                        format!("{days} days for {} is outside 1–365", rule.stage),
                    ));
                }
            }
            let shortest = rule.no_activity_days.min(rule.max_stage_days);
            if rule.remind_days_before >= shortest {
                return Err(ValidationError::new(
                    kind,
                    "stage_rules.remind_days_before",
                    format!(
                        "{} days before the alert for {} is not after the stage starts \
                         ({shortest} days); use 0 for no reminder",
                        rule.remind_days_before, rule.stage
                    ),
                ));
            }
        }
        limit_list(kind, "stage_evidence", &self.stage_evidence, Stage::ALL.len())?;
        for evidence in &self.stage_evidence {
            limit_list(kind, "stage_evidence.required", &evidence.required, EvidenceKind::ALL.len())?;
        }
        if self.alert_grace_hours > 24 * 14 {
            return Err(ValidationError::new(
                kind,
                "alert_grace_hours",
                format!("{} hours is more than two weeks", self.alert_grace_hours),
            ));
        }
        for (field, days) in [
            ("pool_return_days", self.pool_return_days),
            ("pool_return_without_won_days", self.pool_return_without_won_days),
            ("reclaim_cooldown_days", self.reclaim_cooldown_days),
        ] {
            if days > 3650 {
                return Err(ValidationError::new(kind, field, format!("{days} days is more than ten years")));
            }
        }
        if !(1..=100_000).contains(&self.max_owned_customers) {
            return Err(ValidationError::new(
                kind,
                "max_owned_customers",
                format!("{} is outside 1–100,000", self.max_owned_customers),
            ));
        }
        if self.pool_warn_days > 30 {
            return Err(ValidationError::new(
                kind,
                "pool_warn_days",
                format!("{} days is more than 30", self.pool_warn_days),
            ));
        }
        limit_list(kind, "holidays", &self.holidays, MAX_CALENDAR_DAYS)?;
        limit_list(kind, "make_up_working_days", &self.make_up_working_days, MAX_CALENDAR_DAYS)?;
        limit_list(kind, "incentive_rules", &self.incentive_rules, MAX_RULE_VERSIONS)?;
        if let Some(text) = self.incentive_rules.iter().find(|t| t.len() > MAX_RULE_TEXT) {
            return Err(ValidationError::new(
                kind,
                "incentive_rules",
                format!("a version of {} bytes is over {MAX_RULE_TEXT}", text.len()),
            ));
        }
        if !(1..=7).contains(&self.brief_weekday) {
            return Err(ValidationError::new(
                kind,
                "brief_weekday",
                format!("{} is not a weekday 1 (Monday) – 7 (Sunday)", self.brief_weekday),
            ));
        }
        if self.brief_hour > 23 {
            return Err(ValidationError::new(
                kind,
                "brief_hour",
                format!("{} is not an hour 0–23", self.brief_hour),
            ));
        }
        self.calendar()?;
        self.rule_book()?;
        Ok(())
    }
}

/// Both thresholds finite, and 0 < possible ≤ same ≤ 1: a "possible" bar above the "same" bar
/// would make every same-name pair skip review, and 0 would flag every pair.
fn check_dedup_thresholds(same: f64, possible: f64) -> Result<(), ValidationError> {
    let kind = RecordKind::TeamRules;
    if !(same.is_finite() && 0.0 < same && same <= 1.0) {
        return Err(ValidationError::new(kind, "dedup_same_name", format!("{same} is outside (0, 1]")));
    }
    if !(possible.is_finite() && 0.0 < possible && possible <= same) {
        return Err(ValidationError::new(
            kind,
            "dedup_possible_name",
            format!("{possible} must be above 0 and at most dedup_same_name ({same})"),
        ));
    }
    Ok(())
}

/// Heat thresholds within their ranges, and dormant no sooner than the window ends: a customer
/// touched within the window must not also be dormant.
fn check_heat_rules(heat: &HeatRules) -> Result<(), ValidationError> {
    let kind = RecordKind::TeamRules;
    for (field, value, range) in [
        ("heat_window_days", heat.window_days, 1..=365),
        ("heat_hot_touches", heat.hot_touches, 1..=1000),
        ("heat_dormant_days", heat.dormant_days, heat.window_days..=730),
        ("heat_new_lead_days", heat.new_lead_days, 1..=365),
    ] {
        if !range.contains(&value) {
            return Err(ValidationError::new(
                kind,
                field,
                format!("{value} is outside {}–{}", range.start(), range.end()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    use super::*;
    use crate::ids::DeviceId;

    fn rules() -> TeamRules {
        let provenance = Provenance { created_at: 0, created_by: DeviceId::from_bytes([7; 16]) };
        NewTeamRules::default().into_record(DocId::generate(), provenance)
    }

    #[test]
    fn default_rules_carry_the_design_thresholds() {
        let thresholds = rules().dedup_thresholds();
        assert_eq!(thresholds, DedupThresholds { same_name: 0.8, possible_name: 0.6 });
        assert!(rules().validate().is_ok());
    }

    #[test]
    fn thresholds_out_of_order_out_of_range_or_not_finite_are_refused() {
        for (same, possible, field) in [
            (0.6, 0.8, "dedup_possible_name"),
            (1.2, 0.6, "dedup_same_name"),
            (0.0, 0.0, "dedup_same_name"),
            (0.8, 0.0, "dedup_possible_name"),
            (0.8, -0.1, "dedup_possible_name"),
            (f64::NAN, 0.6, "dedup_same_name"),
            (0.8, f64::INFINITY, "dedup_possible_name"),
        ] {
            let mut r = rules();
            (r.dedup_same_name, r.dedup_possible_name) = (same, possible);
            let err = r.validate().expect_err("refused");
            assert_eq!(err.field, field, "{same} / {possible}: {err}");
        }
        let mut equal = rules();
        (equal.dedup_same_name, equal.dedup_possible_name) = (0.7, 0.7);
        assert!(equal.validate().is_ok(), "possible may equal same");
    }

    #[test]
    fn heat_thresholds_out_of_range_are_refused_with_the_field_named() {
        assert_eq!(rules().heat_rules(), HeatRules::default());
        type Break = fn(&mut TeamRules);
        let cases: [(&str, Break); 6] = [
            ("heat_window_days", |r| r.heat_window_days = 0),
            ("heat_window_days", |r| r.heat_window_days = 366),
            ("heat_hot_touches", |r| r.heat_hot_touches = 0),
            ("heat_dormant_days", |r| r.heat_dormant_days = 29),
            ("heat_dormant_days", |r| r.heat_dormant_days = 731),
            ("heat_new_lead_days", |r| r.heat_new_lead_days = 0),
        ];
        for (field, break_it) in cases {
            let mut r = rules();
            break_it(&mut r);
            assert_eq!(r.validate().expect_err("refused").field, field);
        }
        let mut equal = rules();
        equal.heat_dormant_days = equal.heat_window_days;
        assert!(equal.validate().is_ok(), "dormant may start as the window ends");
    }

    #[test]
    fn rules_written_before_the_heat_thresholds_existed_read_with_the_defaults() {
        let mut custom = rules();
        custom.heat_window_days = 10;
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        autosurgeon::reconcile(&mut tx, &custom).unwrap();
        for field in ["heat_window_days", "heat_hot_touches", "heat_dormant_days", "heat_new_lead_days"] {
            tx.delete(ROOT, field).unwrap();
        }
        tx.commit();
        let old: TeamRules = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(old.heat_rules(), HeatRules::default());
    }

    #[test]
    fn rules_written_before_the_thresholds_existed_read_with_the_defaults() {
        let mut custom = rules();
        (custom.dedup_same_name, custom.dedup_possible_name) = (0.9, 0.5);
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        autosurgeon::reconcile(&mut tx, &custom).unwrap();
        tx.delete(ROOT, "dedup_same_name").unwrap();
        tx.delete(ROOT, "dedup_possible_name").unwrap();
        tx.commit();
        let old: TeamRules = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(old.dedup_thresholds(), DedupThresholds::default());
        assert_eq!(old.geofence_radius_m, custom.geofence_radius_m);
    }

    #[test]
    fn the_kpi_calendar_and_incentive_rules_are_checked_with_the_field_named() {
        let r = rules();
        assert_eq!(r.calendar().unwrap(), TeamCalendar::default());
        assert_eq!(r.rule_book().unwrap(), None, "no rules until an admin writes them");
        type Break = fn(&mut TeamRules);
        let cases: [(&str, Break); 8] = [
            ("holidays", |r| r.holidays = vec!["2026-02-30".into()]),
            ("make_up_working_days", |r| r.make_up_working_days = vec!["soon".into()]),
            ("holidays", |r| {
                r.holidays = vec!["2026-10-01".into()];
                r.make_up_working_days = vec!["2026-10-01".into()];
            }),
            ("holidays", |r| r.utc_offset_minutes = 15 * 60),
            ("incentive_rules", |r| r.incentive_rules = vec!["{".into()]),
            ("incentive_rules", |r| r.incentive_rules = vec!["x".repeat(40_000)]),
            ("brief_weekday", |r| r.brief_weekday = 0),
            ("brief_hour", |r| r.brief_hour = 24),
        ];
        for (field, break_it) in cases {
            let mut r = rules();
            break_it(&mut r);
            let err = r.validate().expect_err("refused");
            assert_eq!(err.field, field, "{err}");
        }
        let mut calendar = TeamCalendar::default();
        calendar.holidays.insert(Date::new(2026, 10, 1).unwrap());
        let made = NewTeamRules { calendar: calendar.clone(), ..NewTeamRules::default() }
            .into_record(DocId::generate(), rules().provenance);
        assert_eq!(made.holidays, vec!["2026-10-01".to_string()]);
        assert_eq!(made.calendar().unwrap(), calendar);
    }
}
