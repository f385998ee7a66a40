//! The relay's KPI documents (docs/kpi.md, "Scoreboards"): per team and period, the
//! [`Scoreboard`] every member of the team receives (the team's mean and median of each metric:
//! "me against the team" offline) and the [`TeamTable`] only supervisors and admins receive
//! (every rep's figures and projected payout). Both are written by the relay's own actor from the
//! KPI rows it keeps; a device's change to either is refused.

use autosurgeon::{Hydrate, Reconcile};
use sha2::{Digest, Sha256};

use super::{Provenance, Record, RecordKind, ValidationError, limit_list, limit_text, require_text};
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::kpi::{Metric, Period};

/// At most this many reps in one team table (a team is far smaller).
pub const MAX_TABLE_REPS: usize = 2000;

/// One metric's team figures.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct ScoreLine {
    /// The metric's name (`effective_visits`, …).
    pub metric: String,
    /// How many reps it is defined for.
    #[autosurgeon(hydrate = "super::lenient::count")]
    pub reps: u32,
    /// The team's mean over those reps, rounded down.
    pub mean: i64,
    /// Their median.
    pub median: i64,
}

/// One metric's value for one rep.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct MetricValue {
    /// The metric's name.
    pub metric: String,
    /// Its value in the metric's unit.
    pub value: i64,
}

/// One rep's line of a team table.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct RepLine {
    /// The rep's user id.
    pub rep: String,
    /// The rep's display name (the user id when unknown).
    pub name: String,
    /// Every metric defined for the rep in the period.
    pub metrics: Vec<MetricValue>,
    /// The payout in fen under the rules in force (a projection while the period runs).
    pub payout_fen: Option<i64>,
    /// Where the achievement landed (`gated`, `below_threshold`, `pro_rata`, `target`, `excess_N`).
    pub payout_band: Option<String>,
}

/// A team's figures for one period, for every member of the team. Written by the relay only.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Scoreboard {
    /// Document id: [`scoreboard_id`] of the team and period.
    pub id: DocId,
    /// The team.
    pub team_id: String,
    /// The period (`2026-W49`, `2026-12`, `2026-Q4`).
    pub period: String,
    /// How many reps have figures in the period.
    #[autosurgeon(hydrate = "super::lenient::count")]
    pub reps: u32,
    /// The team's aggregate of each metric defined for at least one rep, in catalogue order.
    pub team: Vec<ScoreLine>,
    /// When the relay computed these figures (its clock).
    pub computed_at: UnixMillis,
    /// The relay's actor and when it first wrote this.
    pub provenance: Provenance,
}

/// Every rep's figures for one period, for the team's supervisors and admins. Written by the
/// relay only; reps never receive it.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct TeamTable {
    /// Document id: [`team_table_id`] of the team and period.
    pub id: DocId,
    /// The team.
    pub team_id: String,
    /// The period.
    pub period: String,
    /// Every rep with figures in the period, by user id.
    pub reps: Vec<RepLine>,
    /// Why the lines carry no payout (no rules, none in force for the period), if so.
    pub payout_unavailable: Option<String>,
    /// When the relay computed these figures (its clock).
    pub computed_at: UnixMillis,
    /// The relay's actor and when it first wrote this.
    pub provenance: Provenance,
}

fn derived_id(what: &str, team: &str, period: &str) -> DocId {
    let digest = Sha256::digest(format!("fieldsync/{what}/v1\n{team}\n{period}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    DocId::from_bytes(bytes)
}

/// The id of a team's scoreboard for `period`: derived, so every device and relay agrees on it.
pub fn scoreboard_id(team: &str, period: &str) -> DocId {
    derived_id("scoreboard", team, period)
}

/// The id of a team's table for `period`.
pub fn team_table_id(team: &str, period: &str) -> DocId {
    derived_id("team_table", team, period)
}

/// What both kinds require of their team, period and id: the id is `derive(team, period)`.
fn check_board(
    kind: RecordKind,
    id: DocId,
    team_id: &str,
    period: &str,
    derive: fn(&str, &str) -> DocId,
) -> Result<(), ValidationError> {
    require_text(kind, "team_id", team_id, 100)?;
    period.parse::<Period>().map_err(|e| ValidationError::new(kind, "period", format!("{period:?}: {e}")))?;
    if id != derive(team_id, period) {
        return Err(ValidationError::new(kind, "id", "must be derived from its team and period"));
    }
    Ok(())
}

fn check_metric(kind: RecordKind, field: &'static str, metric: &str) -> Result<(), ValidationError> {
    match Metric::parse(metric) {
        Some(_) => Ok(()),
        None => {
            Err(ValidationError::new(kind, field, format!("{metric:?} is not a metric of the catalogue")))
        }
    }
}

impl Record for Scoreboard {
    const KIND: RecordKind = RecordKind::Scoreboard;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        check_board(kind, self.id, &self.team_id, &self.period, scoreboard_id)?;
        limit_list(kind, "team", &self.team, Metric::ALL.len())?;
        for line in &self.team {
            check_metric(kind, "team", &line.metric)?;
            if line.reps > self.reps {
                return Err(ValidationError::new(
                    kind,
                    "team",
                    "a metric cannot count more reps than the board",
                ));
            }
        }
        Ok(())
    }
}

impl Record for TeamTable {
    const KIND: RecordKind = RecordKind::TeamTable;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        check_board(kind, self.id, &self.team_id, &self.period, team_table_id)?;
        limit_list(kind, "reps", &self.reps, MAX_TABLE_REPS)?;
        for line in &self.reps {
            require_text(kind, "reps", &line.rep, 100)?;
            limit_text(kind, "reps", &line.name, 200)?;
            limit_list(kind, "reps", &line.metrics, Metric::ALL.len())?;
            for value in &line.metrics {
                check_metric(kind, "reps", &value.metric)?;
            }
            if let Some(band) = &line.payout_band {
                limit_text(kind, "reps", band, 40)?;
            }
        }
        if let Some(why) = &self.payout_unavailable {
            limit_text(kind, "payout_unavailable", why, 500)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;

    fn board(team: &str, period: &str) -> Scoreboard {
        Scoreboard {
            id: scoreboard_id(team, period),
            team_id: team.into(),
            period: period.into(),
            reps: 2,
            team: vec![ScoreLine { metric: "effective_visits".into(), reps: 2, mean: 3, median: 3 }],
            computed_at: 0,
            provenance: Provenance { created_at: 0, created_by: DeviceId::from_bytes([1; 16]) },
        }
    }

    #[test]
    fn a_board_is_refused_for_a_foreign_id_a_bad_period_an_unknown_metric_or_too_many_reps() {
        assert_eq!(board("t", "2026-W49").validate(), Ok(()));
        let mut moved = board("t", "2026-W49");
        moved.period = "2026-W48".into();
        assert_eq!(moved.validate().unwrap_err().field, "id", "the id names the period");
        let mut other = board("t", "2026-W49");
        other.id = team_table_id("t", "2026-W49");
        assert_eq!(other.validate().unwrap_err().field, "id", "a team table's id is not a board's");
        assert_eq!(board("t", "2026-W54").validate().unwrap_err().field, "period");
        let mut unknown = board("t", "2026-12");
        unknown.team[0].metric = "charm".into();
        assert_eq!(unknown.validate().unwrap_err().field, "team");
        let mut over = board("t", "2026-Q4");
        over.team[0].reps = 3;
        assert_eq!(over.validate().unwrap_err().field, "team");
        assert_ne!(scoreboard_id("t", "2026-12"), team_table_id("t", "2026-12"));
    }
}
