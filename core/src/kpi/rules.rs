//! Incentive rules (规则中心): weights and targets per metric, a base bonus paid in proportion to
//! achievement above a threshold, progressive excess tiers above target, a cap and gates. A
//! structured form rather than an expression language: HR fills in numbers, the relay can tell
//! exactly which number is wrong, and no rule can loop, divide by zero or read what it should not
//! (docs/kpi.md, "Why a form").
//!
//! All arithmetic is on integers (`i128` inside): achievement in millionths (ppm), rates in basis
//! points, money in fen. **The one rounding rule: every division rounds down** — all the values
//! divided are non-negative — so every platform pays the same fen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::calendar::{Date, Period, PeriodKind};
use super::metric::{Metric, RepFacts};

/// 100 % of target, in millionths.
pub const FULL_PPM: i64 = 1_000_000;
const BP: i128 = 10_000;

/// The most a single metric's achievement counts when its target has no cap: 1000 %.
pub const DEFAULT_METRIC_CAP_PCT: i64 = 1000;
/// The largest base bonus: ¥10,000,000.
pub const MAX_BASE_FEN: i64 = 1_000_000_000;
/// The most excess tiers a rule set has.
pub const MAX_TIERS: usize = 10;
/// The most versions a rule book keeps.
pub const MAX_VERSIONS: usize = 500;

/// A metric's share of the score and its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedTarget {
    /// The metric.
    pub metric: Metric,
    /// Its weight in basis points; a rule set's weights add up to 10,000.
    pub weight_bp: i64,
    /// The target, in the metric's unit (fen, count, basis points, thousandths).
    pub target: i64,
    /// The most achievement this metric counts, percent of target (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_pct: Option<i64>,
}

/// Pay on the achievement above target between `from_pct` and `to_pct`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcessTier {
    /// Where the tier starts, percent of target; the first tier starts at 100.
    pub from_pct: i64,
    /// Where it ends; the last tier may be open (`null`).
    #[serde(default)]
    pub to_pct: Option<i64>,
    /// The base bonus times this rate (basis points) is paid per 100 % of excess in the tier.
    pub rate_bp: i64,
}

/// No bonus at all below `min` of `metric` (不满N次有效拜访不发奖金).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The metric.
    pub metric: Metric,
    /// The least value that opens the gate.
    pub min: i64,
}

/// One version of a team's incentive rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncentiveRules {
    /// The version number; a book's versions increase with their dates.
    pub version: i64,
    /// The first day it pays: the version in force on a period's first day pays the whole
    /// period.
    pub effective_from: Date,
    /// The period it pays.
    pub period: PeriodKind,
    /// The bonus at 100 % of target, fen.
    pub base_bonus_fen: i64,
    /// Below this achievement (percent) nothing is paid; from it to 100 % the base is paid times
    /// the achievement.
    #[serde(default = "IncentiveRules::default_threshold")]
    pub threshold_pct: i64,
    /// The weighted targets.
    pub metrics: Vec<WeightedTarget>,
    /// Excess tiers above target, in order, each starting where the last ended.
    #[serde(default)]
    pub excess_tiers: Vec<ExcessTier>,
    /// The most one rep is paid for one period, fen.
    #[serde(default)]
    pub cap_fen: Option<i64>,
    /// Gates: all must be open for any bonus.
    #[serde(default)]
    pub gates: Vec<Gate>,
}

/// What is wrong with a rule set: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct RuleError {
    /// The field, as a path (`versions[1].excess_tiers[0].rate_bp`).
    pub at: String,
    /// What is wrong, in words.
    pub problem: String,
}

fn rule_error(at: impl Into<String>, problem: impl Into<String>) -> RuleError {
    RuleError { at: at.into(), problem: problem.into() }
}

impl IncentiveRules {
    fn default_threshold() -> i64 {
        80
    }

    /// Parses one rule set from JSON and checks it.
    pub fn from_json(text: &str) -> Result<IncentiveRules, RuleError> {
        let rules: IncentiveRules =
            serde_json::from_str(text).map_err(|e| rule_error("rules", e.to_string()))?;
        rules.check("rules")?;
        Ok(rules)
    }

