//! The weekly brief (智能摘要, docs/kpi.md): at most 100 characters for a team's managers that
//! answer three questions about the week just ended, with the numbers behind them in fields:
//! 1. how the biggest deal moved;
//! 2. which stage's conversion is abnormal against the team's trailing average;
//! 3. who needs support: the rep furthest behind the team on the behaviour metrics.
//!
//! Pure and deterministic: the same deals and figures give the same brief, byte for byte. The
//! relay writes one per team and week and delivers it like an alert; phones decode the payload
//! with [`decode`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::{Period, PeriodKind};
use super::compute::RepFigures;
use super::metric::Metric;
use crate::clock::UnixMillis;
use crate::model::{Money, Opportunity, Stage};

/// The payload's version.
pub const BRIEF_VERSION: u32 = 1;
/// The payload's `type`, which tells a brief from a stall alert.
pub const BRIEF_TYPE: &str = "weekly_brief";
/// Most characters of the text.
pub const MAX_BRIEF_CHARS: usize = 100;
/// Weeks of the trailing average a week's conversion is held against.
pub const TRAILING_WEEKS: i64 = 8;
/// A stage's conversion is abnormal this far (basis points) from its trailing average.
pub const ABNORMAL_BP: i64 = 2_000;
/// Deals in a stage this week, and over the trailing weeks, below which its rate says nothing.
pub const MIN_WEEK_DEALS: i64 = 2;
/// See [`MIN_WEEK_DEALS`].
pub const MIN_TRAILING_DEALS: i64 = 4;
/// The behaviour metrics "who needs support" reads.
pub const SUPPORT_METRICS: [Metric; 3] =
    [Metric::EffectiveVisits, Metric::CustomerTouchesPerDay, Metric::NextActionsOnTime];

const WEEK_MS: i64 = 7 * 86_400_000;
const BP: i64 = 10_000;

/// The biggest deal open during the week, and how it moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BiggestDeal {
    /// The deal's id.
    pub deal_id: String,
    /// Its title.
    pub title: String,
    /// The rep it counts for.
    pub owner: String,
    /// Its amount in CNY fen.
    pub amount_fen: i64,
    /// Its stage when the week began (`None`: created during the week).
    #[serde(with = "stage_name::optional")]
    pub from: Option<Stage>,
    /// Its stage when the week ended.
    #[serde(with = "stage_name")]
    pub to: Stage,
}

/// A stage whose conversion this week is far from its trailing average.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbnormalStage {
    /// The stage.
    #[serde(with = "stage_name")]
    pub stage: Stage,
    /// Deals in the stage during the week.
    pub week_deals: i64,
    /// Of them, those that moved on to a later stage (not lost) within the week.
    pub week_converted: i64,
    /// `week_converted / week_deals`, basis points.
    pub week_bp: i64,
    /// The same over the trailing weeks, pooled.
    pub trailing_bp: i64,
    /// Deals of the trailing weeks.
    pub trailing_deals: i64,
}

/// The rep furthest behind on the behaviour metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportNeed {
    /// The rep's user id.
    pub rep: String,
    /// Their name.
    pub name: String,
    /// Mean of value ÷ team mean over the behaviour metrics, basis points (10,000 = at the mean).
    pub score_bp: i64,
    /// Their effective visits in the week.
    pub effective_visits: i64,
    /// The team's mean effective visits.
    pub team_mean_effective_visits: i64,
}

/// One team's brief for one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyBrief {
    /// Always [`BRIEF_VERSION`].
    pub v: u32,
    /// Always [`BRIEF_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The team.
    pub team_id: String,
    /// The week (`2026-W49`).
    pub week: Period,
    /// The brief, at most [`MAX_BRIEF_CHARS`] characters.
    pub text: String,
    /// Question 1.
    pub biggest_deal: Option<BiggestDeal>,
    /// Question 2.
    pub abnormal_stage: Option<AbnormalStage>,
    /// Question 3.
    pub needs_support: Option<SupportNeed>,
    /// When the relay wrote it.
    pub raised_at: UnixMillis,
}

