//! The unified social credit code (统一社会信用代码, GB 32100-2015): one per legal entity, so two
//! valid codes settle whether two records are the same company.

use super::fold_width;

/// The 31 characters a code may contain: digits and capitals without I, O, S, V, Z.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weight of position i (0-based) is 3^i mod 31.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const CODE_LEN: usize = 18;

/// Normalises a credit code as typed (trims, removes inner spaces and dashes, folds full-width
/// characters, upper-cases) and returns it if it is valid, else `None`.
///
/// Letters that are not in the code's alphabet (`O`, `I`, …) are not corrected to look-alike
/// digits: a guessed correction that happens to pass the check would wrongly decide a match.
pub fn normalize_credit_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    is_valid_credit_code(&code).then_some(code)
}

/// True when `code` is exactly 18 characters from the code alphabet, positions 3–8 (the
/// administrative division) are digits, and the 18th character is the GB 32100-2015 check
/// character of the first 17. Expects a normalised code; see [`normalize_credit_code`].
pub fn is_valid_credit_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() != CODE_LEN || !bytes[2..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(values) = bytes.iter().map(|b| value_of(*b)).collect::<Option<Vec<u32>>>() else {
        return false;
    };
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values[CODE_LEN - 1] == check
}

fn value_of(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&c| c == byte).and_then(|i| u32::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completes 17 characters with their check character, as the issuing authority does.
    fn with_check_character(first17: &str) -> String {
        let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| value_of(b).unwrap() * w).sum();
        let check = ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        format!("{first17}{check}")
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn published_codes_of_real_companies_are_valid() {
        // From business licences published by the companies (Huawei, Tencent, Alibaba).
        for code in ["914403001922038216", "91440300708461136T", "91330100716105852F"] {
            assert!(is_valid_credit_code(code), "{code}");
        }
    }

    #[test]
    fn codes_completed_with_their_check_character_are_valid() {
        for first17 in ["91320594MA1MABCD3", "92320583MA20KQ7L1", "12100000400000624", "5132050050000012X"] {
            let code = with_check_character(first17);
            assert!(is_valid_credit_code(&code), "{code}");
        }
    }

    #[test]
    fn check_character_that_would_be_31_is_zero() {
        // Search a family of codes for one whose check value is 0 and check it is accepted.
        let code = (0..1000)
            .map(|n| with_check_character(&format!("91320594MA1M{n:05}")))
            .find(|code| code.ends_with('0'))
            .expect("one in 31 codes has check character 0");
        assert!(is_valid_credit_code(&code));
    }

    #[test]
    fn a_single_changed_character_is_detected() {
        let valid = "914403001922038216";
        for (i, replacement) in [(0, '5'), (9, '3'), (16, '2'), (17, '7')] {
            let mut bad: Vec<char> = valid.chars().collect();
            bad[i] = replacement;
            let bad: String = bad.into_iter().collect();
            assert!(!is_valid_credit_code(&bad), "{bad}");
        }
    }

    #[test]
    fn malformed_codes_are_invalid() {
        for code in [
            "",
            "91440300192203821",
            "9144030019220382166",
            "91440300192203821I",
            "9144030O1922038216",
            "91A403001922038216",
            "914403001922038216 ",
            "914403001922o38216",
        ] {
            assert!(!is_valid_credit_code(code), "{code:?}");
        }
    }

    #[test]
    fn typed_codes_are_trimmed_upper_cased_and_folded() {
        assert_eq!(normalize_credit_code(" 91440300708461136t "), Some("91440300708461136T".into()));
        assert_eq!(
            normalize_credit_code("９１４４０３００７０８４６１１３６Ｔ"),
            Some("91440300708461136T".into())
        );
        assert_eq!(normalize_credit_code("914403-0070846-1136T"), Some("91440300708461136T".into()));
        assert_eq!(normalize_credit_code("91440300708461136X"), None);
    }
}