    /// The first problem with the rule set, its fields named under `at`.
    pub fn check(&self, at: &str) -> Result<(), RuleError> {
        if self.version < 1 {
            return Err(rule_error(format!("{at}.version"), "must be 1 or more"));
        }
        if !(0..=MAX_BASE_FEN).contains(&self.base_bonus_fen) {
            return Err(rule_error(
                format!("{at}.base_bonus_fen"),
                format!("{} is outside 0..={MAX_BASE_FEN} fen", self.base_bonus_fen),
            ));
        }
        if !(0..=100).contains(&self.threshold_pct) {
            return Err(rule_error(format!("{at}.threshold_pct"), "must be between 0 and 100"));
        }
        if self.metrics.is_empty() {
            return Err(rule_error(format!("{at}.metrics"), "needs at least one weighted target"));
        }
        let mut seen = BTreeSet::new();
        let mut weights = 0i64;
        for (i, target) in self.metrics.iter().enumerate() {
            let here = format!("{at}.metrics[{i}]");
            if !seen.insert(target.metric) {
                return Err(rule_error(here, format!("{} is weighted twice", target.metric)));
            }
            if target.metric.lower_is_better() {
                return Err(rule_error(
                    here,
                    format!("{} counts shortfalls (more is worse); it cannot be a target", target.metric),
                ));
            }
            if target.weight_bp <= 0 || target.weight_bp > 10_000 {
                return Err(rule_error(format!("{here}.weight_bp"), "must be between 1 and 10000"));
            }
            let (_, max) = target.metric.value_range();
            if target.target <= 0 || target.target > max {
                return Err(rule_error(
                    format!("{here}.target"),
                    format!("must be positive and at most {max} for {}", target.metric),
                ));
            }
            if let Some(cap) = target.cap_pct
                && !(100..=DEFAULT_METRIC_CAP_PCT).contains(&cap)
            {
                return Err(rule_error(
                    format!("{here}.cap_pct"),
                    format!("must be between 100 and {DEFAULT_METRIC_CAP_PCT}"),
                ));
            }
            weights += target.weight_bp;
        }
        if weights != 10_000 {
            return Err(rule_error(
                format!("{at}.metrics"),
                format!("weights add up to {weights} bp; they must add up to 10000 (100 %)"),
            ));
        }
        if self.excess_tiers.len() > MAX_TIERS {
            return Err(rule_error(format!("{at}.excess_tiers"), format!("more than {MAX_TIERS} tiers")));
        }
        let mut expected_from = 100;
        for (i, tier) in self.excess_tiers.iter().enumerate() {
            let here = format!("{at}.excess_tiers[{i}]");
            if tier.from_pct != expected_from {
                let problem = if i == 0 {
                    format!("the first tier must start at 100 (target), not {}", tier.from_pct)
                } else if tier.from_pct < expected_from {
                    format!(
                        "starts at {} inside the tier before (which ends at {expected_from})",
                        tier.from_pct
                    )
                } else {
                    format!("starts at {} but the tier before ends at {expected_from}: a gap", tier.from_pct)
                };
                return Err(rule_error(format!("{here}.from_pct"), problem));
            }
            if tier.rate_bp < 0 {
                return Err(rule_error(format!("{here}.rate_bp"), "is negative"));
            }
            if tier.rate_bp > 100_000 {
                return Err(rule_error(format!("{here}.rate_bp"), "is above 100000 (1000 %)"));
            }
            match tier.to_pct {
                Some(to) if to <= tier.from_pct => {
                    return Err(rule_error(
                        format!("{here}.to_pct"),
                        format!("{to} is not above from_pct {}: tiers must be in order", tier.from_pct),
                    ));
                }
                Some(to) if to > 100 * DEFAULT_METRIC_CAP_PCT => {
                    return Err(rule_error(format!("{here}.to_pct"), "is beyond 100000 %"));
                }
                Some(to) => expected_from = to,
                None if i + 1 < self.excess_tiers.len() => {
                    return Err(rule_error(format!("{here}.to_pct"), "only the last tier may be open"));
                }
                None => {}
            }
        }
        if let Some(cap) = self.cap_fen
            && cap < 0
        {
            return Err(rule_error(format!("{at}.cap_fen"), "is negative"));
        }
        let mut gated = BTreeSet::new();
        for (i, gate) in self.gates.iter().enumerate() {
            let here = format!("{at}.gates[{i}]");
            if !gated.insert(gate.metric) {
                return Err(rule_error(here, format!("{} is gated twice", gate.metric)));
            }
            if gate.metric.lower_is_better() {
                return Err(rule_error(here, format!("{} counts shortfalls; it cannot gate", gate.metric)));
            }
            let (min, max) = gate.metric.value_range();
            if gate.min < min.max(0) || gate.min > max {
                return Err(rule_error(format!("{here}.min"), format!("must be within 0..={max}")));
            }
        }
        Ok(())
    }