/// Stages by their stored names (`ProposalSubmitted`) in the payload.
mod stage_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::Stage;

    pub fn serialize<S: Serializer>(stage: &Stage, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(stage.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Stage, D::Error> {
        let name = String::deserialize(d)?;
        Stage::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown stage {name:?}")))
    }

    pub mod optional {
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::model::Stage;

        pub fn serialize<S: Serializer>(stage: &Option<Stage>, s: S) -> Result<S::Ok, S::Error> {
            match stage {
                Some(stage) => s.serialize_some(stage.as_str()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Stage>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(name) => Stage::parse(&name)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown stage {name:?}"))),
            }
        }
    }
}

/// Why a payload is not a brief this build reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BriefError {
    /// Not JSON, or not a brief's fields.
    #[error("not a weekly brief: {0}")]
    Malformed(String),
    /// A brief of another version.
    #[error("weekly brief version {0} is not supported (this build reads {BRIEF_VERSION})")]
    UnsupportedVersion(u32),
}

/// The payload of `brief` (JSON).
pub fn encode(brief: &WeeklyBrief) -> Vec<u8> {
    serde_json::to_vec(brief).expect("a brief serialises")
}

/// Reads a brief's payload, checking its type, version and length.
pub fn decode(bytes: &[u8]) -> Result<WeeklyBrief, BriefError> {
    if bytes.len() > 16 * 1024 {
        return Err(BriefError::Malformed(format!("{} bytes is too long", bytes.len())));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BriefError::Malformed(e.to_string()))?;
    if value.get("type").and_then(|t| t.as_str()) != Some(BRIEF_TYPE) {
        return Err(BriefError::Malformed(format!("its type is not {BRIEF_TYPE:?}")));
    }
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(BRIEF_VERSION) => {}
        Some(v) => return Err(BriefError::UnsupportedVersion(u32::try_from(v).unwrap_or(u32::MAX))),
        None => return Err(BriefError::Malformed("it has no version".into())),
    }
    let brief: WeeklyBrief =
        serde_json::from_value(value).map_err(|e| BriefError::Malformed(e.to_string()))?;
    if brief.text.chars().count() > MAX_BRIEF_CHARS || brief.week.kind() != PeriodKind::Week {
        return Err(BriefError::Malformed("its text is too long or its period is not a week".into()));
    }
    Ok(brief)
}

/// The stage `deal` was in at `t` (its last move before `t`), `None` before it existed.
fn stage_at(deal: &Opportunity, t: UnixMillis) -> Option<Stage> {
    let mut moves: Vec<_> = deal.stage_history.iter().filter(|c| c.at < t).collect();
    moves.sort_by_key(|c| c.at);
    match moves.last() {
        Some(c) => Some(c.to),
        // A deal with no recorded move that was made before `t` sits in its current stage.
        None if deal.stage_history.is_empty() && deal.provenance.created_at < t => Some(deal.stage),
        None => None,
    }
}

fn cny(money: &Option<Money>) -> i64 {
    money.as_ref().filter(|m| m.currency == "CNY").map_or(0, |m| m.minor_units)
}

/// Question 1: the deal with the largest CNY amount that was open at some time in `[start, end)`
/// (ties: the smaller id), with its stage at both ends.
pub fn biggest_deal(deals: &[Opportunity], start: UnixMillis, end: UnixMillis) -> Option<BiggestDeal> {
    deals
        .iter()
        .filter_map(|d| {
            let to = stage_at(d, end)?;
            let from = stage_at(d, start);
            let open_during = from.is_none_or(|s| !s.is_closed());
            (open_during && cny(&d.amount) > 0).then_some((d, from, to))
        })
        .max_by(|(a, _, _), (b, _, _)| cny(&a.amount).cmp(&cny(&b.amount)).then(b.id.cmp(&a.id)))
        .map(|(d, from, to)| BiggestDeal {
            deal_id: d.id.to_string(),
            title: d.title.clone(),
            owner: d.owner.clone(),
            amount_fen: cny(&d.amount),
            from,
            to,
        })
}

