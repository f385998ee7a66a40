//! The team's rules, edited by admins and synced to every phone.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Provenance, Record, RecordKind, Stage, ValidationError, limit_list};
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
    /// Who created the rules and when.
    pub provenance: Provenance,
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
