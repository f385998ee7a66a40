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
