//! `fieldsync dedup pairs FILE.jsonl`: the duplicate rule shared by phone and relay, on pairs
//! given as JSON lines — for tests, for tuning thresholds against a labelled set, and for an
//! admin who wants to know why two customers were (not) merged.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result};
use fieldsync_core::dedup::{CustomerKey, Decision, DedupThresholds, compare};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Side {
    name: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    credit_code: Option<String>,
}

#[derive(Deserialize)]
struct Pair {
    a: Side,
    b: Side,
}

fn key(side: &Side) -> CustomerKey {
    let phones: Vec<&str> = side.phone.as_deref().into_iter().collect();
    CustomerKey::new(&side.name, &phones, side.credit_code.as_deref())
}

/// One output line per input line: `{"score", "decision"}`, or `{"line", "error"}` for a line
/// that is not a pair. Returns the lines and whether any line was bad.
pub fn pairs(path: &Path) -> Result<(Vec<Value>, bool)> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let thresholds = DedupThresholds::default();
    let mut out = Vec::new();
    let mut bad = false;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Pair>(&line) {
            Ok(pair) => {
                let verdict = compare(&key(&pair.a), &key(&pair.b), &thresholds);
                let decision = match verdict.decision {
                    Decision::Same => "same",
                    Decision::Possible => "possible",
                    Decision::Different => "different",
                };
                out.push(
                    json!({ "score": (verdict.score * 10_000.0).round() / 10_000.0, "decision": decision }),
                );
            }
            Err(e) => {
                bad = true;
                out.push(json!({ "line": index + 1, "error": format!("not a pair {{\"a\": {{\"name\", \"phone\"}}, \"b\": …}}: {e}") }));
            }
        }
    }
    Ok((out, bad))
}

/// A labelled pair: a [`Pair`] with `"label": "same" | "different"` and an optional `"kind"`.
#[derive(Deserialize)]
struct LabelledPair {
    a: Side,
    b: Side,
    label: String,
    #[serde(default)]
    kind: Option<String>,
}

/// `fieldsync dedup eval FILE.jsonl`: precision and recall of the rule's `same` on a labelled
/// set, with the decisions per kind of pair — the figures `docs/benchmarks.md` records, computed
/// by the scorer the phone and the relay run. A line that is not a labelled pair is an error.
pub fn eval(path: &Path) -> Result<Value> {
    use std::collections::BTreeMap;

    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let thresholds = DedupThresholds::default();
    let (mut true_pos, mut false_pos, mut false_neg, mut true_neg) = (0u32, 0u32, 0u32, 0u32);
    let mut kinds: BTreeMap<String, [u32; 3]> = BTreeMap::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let pair: LabelledPair = serde_json::from_str(&line).with_context(|| {
            format!("{} line {}: not a labelled pair {{\"a\", \"b\", \"label\"}}", path.display(), index + 1)
        })?;
        let same = match pair.label.as_str() {
            "same" => true,
            "different" => false,
            other => anyhow::bail!(
                "{} line {}: label {other:?} is neither \"same\" nor \"different\"",
                path.display(),
                index + 1
            ),
        };
        let decision = compare(&key(&pair.a), &key(&pair.b), &thresholds).decision;
        let predicted = decision == Decision::Same;
        match (same, predicted) {
            (true, true) => true_pos += 1,
            (true, false) => false_neg += 1,
            (false, true) => false_pos += 1,
            (false, false) => true_neg += 1,
        }
        let counts = kinds.entry(pair.kind.unwrap_or_else(|| pair.label.clone())).or_default();
        counts[match decision {
            Decision::Same => 0,
            Decision::Possible => 1,
            Decision::Different => 2,
        }] += 1;
    }
    let ratio =
        |x: u32, y: u32| if y == 0 { None } else { Some((f64::from(x) / f64::from(y) * 1e4).round() / 1e4) };
    let per_kind: serde_json::Map<String, Value> = kinds
        .into_iter()
        .map(|(kind, [same, possible, different])| {
            (kind, json!({ "same": same, "possible": possible, "different": different }))
        })
        .collect();
    Ok(json!({
        "file": path.display().to_string(),
        "precision": ratio(true_pos, true_pos + false_pos),
        "recall": ratio(true_pos, true_pos + false_neg),
        "true_pos": true_pos,
        "false_pos": false_pos,
        "false_neg": false_neg,
        "true_neg": true_neg,
        "kinds": per_kind,
    }))
}
