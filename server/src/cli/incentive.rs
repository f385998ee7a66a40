//! `fieldsync incentive check|eval|sandbox`: HR's offline tools for incentive rules
//! (docs/kpi.md). Pure: they read files and print JSON lines, and touch no relay.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_core::kpi::{Date, IncentiveRules, RepFacts, RuleBook, read_facts, sandbox};
use serde_json::{Value, json};

/// The largest rules or facts file read: 64 MiB (a 1,000-rep team over three years of weeks
/// is under 20 MiB of facts).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

fn read_text(path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        bail!("{} is {} bytes, more than the {MAX_FILE_BYTES} this tool reads", path.display(), meta.len());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

/// Reads and checks a rule book (or a single rule set) from `path`.
///
/// # Errors
///
/// When the file cannot be read or the rules are invalid (the message names the field).
pub fn read_rules(path: &Path) -> anyhow::Result<RuleBook> {
    let text = read_text(path)?;
    RuleBook::from_json(&text).with_context(|| format!("{}: invalid rules", path.display()))
}

fn read_candidate(path: &Path) -> anyhow::Result<IncentiveRules> {
    let text = read_text(path)?;
    IncentiveRules::from_json(&text).with_context(|| format!("{}: invalid candidate rules", path.display()))
}

fn read_roster(path: Option<&Path>) -> anyhow::Result<Option<BTreeSet<String>>> {
    let Some(path) = path else { return Ok(None) };
    let roster: BTreeSet<String> = read_text(path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    Ok(Some(roster))
}

fn today(given: Option<&str>) -> anyhow::Result<Date> {
    match given {
        Some(text) => text.parse().context("--today"),
        // The teams served are at UTC+8; a period "in the future" is one whose first day is
        // after today there.
        None => Ok(Date::of_instant(fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock), 480)),
    }
}

fn read_facts_file(
    path: &Path,
    today: Date,
    roster: Option<&BTreeSet<String>>,
) -> anyhow::Result<Vec<RepFacts>> {
    let text = read_text(path)?;
    read_facts(&text, today, roster).with_context(|| format!("{}: invalid facts", path.display()))
}

/// `incentive check`: the book's versions, one line each, or the first error.
///
/// # Errors
///
/// When the rules are invalid.
pub fn check(rules: &Path) -> anyhow::Result<Vec<Value>> {
    let book = read_rules(rules)?;
    Ok(book
        .versions
        .iter()
        .map(|r| {
            json!({"version": r.version, "effective_from": r.effective_from, "period": r.period,
                   "metrics": r.metrics.len(), "tiers": r.excess_tiers.len(), "gates": r.gates.len()})
        })
        .collect())
}

/// `incentive eval`: every rep's payout for every period of the facts, with its breakdown, one
/// JSON object per line, in the facts' order.
///
/// # Errors
///
/// When a file is unreadable, the rules or facts are invalid, or a period has no rules in force.
pub fn eval(
    rules: &Path,
    facts: &Path,
    today_arg: Option<&str>,
    roster: Option<&Path>,
) -> anyhow::Result<Vec<Value>> {
    let book = read_rules(rules)?;
    let roster = read_roster(roster)?;
    let facts = read_facts_file(facts, today(today_arg)?, roster.as_ref())?;
    let payouts = book.evaluate(&facts)?;
    payouts.iter().map(|p| serde_json::to_value(p).context("payout to JSON")).collect()
}

/// `incentive sandbox`: what `candidate` would have paid over the last `periods` periods of the
/// facts against the rules in force; one JSON object per rep, then a `total` line.
///
/// # Errors
///
/// As [`eval`], and when more than three years of periods are asked for.
pub fn sandbox_cmd(
    rules: &Path,
    candidate: &Path,
    facts: &Path,
    periods: usize,
    today_arg: Option<&str>,
    roster: Option<&Path>,
) -> anyhow::Result<Vec<Value>> {
    let book = read_rules(rules)?;
    let candidate = read_candidate(candidate)?;
    let roster = read_roster(roster)?;
    let facts = read_facts_file(facts, today(today_arg)?, roster.as_ref())?;
    let report = sandbox(&book, &candidate, &facts, periods)?;
    let mut lines: Vec<Value> = report
        .reps
        .iter()
        .map(|r| serde_json::to_value(r).context("sandbox line to JSON"))
        .collect::<Result<_, _>>()?;
    lines.push(json!({
        "total": {
            "periods": report.periods,
            "current_fen": report.current_total_fen,
            "candidate_fen": report.candidate_total_fen,
            "change_fen": report.change_fen,
            "change_bp": report.change_bp,
        }
    }));
    Ok(lines)
}
