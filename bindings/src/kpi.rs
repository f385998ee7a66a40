//! Performance on facts through the FFI (docs/kpi.md): the rep's own figures for a period (我的
//! 业绩) with the projected payout, from the phone's KPI projection, against the team's mean and
//! median from the relay's scoreboard; the supervisor's team table; and the weekly brief's
//! payload read as a record. Thin copies of `fieldsync_core::kpi` calls; metric names are spelled
//! as in the docs (`effective_visits`, …).

use fieldsync_core::kpi::brief::{self, WeeklyBrief};
use fieldsync_core::kpi::{Family, Metric, Period, Unit};
use fieldsync_core::model::{Scoreboard, TeamTable};
use fieldsync_core::store::MyFigures;

use crate::FfiError;
use crate::error::guard;
use crate::store::FieldStore;

/// One metric's value for the period.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiMetricValue {
    /// The metric's name (`effective_visits`, …).
    pub metric: String,
    /// Its name as reps read it (有效拜访, …).
    pub label: String,
    /// `behaviour`, `result` or `data_quality`.
    pub family: String,
    /// `count`, `milli` (thousandths), `basis_points` (10,000 = 100 %) or `fen`.
    pub unit: String,
    /// The value in that unit.
    pub value: i64,
    /// The team's mean of the metric in the period, from the relay's scoreboard as last synced
    /// (null before one arrived, or when the metric is defined for nobody else either).
    pub team_mean: Option<i64>,
    /// The team's median, likewise.
    pub team_median: Option<i64>,
}

/// Visits short of effective, by their first reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiShortfall {
    /// `no_check_in`, `off_site`, `no_slip`, `slip_unverified`, …
    pub reason: String,
    /// How many visits.
    pub visits: u32,
}

/// This phone's user's figures for one period, and what the rules in force would pay for them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiMyFigures {
    /// The period (`2026-W49`, `2026-12`, `2026-Q4`).
    pub period: String,
    /// Every metric defined for the period (an undefined rate is absent, not 0).
    pub metrics: Vec<FfiMetricValue>,
    /// Visits short of effective, by reason.
    pub shortfalls: Vec<FfiShortfall>,
    /// The payout in fen (a projection while the period runs); null when there is none.
    pub payout_fen: Option<i64>,
    /// Where the achievement landed: `gated`, `below_threshold`, `pro_rata`, `target`, `excess_N`.
    pub payout_band: Option<String>,
    /// The achievement in millionths (1,000,000 = 100 %).
    pub achievement_ppm: Option<i64>,
    /// Why there is no payout (no rules, no version in force for the period), else null.
    pub payout_unavailable: Option<String>,
    /// How many reps the team's scoreboard counts; null before a scoreboard of the period was
    /// synced (the team means are then null too).
    pub team_reps: Option<u32>,
    /// When the relay computed the scoreboard (Unix ms), null before one was synced.
    pub team_computed_at: Option<i64>,
}

/// One rep's line of the supervisor's team table.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiTeamRow {
    /// The rep's user id.
    pub rep: String,
    /// The rep's display name.
    pub name: String,
    /// Every metric defined for the rep, with the team's mean and median.
    pub metrics: Vec<FfiMetricValue>,
    /// The payout in fen under the rules in force (a projection while the period runs).
    pub payout_fen: Option<i64>,
    /// Where the achievement landed.
    pub payout_band: Option<String>,
}

/// Every rep's figures for one period, as the relay last computed them (supervisors and admins).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiTeamTable {
    /// The period.
    pub period: String,
    /// Every rep with figures in the period.
    pub reps: Vec<FfiTeamRow>,
    /// Why the rows carry no payout, if so.
    pub payout_unavailable: Option<String>,
    /// When the relay computed it (Unix ms).
    pub computed_at: i64,
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "count",
        Unit::Milli => "milli",
        Unit::BasisPoints => "basis_points",
        Unit::Fen => "fen",
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Behaviour => "behaviour",
        Family::Result => "result",
        Family::DataQuality => "data_quality",
    }
}

/// `metric`'s value, with the team's mean and median from `team` when it has them.
fn metric_value(m: Metric, value: i64, team: Option<&Scoreboard>) -> FfiMetricValue {
    let line = team.and_then(|t| t.team.iter().find(|l| l.metric == m.as_str()));
    FfiMetricValue {
        metric: m.as_str().to_owned(),
        label: m.label_zh().to_owned(),
        family: family_name(m.family()).to_owned(),
        unit: unit_name(m.unit()).to_owned(),
        value,
        team_mean: line.map(|l| l.mean),
        team_median: line.map(|l| l.median),
    }
}

impl From<MyFigures> for FfiMyFigures {
    fn from(mine: MyFigures) -> Self {
        let facts = &mine.figures.facts;
        let team = mine.team.as_ref();
        let (payout_fen, payout_band, achievement_ppm, payout_unavailable) = match &mine.payout {
            Ok(p) => (Some(p.payout_fen), Some(p.band.to_string()), Some(p.achievement_ppm), None),
            Err(why) => (None, None, None, Some(why.clone())),
        };
        FfiMyFigures {
            period: facts.period.to_string(),
            metrics: facts.values.iter().map(|(&m, &v)| metric_value(m, v, team)).collect(),
            shortfalls: mine
                .figures
                .shortfalls
                .iter()
                .map(|(reason, &visits)| FfiShortfall { reason: reason.as_str().to_owned(), visits })
                .collect(),
            payout_fen,
            payout_band,
            achievement_ppm,
            payout_unavailable,
            team_reps: team.map(|t| t.reps),
            team_computed_at: team.map(|t| t.computed_at),
        }
    }
}