/// In `[start, end)`: how many deals were in `stage` (in it at `start` or entering it), and how
/// many of them moved on from it to a later stage that is not lost.
fn stage_flow(deals: &[Opportunity], stage: Stage, start: UnixMillis, end: UnixMillis) -> (i64, i64) {
    let (mut present, mut converted) = (0, 0);
    for deal in deals {
        let entered = deal.stage_history.iter().any(|c| c.to == stage && (start..end).contains(&c.at));
        if !(stage_at(deal, start) == Some(stage) || entered) {
            continue;
        }
        present += 1;
        let moved_on = deal.stage_history.iter().any(|c| {
            (start..end).contains(&c.at) && c.from == Some(stage) && c.to > stage && c.to != Stage::Lost
        });
        converted += i64::from(moved_on);
    }
    (present, converted)
}

/// Question 2: the open stage whose conversion in `[start, end)` is furthest from its pooled
/// rate over the [`TRAILING_WEEKS`] weeks before, when that is at least [`ABNORMAL_BP`] and both
/// have enough deals (ties: the earlier stage).
pub fn abnormal_stage(deals: &[Opportunity], start: UnixMillis, end: UnixMillis) -> Option<AbnormalStage> {
    let mut worst: Option<AbnormalStage> = None;
    for stage in Stage::ALL.into_iter().filter(|s| !s.is_closed()) {
        let (week_deals, week_converted) = stage_flow(deals, stage, start, end);
        let (mut trailing_deals, mut trailing_converted) = (0, 0);
        for w in 1..=TRAILING_WEEKS {
            let (d, c) = stage_flow(deals, stage, start - w * WEEK_MS, start - (w - 1) * WEEK_MS);
            trailing_deals += d;
            trailing_converted += c;
        }
        if week_deals < MIN_WEEK_DEALS || trailing_deals < MIN_TRAILING_DEALS {
            continue;
        }
        let week_bp = week_converted * BP / week_deals;
        let trailing_bp = trailing_converted * BP / trailing_deals;
        let gap = (week_bp - trailing_bp).abs();
        if gap < ABNORMAL_BP || worst.as_ref().is_some_and(|w| (w.week_bp - w.trailing_bp).abs() >= gap) {
            continue;
        }
        worst =
            Some(AbnormalStage { stage, week_deals, week_converted, week_bp, trailing_bp, trailing_deals });
    }
    worst
}

/// Question 3: the rep whose behaviour metrics are furthest below the team's means: each defined
/// metric with a team mean above 0 gives value × 10,000 ÷ mean (at most 20,000), and a rep's
/// score is the mean of theirs, rounded down. Only a rep below the mean (score < 10,000) needs
/// support; ties go to the smaller user id.
pub fn needs_support(week: &[RepFigures], names: &BTreeMap<String, String>) -> Option<SupportNeed> {
    let mean = |metric: Metric| -> Option<i64> {
        let values: Vec<i64> = week.iter().filter_map(|r| r.facts.get(metric)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<i64>().div_euclid(values.len() as i64))
    };
    let means: Vec<(Metric, i64)> =
        SUPPORT_METRICS.iter().filter_map(|&m| mean(m).filter(|v| *v > 0).map(|v| (m, v))).collect();
    if means.is_empty() || week.len() < 2 {
        return None;
    }
    let mut scored: Vec<(i64, &RepFigures)> = week
        .iter()
        .filter_map(|r| {
            let ratios: Vec<i64> = means
                .iter()
                .filter_map(|&(m, team)| r.facts.get(m).map(|v| (v.max(0) * BP / team).min(2 * BP)))
                .collect();
            (!ratios.is_empty()).then(|| (ratios.iter().sum::<i64>() / ratios.len() as i64, r))
        })
        .collect();
    scored.sort_by(|(a, ra), (b, rb)| a.cmp(b).then(ra.facts.rep.cmp(&rb.facts.rep)));
    let &(score_bp, rep) = scored.first()?;
    (score_bp < BP).then(|| SupportNeed {
        rep: rep.facts.rep.clone(),
        name: names.get(&rep.facts.rep).cloned().unwrap_or_else(|| rep.facts.rep.clone()),
        score_bp,
        effective_visits: rep.facts.get(Metric::EffectiveVisits).unwrap_or(0),
        team_mean_effective_visits: mean(Metric::EffectiveVisits).unwrap_or(0),
    })
}