    /// Pays one rep for one period.
    pub fn evaluate(&self, facts: &RepFacts) -> Payout {
        let mut metrics = Vec::with_capacity(self.metrics.len());
        let mut weighted: i128 = 0;
        for target in &self.metrics {
            let value = facts.get(target.metric);
            let cap_ppm = i128::from(target.cap_pct.unwrap_or(DEFAULT_METRIC_CAP_PCT)) * 10_000;
            let achievement = match value {
                Some(v) if v > 0 => {
                    (i128::from(v) * i128::from(FULL_PPM) / i128::from(target.target)).min(cap_ppm)
                }
                _ => 0,
            };
            weighted += achievement * i128::from(target.weight_bp);
            metrics.push(MetricLine {
                metric: target.metric,
                value,
                target: target.target,
                weight_bp: target.weight_bp,
                achievement_ppm: achievement as i64,
            });
        }
        let achievement = weighted / BP;
        let mut payout = Payout {
            rep: facts.rep.clone(),
            period: facts.period,
            rules_version: self.version,
            achievement_ppm: achievement as i64,
            band: Band::BelowThreshold,
            metrics,
            gate_failed: None,
            lines: Vec::new(),
            payout_fen: 0,
        };
        if let Some(gate) = self.gates.iter().find(|g| facts.get(g.metric).is_none_or(|v| v < g.min)) {
            payout.band = Band::Gated;
            payout.gate_failed =
                Some(GateFailure { metric: gate.metric, min: gate.min, value: facts.get(gate.metric) });
            return payout;
        }
        if achievement < i128::from(self.threshold_pct) * 10_000 {
            return payout;
        }
        let base = i128::from(self.base_bonus_fen);
        let full = i128::from(FULL_PPM);
        if achievement <= full {
            payout.band = Band::ProRata;
            payout
                .lines
                .push(PayLine {
                    item: "base × achievement".into(), fen: (base * achievement / full) as i64
                });
        } else {
            payout.band = Band::Target;
            payout.lines.push(PayLine { item: "base".into(), fen: self.base_bonus_fen });
            for (i, tier) in self.excess_tiers.iter().enumerate() {
                let from = i128::from(tier.from_pct) * 10_000;
                if achievement <= from {
                    break;
                }
                let to = tier.to_pct.map_or(achievement, |t| (i128::from(t) * 10_000).min(achievement));
                let fen = base * (to - from) * i128::from(tier.rate_bp) / (full * BP);
                payout.band = Band::Excess(i + 1);
                let end = tier.to_pct.map_or_else(|| "…".to_string(), |t| t.to_string());
                payout.lines.push(PayLine {
                    item: format!("tier {} ({}–{end} %)", i + 1, tier.from_pct),
                    fen: fen as i64,
                });
            }
        }
        let total: i64 = payout.lines.iter().map(|l| l.fen).sum();
        if let Some(cap) = self.cap_fen
            && total > cap
        {
            payout.lines.push(PayLine { item: "cap".into(), fen: cap - total });
        }
        payout.payout_fen = payout.lines.iter().map(|l| l.fen).sum();
        payout
    }
}

/// Where an achievement landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    /// A gate was shut: nothing paid.
    Gated,
    /// Below the threshold: nothing paid.
    BelowThreshold,
    /// From the threshold to 100 %: the base times the achievement.
    ProRata,
    /// Above 100 % with no excess tier reached (no tiers defined).
    Target,
    /// Above 100 %, into excess tier `n` (1-based).
    Excess(usize),
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Band::Gated => f.write_str("gated"),
            Band::BelowThreshold => f.write_str("below_threshold"),
            Band::ProRata => f.write_str("pro_rata"),
            Band::Target => f.write_str("target"),
            Band::Excess(n) => write!(f, "excess_{n}"),
        }
    }
}

