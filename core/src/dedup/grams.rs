//! The n-grams customers are found by, for the duplicate check's inverted indexes: the phone's
//! store (migration 0004) and the relay's identity resolution build theirs with this one function,
//! so both find the same candidates.

use super::name::{is_han, normalize_company_name};

/// The n-grams a name is found by (see migration 0004): from the normalised core, pairs of
/// Chinese characters one and two apart, and trigrams of each Latin word padded with spaces.
/// Sorted and without repeats.
pub fn name_grams(company_name: &str) -> Vec<String> {
    core_grams(&normalize_company_name(company_name).core)
}

/// [`name_grams`] of an already normalised core.
pub fn core_grams(core: &str) -> Vec<String> {
    let mut grams = Vec::new();
    let chars: Vec<char> = core.chars().collect();
    let mut start = 0;
    while start < chars.len() {
        let han = is_han(chars[start]);
        let mut end = start;
        while end < chars.len() && is_han(chars[end]) == han && (han || chars[end] != ' ') {
            end += 1;
        }
        let run = &chars[start..end];
        if han {
            if run.len() == 1 {
                grams.push(run[0].to_string());
            }
            for gap in [1, 2] {
                for i in 0..run.len().saturating_sub(gap) {
                    grams.push([run[i], run[i + gap]].iter().collect());
                }
            }
        } else if !run.is_empty() {
            let padded: Vec<char> = std::iter::once(' ').chain(run.iter().copied()).chain([' ']).collect();
            for window in padded.windows(3) {
                grams.push(window.iter().collect());
            }
        }
        start = if end == start { end + 1 } else { end };
    }
    grams.sort();
    grams.dedup();
    grams
}