/// `fen` as managers read an amount: `¥3,500元` below ten thousand yuan, `¥12.5万` above
/// (rounded down to a tenth).
fn amount_text(fen: i64) -> String {
    let yuan = fen / 100;
    if yuan < 10_000 {
        format!("¥{yuan}元")
    } else {
        let tenths = yuan / 1_000;
        if tenths % 10 == 0 {
            format!("¥{}万", tenths / 10)
        } else {
            format!("¥{}.{}万", tenths / 10, tenths % 10)
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

fn pct(bp: i64) -> i64 {
    bp / 100
}

/// The brief's text from its answers: three clauses, each at most about 35 characters, so the
/// whole is within [`MAX_BRIEF_CHARS`] (titles and names are shortened to fit).
pub fn brief_text(
    week: Period,
    biggest: Option<&BiggestDeal>,
    abnormal: Option<&AbnormalStage>,
    support: Option<&SupportNeed>,
) -> String {
    let first = match biggest {
        None => "本周无在谈大单".to_owned(),
        Some(d) => {
            let moved = match d.from {
                None => format!("新建→{}", d.to.label_zh()),
                Some(from) if from == d.to => format!("停在{}", from.label_zh()),
                Some(from) => format!("{}→{}", from.label_zh(), d.to.label_zh()),
            };
            format!("最大单「{}」{}{}", clip(&d.title, 12), amount_text(d.amount_fen), moved)
        }
    };
    let second = match abnormal {
        None => "各阶段转化正常".to_owned(),
        Some(a) => format!(
            "{}转化{}%（近{}周{}%）",
            a.stage.label_zh(),
            pct(a.week_bp),
            TRAILING_WEEKS,
            pct(a.trailing_bp)
        ),
    };
    let third = match support {
        None => "无人明显落后".to_owned(),
        Some(s) => format!(
            "需支持：{}（有效拜访{}，均值{}）",
            clip(&s.name, 8),
            s.effective_visits,
            s.team_mean_effective_visits
        ),
    };
    let text = format!("{}周报：{first}；{second}；{third}。", week_label(week));
    clip(&text, MAX_BRIEF_CHARS)
}

/// `W49` of `2026-W49`.
fn week_label(week: Period) -> String {
    let text = week.to_string();
    text.split_once('-').map_or(text.clone(), |(_, w)| w.to_owned())
}

/// The whole brief of `team_id` for `week`, from the team's deals (owners resolved to user ids)
/// and every rep's figures for the week.
pub fn weekly_brief(
    team_id: &str,
    week: Period,
    utc_offset_minutes: i32,
    deals: &[Opportunity],
    figures: &[RepFigures],
    names: &BTreeMap<String, String>,
    raised_at: UnixMillis,
) -> WeeklyBrief {
    let (start, end) = week.span_ms(utc_offset_minutes);
    let biggest = biggest_deal(deals, start, end);
    let abnormal = abnormal_stage(deals, start, end);
    let support = needs_support(figures, names);
    WeeklyBrief {
        v: BRIEF_VERSION,
        kind: BRIEF_TYPE.to_owned(),
        team_id: team_id.to_owned(),
        week,
        text: brief_text(week, biggest.as_ref(), abnormal.as_ref(), support.as_ref()),
        biggest_deal: biggest,
        abnormal_stage: abnormal,
        needs_support: support,
        raised_at,
    }
}