impl Serialize for Band {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One metric's part in a payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricLine {
    /// The metric.
    pub metric: Metric,
    /// Its value; `None` when undefined for the period (counted as 0 % achievement).
    pub value: Option<i64>,
    /// The target.
    pub target: i64,
    /// Its weight.
    pub weight_bp: i64,
    /// value / target in millionths, capped.
    pub achievement_ppm: i64,
}

/// The gate that stopped a payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateFailure {
    /// The metric.
    pub metric: Metric,
    /// The least value that opens it.
    pub min: i64,
    /// The rep's value.
    pub value: Option<i64>,
}

/// One line of a payout; the payout is the sum of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayLine {
    /// What it pays for.
    pub item: String,
    /// Fen (negative for the cap).
    pub fen: i64,
}

/// One rep's pay for one period, with how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    /// The rep.
    pub rep: String,
    /// The period.
    pub period: Period,
    /// The version of the rules that paid it.
    pub rules_version: i64,
    /// The weighted achievement, millionths of target.
    pub achievement_ppm: i64,
    /// Where it landed.
    pub band: Band,
    /// Each weighted metric.
    pub metrics: Vec<MetricLine>,
    /// The gate that was shut, if one was.
    pub gate_failed: Option<GateFailure>,
    /// The pay lines.
    pub lines: Vec<PayLine>,
    /// The total, fen.
    pub payout_fen: i64,
}

/// Every version of a team's incentive rules, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBook {
    /// The versions, in increasing version and date.
    pub versions: Vec<IncentiveRules>,
}

/// What went wrong evaluating facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    /// A facts line did not parse.
    #[error("facts line {line}: {problem}")]
    Unreadable {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A period begins after today.
    #[error("facts for {rep} name {period}, which has not begun (today is {today})")]
    FuturePeriod {
        /// The rep.
        rep: String,
        /// The period.
        period: Period,
        /// Today, in the team's zone.
        today: Date,
    },
    /// The same rep and period twice.
    #[error("facts for {rep} in {period} are given twice")]
    Duplicate {
        /// The rep.
        rep: String,
        /// The period.
        period: Period,
    },
    /// A rep not on the team's roster.
    #[error("facts name {rep}, who is not on the roster")]
    UnknownRep {
        /// The rep.
        rep: String,
    },
    /// A value outside its metric's range.
    #[error("facts for {rep} in {period}: {metric} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The rep.
        rep: String,
        /// The period.
        period: Period,
        /// The metric.
        metric: Metric,
        /// The value given.
        value: i64,
        /// Least allowed.
        min: i64,
        /// Most allowed.
        max: i64,
    },
    /// No version of the rules covers a period, or the version in force pays another kind.
    #[error("{period}: {problem}")]
    NoRules {
        /// The period.
        period: Period,
        /// What is missing.
        problem: String,
    },
    /// The sandbox was asked for too many periods.
    #[error("{0}")]
    TooLong(String),
}

