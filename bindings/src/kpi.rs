//! Performance on facts through the FFI (docs/kpi.md): the rep's own figures for a period (我的
//! 业绩) with the projected payout, from the phone's KPI projection, and the weekly brief's
//! payload read as a record. Thin copies of `fieldsync_core::kpi` calls; metric names are spelled
//! as in the docs (`effective_visits`, …).

use fieldsync_core::kpi::brief::{self, WeeklyBrief};
use fieldsync_core::kpi::{Family, Metric, Period, Unit};
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

impl From<MyFigures> for FfiMyFigures {
    fn from(mine: MyFigures) -> Self {
        let facts = &mine.figures.facts;
        let metric = |m: Metric, value: i64| FfiMetricValue {
            metric: m.as_str().to_owned(),
            label: m.label_zh().to_owned(),
            family: family_name(m.family()).to_owned(),
            unit: unit_name(m.unit()).to_owned(),
            value,
        };
        let (payout_fen, payout_band, achievement_ppm, payout_unavailable) = match &mine.payout {
            Ok(p) => (Some(p.payout_fen), Some(p.band.to_string()), Some(p.achievement_ppm), None),
            Err(why) => (None, None, None, Some(why.clone())),
        };
        FfiMyFigures {
            period: facts.period.to_string(),
            metrics: facts.values.iter().map(|(&m, &v)| metric(m, v)).collect(),
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
        }
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
