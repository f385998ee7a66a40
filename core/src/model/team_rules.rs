//! The team's rules, edited by admins and synced to every phone.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Provenance, Record, RecordKind, Stage, ValidationError, limit_list};
use crate::dedup::DedupThresholds;
use crate::ids::DocId;

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
    pub no_activity_days: u32,
    /// Days in the stage before the deal counts as stalled, activity or not.
    pub max_stage_days: u32,
}

/// The team's rules.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct TeamRules {
    /// Document id.
    pub id: DocId,
    /// On-site radius in metres (default 300).
    pub geofence_radius_m: f64,
    /// Soft (flag) or hard (refuse).
    pub geofence_mode: GeofenceMode,
    /// Per-stage stall thresholds.
    pub stage_rules: Vec<StageRule>,
    /// Fields a customer record must have before it is saved, beyond the company name.
    pub required_customer_fields: Vec<String>,
    /// Name similarity at which two customers count as the same name (default 0.8); with a
    /// shared phone they are the same customer. Rules written before the field existed read as
    /// the default.
    #[autosurgeon(missing = "default_same_name")]
    pub dedup_same_name: f64,
    /// Name similarity at which a pair is shown for review (default 0.6).
    #[autosurgeon(missing = "default_possible_name")]
    pub dedup_possible_name: f64,
    /// Who created the rules and when.
    pub provenance: Provenance,
}

fn default_same_name() -> f64 {
    DedupThresholds::default().same_name
}

fn default_possible_name() -> f64 {
    DedupThresholds::default().possible_name
}

impl TeamRules {
    /// The thresholds the duplicate check uses for this team.
    pub fn dedup_thresholds(&self) -> DedupThresholds {
        DedupThresholds { same_name: self.dedup_same_name, possible_name: self.dedup_possible_name }
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
    /// Required customer fields beyond the company name.
    pub required_customer_fields: Vec<String>,
    /// Name similarity that counts as the same name (default 0.8).
    pub dedup_same_name: f64,
    /// Name similarity worth a review (default 0.6).
    pub dedup_possible_name: f64,
}

impl Default for NewTeamRules {
    fn default() -> Self {
        let rule =
            |stage, no_activity_days, max_stage_days| StageRule { stage, no_activity_days, max_stage_days };
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
            required_customer_fields: Vec::new(),
            dedup_same_name: default_same_name(),
            dedup_possible_name: default_possible_name(),
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
            required_customer_fields: self.required_customer_fields,
            dedup_same_name: self.dedup_same_name,
            dedup_possible_name: self.dedup_possible_name,
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
        limit_list(kind, "stage_rules", &self.stage_rules, Stage::ALL.len())?;
        for rule in &self.stage_rules {
            for (field, days) in [
                ("stage_rules.no_activity_days", rule.no_activity_days),
                ("stage_rules.max_stage_days", rule.max_stage_days),
            ] {
                if !(1..=365).contains(&days) {
                    return Err(ValidationError::new(
                        kind,
                        field,
                        format!("{days} days for {} is outside 1–365", rule.stage),
                    ));
                }
            }
        }
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
}