/// The team table with the team's aggregates from `board`; metrics this build does not know
/// (a newer relay) are left out.
fn team_table(table: TeamTable, board: Option<&Scoreboard>) -> FfiTeamTable {
    FfiTeamTable {
        period: table.period,
        reps: table
            .reps
            .into_iter()
            .map(|line| FfiTeamRow {
                rep: line.rep,
                name: line.name,
                metrics: line
                    .metrics
                    .iter()
                    .filter_map(|v| Metric::parse(&v.metric).map(|m| metric_value(m, v.value, board)))
                    .collect(),
                payout_fen: line.payout_fen,
                payout_band: line.payout_band,
            })
            .collect(),
        payout_unavailable: table.payout_unavailable,
        computed_at: table.computed_at,
    }
}

/// A weekly brief (智能摘要) as a supervisor's phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FfiWeeklyBrief {
    /// The team.
    pub team_id: String,
    /// The week (`2026-W49`).
    pub week: String,
    /// The brief, at most 100 characters.
    pub text: String,
    /// The biggest deal's id, title, amount (fen) and stages at the week's start (null: new)
    /// and end.
    pub biggest_deal_id: Option<String>,
    /// See `biggest_deal_id`.
    pub biggest_deal_title: Option<String>,
    /// See `biggest_deal_id`.
    pub biggest_deal_amount_fen: Option<i64>,
    /// See `biggest_deal_id`.
    pub biggest_deal_from: Option<String>,
    /// See `biggest_deal_id`.
    pub biggest_deal_to: Option<String>,
    /// The abnormal stage, its rate this week and its trailing rate (basis points).
    pub abnormal_stage: Option<String>,
    /// See `abnormal_stage`.
    pub abnormal_week_bp: Option<i64>,
    /// See `abnormal_stage`.
    pub abnormal_trailing_bp: Option<i64>,
    /// Who needs support: user id, name and score (basis points of the team mean).
    pub needs_support_rep: Option<String>,
    /// See `needs_support_rep`.
    pub needs_support_name: Option<String>,
    /// See `needs_support_rep`.
    pub needs_support_score_bp: Option<i64>,
    /// When the relay wrote it, Unix ms.
    pub raised_at: i64,
}

impl From<WeeklyBrief> for FfiWeeklyBrief {
    fn from(b: WeeklyBrief) -> Self {
        let deal = b.biggest_deal.as_ref();
        let stage = b.abnormal_stage.as_ref();
        let support = b.needs_support.as_ref();
        FfiWeeklyBrief {
            team_id: b.team_id.clone(),
            week: b.week.to_string(),
            text: b.text.clone(),
            biggest_deal_id: deal.map(|d| d.deal_id.clone()),
            biggest_deal_title: deal.map(|d| d.title.clone()),
            biggest_deal_amount_fen: deal.map(|d| d.amount_fen),
            biggest_deal_from: deal.and_then(|d| d.from).map(|s| s.as_str().to_owned()),
            biggest_deal_to: deal.map(|d| d.to.as_str().to_owned()),
            abnormal_stage: stage.map(|s| s.stage.as_str().to_owned()),
            abnormal_week_bp: stage.map(|s| s.week_bp),
            abnormal_trailing_bp: stage.map(|s| s.trailing_bp),
            needs_support_rep: support.map(|s| s.rep.clone()),
            needs_support_name: support.map(|s| s.name.clone()),
            needs_support_score_bp: support.map(|s| s.score_bp),
            raised_at: b.raised_at,
        }
    }
}

#[uniffi::export]
impl FieldStore {
    /// This phone's user's figures for `period` now (`2026-W49`, `2026-12`, `2026-Q4`), with the
    /// payout the team's rules in force would give them. A malformed period is `InvalidInput`;
    /// a phone not enrolled yet is `InvalidInput` too (it has no user).
    pub fn my_figures(&self, period: String) -> Result<FfiMyFigures, FfiError> {
        guard(|| {
            let period: Period = period
                .parse()
                .map_err(|e| FfiError::InvalidInput { message: format!("period {period:?}: {e}") })?;
            Ok(self.core().my_figures(period)?.into())
        })
    }

    /// Every rep's figures for `period` (the supervisor's team table), as the relay last
    /// computed them and this phone last synced: the relay keeps the running and the previous
    /// week, month and quarter, and sends them to supervisors' and admins' devices only, so a
    /// rep's phone gets null. A malformed period is `InvalidInput`.
    pub fn team_table(&self, period: String) -> Result<Option<FfiTeamTable>, FfiError> {
        guard(|| {
            let period: Period = period
                .parse()
                .map_err(|e| FfiError::InvalidInput { message: format!("period {period:?}: {e}") })?;
            let Some(table) = self.core().team_table(period)? else { return Ok(None) };
            let board = self.core().team_scoreboard(period)?;
            Ok(Some(team_table(table, board.as_ref())))
        })
    }
}

/// Reads a weekly brief's payload (what a push message decrypts to, a stream event's data, or an
/// entry of `GET /v1/briefs`). Anything else — a stall alert, another version, damaged bytes —
/// is `InvalidInput`.
#[uniffi::export]
pub fn decode_weekly_brief(payload: Vec<u8>) -> Result<FfiWeeklyBrief, FfiError> {
    guard(|| {
        brief::decode(&payload).map(Into::into).map_err(|e| FfiError::InvalidInput { message: e.to_string() })
    })
}
