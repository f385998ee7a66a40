//! Inputs the fuzzers found, replayed on every `cargo test`: no panic, no hang, and the answer each
//! one is expected to give.
//!
//! `tests/data/fuzz/<target>/` holds inputs of the fuzz target `<target>`: crashers (minimised,
//! and fixed in the core) and inputs that reached error paths the hand-written tests do not.
//! `tests/data/fuzz/expected.txt` lists every one with the answer its entry point must give
//! (`accepted` or `rejected`). Each input goes through the fuzz target's own function, included
//! from `fuzz/src/lib.rs`, so the invariants the fuzzer checked are checked here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use harness::Outcome;

/// What a fuzz target runs on one input.
type TargetFn = fn(&[u8]) -> Outcome;

/// The fuzz targets, by the name of their directory under `tests/data/fuzz/`.
const TARGETS: [(&str, TargetFn); 4] = [
    ("leadcard_payload", harness::leadcard_payload),
    ("exif", harness::exif),
    ("photo_inspect", harness::photo_inspect),
    ("relay_intake", harness::relay_intake),
];

/// Fewest kept inputs per target: an emptied directory must fail the test, not pass it.
const MIN_INPUTS_PER_TARGET: usize = 3;

/// Longest one input may take in a debug build; the fuzzers ran each in well under 5 s optimised.
const PER_INPUT_LIMIT: Duration = Duration::from_secs(30);

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz")
}

/// `expected.txt`: `<target>/<file> accepted|rejected  free text`; `#` starts a comment line.
fn expected_outcomes() -> BTreeMap<String, Outcome> {
    let path = data_dir().join("expected.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut expected = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(input), Some(answer)) = (words.next(), words.next()) else {
            panic!("expected.txt line {}: want `<target>/<file> accepted|rejected`", number + 1);
        };
        let outcome = match answer {
            "accepted" => Outcome::Accepted,
            "rejected" => Outcome::Rejected,
            other => panic!("expected.txt line {}: answer {other:?} is not accepted|rejected", number + 1),
        };
        assert!(expected.insert(input.to_owned(), outcome).is_none(), "{input} is listed twice");
    }
    expected
}

/// Every file under `<dir>/<target>/`, as `<target>/<file>` with its bytes.
fn inputs_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut inputs = BTreeMap::new();
    for (target, _) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else { continue };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            inputs.insert(format!("{target}/{name}"), bytes);
        }
    }
    inputs
}

/// Runs `<target>/<file>` through its target on a watchdog thread: the answer, or why there is
/// none (a panic, whose message the panic hook has printed, or a hang).
fn replay(input: &str, bytes: Vec<u8>) -> Result<Outcome, String> {
    let target = input.split('/').next().unwrap_or_default();
    let run = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .ok_or_else(|| format!("{input}: no fuzz target {target:?}"))?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(input.to_owned())
        .spawn(move || {
            let _ = sender.send(run(&bytes));
        })
        .expect("spawn a replay thread");
    match receiver.recv_timeout(PER_INPUT_LIMIT) {
        Ok(outcome) => Ok(outcome),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!("{input}: panicked (message above)")),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("{input}: no answer within {PER_INPUT_LIMIT:?}")),
    }
}

#[test]
fn every_kept_fuzz_input_gives_its_expected_answer_without_panicking_or_hanging() {
    let expected = expected_outcomes();
    let inputs = inputs_under(&data_dir());

    let unlisted: Vec<&String> = inputs.keys().filter(|k| !expected.contains_key(*k)).collect();
    let missing: Vec<&String> = expected.keys().filter(|k| !inputs.contains_key(*k)).collect();
    assert!(unlisted.is_empty(), "inputs not in expected.txt: {unlisted:?}");
    assert!(missing.is_empty(), "expected.txt lists inputs that are not there: {missing:?}");
    for (target, _) in TARGETS {
        let count = inputs.keys().filter(|k| k.starts_with(&format!("{target}/"))).count();
        assert!(
            count >= MIN_INPUTS_PER_TARGET,
            "only {count} kept inputs for {target}; want at least {MIN_INPUTS_PER_TARGET}"
        );
    }

    let mut failures = Vec::new();
    for (input, bytes) in inputs {
        match replay(&input, bytes) {
            Ok(outcome) if outcome == expected[&input] => {}
            Ok(outcome) => failures.push(format!("{input}: {outcome:?}, expected {:?}", expected[&input])),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(failures.is_empty(), "{} kept fuzz inputs failed:\n{}", failures.len(), failures.join("\n"));
}

/// The fuzzers' committed seeds (`fuzz/seeds/`) pass the same invariants, whatever their answer.
#[test]
fn every_fuzz_seed_passes_the_fuzz_invariants() {
    let seeds = inputs_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds"));
    assert!(seeds.len() >= 20, "only {} seeds under fuzz/seeds", seeds.len());
    let failures: Vec<String> =
        seeds.into_iter().filter_map(|(input, bytes)| replay(&input, bytes).err()).collect();
    assert!(failures.is_empty(), "{} seeds failed:\n{}", failures.len(), failures.join("\n"));
}