impl RuleBook {
    /// Parses a rule book — `{"versions": [...]}`, or a single rule set as a book of one — and
    /// checks every version.
    pub fn from_json(text: &str) -> Result<RuleBook, RuleError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| rule_error("rules", format!("not JSON: {e}")))?;
        let book = if value.get("versions").is_some() {
            serde_json::from_value::<RuleBook>(value).map_err(|e| rule_error("rules", e.to_string()))?
        } else {
            let rules = serde_json::from_value::<IncentiveRules>(value)
                .map_err(|e| rule_error("rules", e.to_string()))?;
            RuleBook { versions: vec![rules] }
        };
        book.check()?;
        Ok(book)
    }

    /// The first problem with the book.
    pub fn check(&self) -> Result<(), RuleError> {
        if self.versions.is_empty() {
            return Err(rule_error("versions", "a rule book needs at least one version"));
        }
        if self.versions.len() > MAX_VERSIONS {
            return Err(rule_error("versions", format!("more than {MAX_VERSIONS} versions")));
        }
        for (i, rules) in self.versions.iter().enumerate() {
            rules.check(&format!("versions[{i}]"))?;
            if i > 0 {
                let before = &self.versions[i - 1];
                if rules.version <= before.version {
                    return Err(rule_error(
                        format!("versions[{i}].version"),
                        format!("{} does not follow version {}", rules.version, before.version),
                    ));
                }
                if rules.effective_from <= before.effective_from {
                    return Err(rule_error(
                        format!("versions[{i}].effective_from"),
                        format!(
                            "{} is not after {} (version {})",
                            rules.effective_from, before.effective_from, before.version
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The version in force on `period`'s first day.
    pub fn in_force(&self, period: Period) -> Result<&IncentiveRules, FactsError> {
        let first = period.first_day();
        let rules = self.versions.iter().rev().find(|r| r.effective_from <= first).ok_or_else(|| {
            FactsError::NoRules { period, problem: format!("no version of the rules is in force on {first}") }
        })?;
        if rules.period != period.kind() {
            return Err(FactsError::NoRules {
                period,
                problem: format!(
                    "rules version {} pays per {}, not per {}",
                    rules.version,
                    rules.period.as_str(),
                    period.kind().as_str()
                ),
            });
        }
        Ok(rules)
    }

    /// A version added to the book: it must follow the last one.
    pub fn with(&self, rules: IncentiveRules) -> Result<RuleBook, RuleError> {
        let mut book = self.clone();
        book.versions.push(rules);
        book.check()?;
        Ok(book)
    }

    /// Pays every rep for every period of `facts`, each by the version in force for it.
    pub fn evaluate(&self, facts: &[RepFacts]) -> Result<Vec<Payout>, FactsError> {
        facts.iter().map(|f| Ok(self.in_force(f.period)?.evaluate(f))).collect()
    }
}

/// Parses facts (one JSON object per line; blank lines and `#` comments skipped) and checks them:
/// values in range, no period that has not begun, no rep and period twice, and — given a roster —
/// no rep off it.
pub fn read_facts(
    text: &str,
    today: Date,
    roster: Option<&BTreeSet<String>>,
) -> Result<Vec<RepFacts>, FactsError> {
    let mut facts = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fact: RepFacts = serde_json::from_str(line)
            .map_err(|e| FactsError::Unreadable { line: i + 1, problem: e.to_string() })?;
        if fact.rep.trim().is_empty() || fact.rep.chars().count() > 100 {
            return Err(FactsError::Unreadable {
                line: i + 1,
                problem: "rep must be 1–100 characters".into(),
            });
        }
        check_fact(&fact, today, roster)?;
        if !seen.insert((fact.rep.clone(), fact.period)) {
            return Err(FactsError::Duplicate { rep: fact.rep, period: fact.period });
        }
        facts.push(fact);
    }
    Ok(facts)
}

/// Checks one rep's facts (see [`read_facts`]).
pub fn check_fact(fact: &RepFacts, today: Date, roster: Option<&BTreeSet<String>>) -> Result<(), FactsError> {
    if fact.period.first_day() > today {
        return Err(FactsError::FuturePeriod { rep: fact.rep.clone(), period: fact.period, today });
    }
    if let Some(roster) = roster
        && !roster.contains(&fact.rep)
    {
        return Err(FactsError::UnknownRep { rep: fact.rep.clone() });
    }
    for (&metric, &value) in &fact.values {
        let (min, max) = metric.value_range();
        if value < min || value > max {
            return Err(FactsError::OutOfRange {
                rep: fact.rep.clone(),
                period: fact.period,
                metric,
                value,
                min,
                max,
            });
        }
    }
    Ok(())
}

/// The longest sandbox run, in years.
pub const MAX_SANDBOX_YEARS: i64 = 3;

/// One rep in a sandbox report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxRep {
    /// The rep.
    pub rep: String,
    /// Paid under the rules in force, fen.
    pub current_fen: i64,
    /// Paid under the candidate, fen.
    pub candidate_fen: i64,
    /// candidate − current.
    pub change_fen: i64,
    /// Rank by pay under the rules in force (1 = paid most; equal pay, equal rank).
    pub rank_current: usize,
    /// Rank under the candidate.
    pub rank_candidate: usize,
    /// The periods where the candidate puts the rep in another band.
    pub crossings: Vec<Crossing>,
}

/// A period whose band the candidate changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Crossing {
    /// The period.
    pub period: Period,
    /// The band under the rules in force.
    pub current: Band,
    /// The band under the candidate.
    pub candidate: Band,
}

/// What a candidate would have paid over past periods, against the rules in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxReport {
    /// The periods evaluated, oldest first.
    pub periods: Vec<Period>,
    /// Each rep, by rep id.
    pub reps: Vec<SandboxRep>,
    /// The total under the rules in force.
    pub current_total_fen: i64,
    /// The total under the candidate.
    pub candidate_total_fen: i64,
    /// candidate − current.
    pub change_fen: i64,
    /// The change in basis points of the current total (`None` when that is 0).
    pub change_bp: Option<i64>,
}

fn ranks(pay: &BTreeMap<&str, i64>) -> BTreeMap<String, usize> {
    pay.iter()
        .map(|(rep, fen)| (rep.to_string(), 1 + pay.values().filter(|other| *other > fen).count()))
        .collect()
}

/// Evaluates `candidate` on the facts of the last `last_periods` periods of its kind present in
/// `facts`, against the rules in force for each period. Changes nothing.
pub fn sandbox(
    current: &RuleBook,
    candidate: &IncentiveRules,
    facts: &[RepFacts],
    last_periods: usize,
) -> Result<SandboxReport, FactsError> {
    let per_year = match candidate.period {
        PeriodKind::Week => 53,
        PeriodKind::Month => 12,
        PeriodKind::Quarter => 4,
    };
    if last_periods == 0 || last_periods as i64 > per_year * MAX_SANDBOX_YEARS {
        return Err(FactsError::TooLong(format!(
            "a sandbox covers 1 to {} {}s ({MAX_SANDBOX_YEARS} years), not {last_periods}",
            per_year * MAX_SANDBOX_YEARS,
            candidate.period.as_str()
        )));
    }
    let all: BTreeSet<Period> =
        facts.iter().map(|f| f.period).filter(|p| p.kind() == candidate.period).collect();
    let periods: Vec<Period> = all.into_iter().rev().take(last_periods).rev().collect();
    let chosen: BTreeSet<Period> = periods.iter().copied().collect();
    let mut current_pay: BTreeMap<&str, i64> = BTreeMap::new();
    let mut candidate_pay: BTreeMap<&str, i64> = BTreeMap::new();
    let mut crossings: BTreeMap<&str, Vec<Crossing>> = BTreeMap::new();
    for fact in facts.iter().filter(|f| chosen.contains(&f.period)) {
        let now = current.in_force(fact.period)?.evaluate(fact);
        let then = candidate.evaluate(fact);
        *current_pay.entry(&fact.rep).or_default() += now.payout_fen;
        *candidate_pay.entry(&fact.rep).or_default() += then.payout_fen;
        let list = crossings.entry(&fact.rep).or_default();
        if now.band != then.band {
            list.push(Crossing { period: fact.period, current: now.band, candidate: then.band });
        }
    }
    let rank_now = ranks(&current_pay);
    let rank_then = ranks(&candidate_pay);
    let reps: Vec<SandboxRep> = current_pay
        .iter()
        .map(|(rep, &now)| {
            let then = candidate_pay[rep];
            let mut list = crossings.remove(rep).unwrap_or_default();
            list.sort_by_key(|c| c.period);
            SandboxRep {
                rep: rep.to_string(),
                current_fen: now,
                candidate_fen: then,
                change_fen: then - now,
                rank_current: rank_now[*rep],
                rank_candidate: rank_then[*rep],
                crossings: list,
            }
        })
        .collect();
    let current_total_fen: i64 = reps.iter().map(|r| r.current_fen).sum();
    let candidate_total_fen: i64 = reps.iter().map(|r| r.candidate_fen).sum();
    let change_fen = candidate_total_fen - current_total_fen;
    let change_bp = (current_total_fen != 0)
        .then(|| (i128::from(change_fen) * BP / i128::from(current_total_fen)) as i64);
    Ok(SandboxReport { periods, reps, current_total_fen, candidate_total_fen, change_fen, change_bp })
}
