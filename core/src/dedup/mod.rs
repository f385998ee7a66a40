//! Duplicate detection for customers: the match keys and the rule that says whether two customer
//! records name the same company.
//!
//! This module owns the normalisation of the three things reps type about a customer — phone
//! numbers, company names and the unified social credit code — and the comparison of two
//! normalised customers. It is pure (no I/O, no clock) so that the phone, which warns before a
//! record is saved, and the relay, which merges records, reach the same verdict on the same input.
//!
//! # Match keys
//!
//! - [`normalize_phone`] turns what a rep typed into E.164 (`+8613812345678`), with a landline's
//!   extension (`;ext=8021`, `-8021`, `ext. 8021`, `x 102`, `转8021`, `分机 8021`) kept beside the
//!   number rather than in it: the switchboard number is what the projection index is keyed on,
//!   and the extension decides whether a shared switchboard is a shared phone.
//!   [`normalize_phones`] reads a field listing several (`021 6234 5678 / 6234 5679`).
//!   [`NormalizedPhone`] also gives the forms to show and dial (`021 6234 5678 转 8021`,
//!   `+862162345678,8021`).
//! - [`normalize_company_name`] reduces a name to its *core* (字号 + industry words, e.g.
//!   `精工机械`) and keeps the parts it removed: region (`苏州`), legal form (`有限公司`) and
//!   whether the name is a branch (`分公司`). Normalising a core again yields the same core.
//! - [`normalize_credit_code`] / [`is_valid_credit_code`] check the GB 32100-2015 check character.
//!
//! # Name similarity
//!
//! [`name_similarity`] compares two cores `a` and `b` (sequences of characters; a Latin word is
//! its letters plus one space) in four steps:
//!
//! 1. Equal cores score 1. An empty core scores 0.
//! 2. `jw = JaroWinkler(a, b)` (prefix scale 0.1, prefix length ≤ 4). Jaro–Winkler rather than
//!    bigram overlap because cores are short (2–12 CJK characters): one wrong character in a
//!    four-character core leaves one bigram of three, but Jaro–Winkler still scores it ≈ 0.85.
//! 3. Strip the longest common prefix and suffix; what is left on each side is the *difference*
//!    (`精工[机械]` vs `精工[模具]`), and `d` is the optimal-string-alignment distance between the
//!    two differences.
//!    - `d ≤ 1` (a typo: one character wrong, missing, extra or swapped) → `jw`, unless the
//!      change turns one industry word into another (电子/电气, 针织/纺织);
//!    - one name only adds two or three characters (or one Latin word) in front of the other's
//!      complete core of at least four characters → 0.9: registered names put the place first
//!      (行政区划 + 字号 + 行业 + 组织形式), so this is most likely a place missing from the
//!      region list (`越西弘众精密模具` vs `弘众精密模具`);
//!    - anything else changed, added or dropped a whole word — a different industry (机械/模具),
//!      a different subsidiary (华为技术/华为终端), a sales arm (精工机械销售) — and scores
//!      `min(jw, 1 − d / max(|a|, |b|), 0.75)`.
//! 4. Caps for facts outside the core: both names carry regions that cannot be the same place
//!    (苏州 vs 宁波; 昆山 vs 苏州 is compatible) → at most 0.7; one name is a branch and the
//!    other is not, or they are different branches → the head offices' cores are compared
//!    instead and the result is capped at 0.7.
//!
//! Why caps rather than a weighted sum: the question the score answers is "can this pair be
//! merged without a human", and each of these facts is a reason for a human to look, however
//! similar the rest is. The caps (0.7, 0.75) lie between the default thresholds (0.6 possible,
//! 0.8 same), so such pairs land in the review queue rather than being merged or ignored; a team
//! that lowers `same_name` below 0.75 gives that protection up.
//!
//! Names in different scripts (`苏州精工机械` vs `Suzhou Jinggong Machinery`) share no characters
//! and score 0: the module has no transliteration, so such pairs are at most *possible* through a
//! shared phone.
//!
//! # Verdict
//!
//! [`compare`] applies the rule from the design: equal valid credit codes decide *same*, different
//! valid codes decide *different*; otherwise a shared phone and a name similarity ≥ `same_name`
//! mean *same*, either one alone (or a name ≥ `possible_name`, or a shared switchboard reached
//! through different extensions) means *possible*, nothing means *different*.
//!
//! # Merge
//!
//! [`canonical_order`] says which of two records of one company survives (the older) and
//! [`merge_customers`] unites the other into it; both are shared by the relay, the phone and the
//! import tool so that every side builds the same merged record.

mod credit_code;
mod grams;
mod merge;
mod name;
mod phone;
mod region;
mod score;

pub use credit_code::{is_valid_credit_code, normalize_credit_code};
pub use grams::{core_grams, name_grams};
pub use merge::{CustomerMerge, FieldConflict, canonical_order, merge_customers, merge_in_canonical_order};
pub use name::{NormalizedName, name_similarity, normalize_company_name};
pub use phone::{NormalizedPhone, PhoneKind, normalize_phone, normalize_phones};
pub use score::{
    COMMON_NUMBER_UNRELATED_CUSTOMERS, CustomerKey, Decision, DedupThresholds, DedupVerdict, MatchReason,
    compare, without_common_numbers,
};

/// Folds full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space to their ASCII
/// forms; Chinese input methods produce these whenever the rep forgets to switch modes.
pub(crate) fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::fold_width;

    #[test]
    fn full_width_forms_fold_to_ascii() {
        let folded: String = "１３８（０５１２）ＡＢｃ，：\u{3000}".chars().map(fold_width).collect();
        assert_eq!(folded, "138(0512)ABc,: ");
    }

    #[test]
    fn cjk_text_is_left_alone_by_the_width_fold() {
        let folded: String = "精工机械【苏州】".chars().map(fold_width).collect();
        assert_eq!(folded, "精工机械【苏州】");
    }
}
