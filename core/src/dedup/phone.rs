//! Mainland China phone numbers as reps type them, reduced to E.164 match keys.

use super::fold_width;

/// What kind of line a number reaches; it decides how much a shared number proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneKind {
    /// A mobile number (`1[3-9]` + 9 digits): one person, so sharing one is strong evidence.
    Mobile,
    /// A fixed line with an area code; often a switchboard shared by a whole building or park.
    Landline,
    /// A 400/800 service number, which reaches a company's hotline rather than a person.
    Service,
}

/// A phone number in E.164 form, with the extension kept apart from the match key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedPhone {
    /// The number in E.164 form, e.g. `+8613812345678` or `+8651268888888`; the match key.
    pub e164: String,
    /// The extension dialled after the switchboard answers (`转123` → `123`), if any.
    pub extension: Option<String>,
    /// What kind of line the number reaches.
    pub kind: PhoneKind,
}

/// Longest input considered: anything longer is a note, not a phone number.
const MAX_INPUT_CHARS: usize = 64;
/// Longest extension accepted; switchboards in practice use 2–5 digits.
const MAX_EXTENSION_DIGITS: usize = 6;

/// Words that introduce an extension, in the order they are tried (longer first so that `ext`
/// is not read as `e` + `xt`).
const EXTENSION_WORDS: &[&str] = &["extension", "分机号", "ext", "分机", "转", "x"];

/// Normalises a mainland China phone number to E.164, or returns `None` when the text is not a
/// phone number that can be dialled from anywhere in China.
///
/// Accepts mobiles (`13812345678`, `+86 138-1234-5678`, `0086 13812345678`, `8613812345678`),
/// landlines with area code (`0512-68888888`, `(021)52345678`, `+86 21 5234 5678`), 400/800
/// numbers, full-width digits, and the separators people use (spaces, dashes, dots, brackets).
/// An extension written as `转123`, `ext. 123`, `x123`, `#123`, or as a trailing `-123` after a
/// complete landline, goes to [`NormalizedPhone::extension`]. A leading label such as `电话:` or
/// `Tel` is skipped.
///
/// Local numbers without an area code (`68888888`) give `None`: the area cannot be guessed, and
/// a wrong guess would create false matches. Numbers outside mainland China also give `None`.
pub fn normalize_phone(raw: &str) -> Option<NormalizedPhone> {
    if raw.chars().count() > MAX_INPUT_CHARS {
        return None;
    }
    let folded: String = raw.chars().map(fold_width).flat_map(char::to_lowercase).collect();
    let text = skip_label(folded.trim());

    let (main, marked_extension) = split_marked_extension(text)?;
    let (plus, groups) = digit_groups(main)?;
    let digits: String = groups.concat();
    if digits.len() > 20 {
        return None;
    }

    if let Some(extension) = marked_extension {
        let (nsn, kind) = parse_number(&digits, plus)?;
        return (kind != PhoneKind::Mobile).then(|| phone(&nsn, kind, Some(extension)));
    }

    // A trailing group after a local number written in one piece (`0512-68888888-123`) reads as
    // an extension even when all digits together would also parse (`021-5234567-8`): people
    // group the digits of the local number together and set the extension apart.
    let trailing_extension = |require_whole_local: bool| {
        let (last, init) = groups.split_last()?;
        let before_last = init.last()?;
        if last.is_empty()
            || last.len() > MAX_EXTENSION_DIGITS
            || (require_whole_local && before_last.len() < 7)
        {
            return None;
        }
        let (nsn, kind) = parse_number(&init.concat(), plus)?;
        (kind != PhoneKind::Mobile).then(|| phone(&nsn, kind, Some(last.clone())))
    };

    trailing_extension(true)
        .or_else(|| {
            let (nsn, kind) = parse_number(&digits, plus)?;
            Some(phone(&nsn, kind, None))
        })
        .or_else(|| trailing_extension(false))
}

/// Normalises a phone field that may list several numbers: `021 6234 5678 / 6234 5679` is two
/// landlines, the second written without the area code it shares with the first. Each `/`-
/// separated part is read with [`normalize_phone`]; a part that is only a local number (7 or 8
/// digits, with or without an extension) borrows the area code of the landline before it. A
/// field that is one number as a whole (separators include `/`) gives that number; parts that
/// are not numbers are left out.
pub fn normalize_phones(raw: &str) -> Vec<NormalizedPhone> {
    if let Some(whole) = normalize_phone(raw) {
        return vec![whole];
    }
    if raw.chars().count() > MAX_INPUT_CHARS * 4 {
        return Vec::new();
    }
    let mut found: Vec<NormalizedPhone> = Vec::new();
    for part in raw.split(['/', '／', '、']) {
        if let Some(phone) = normalize_phone(part) {
            found.push(phone);
            continue;
        }
        let previous_landline = found.last().filter(|p| p.kind == PhoneKind::Landline);
        let Some(area) = previous_landline.map(NormalizedPhone::area_code) else {
            continue;
        };
        // The part read as if it had been written after the same area code.
        if let Some(phone) = normalize_phone(&format!("0{area} {}", part.trim()))
            .filter(|p| p.kind == PhoneKind::Landline && p.area_code() == area)
        {
            found.push(phone);
        }
    }
    found
}

impl NormalizedPhone {
    /// The national significant number: the E.164 form without `+86`.
    fn national_significant(&self) -> &str {
        self.e164.strip_prefix("+86").unwrap_or(&self.e164)
    }

    /// A landline's area code without the trunk `0` (`21`, `512`); empty for other kinds.
    pub fn area_code(&self) -> &str {
        let nsn = self.national_significant();
        if self.kind != PhoneKind::Landline {
            return "";
        }
        let len = if nsn.starts_with("10") || nsn.starts_with('2') { 2 } else { 3 };
        nsn.get(..len).unwrap_or("")
    }

    /// The digits grouped as printed in China: `138 1234 5678`, `21 6234 5678`, `400 820 8820`.
    fn grouped_significant(&self) -> String {
        let nsn = self.national_significant();
        let area = self.area_code();
        let (head, local) = match self.kind {
            PhoneKind::Landline => (area, nsn.get(area.len()..).unwrap_or("")),
            PhoneKind::Mobile => (nsn.get(..3).unwrap_or(""), nsn.get(3..).unwrap_or("")),
            PhoneKind::Service => (nsn.get(..3).unwrap_or(""), nsn.get(3..).unwrap_or("")),
        };
        let split = local.len().saturating_sub(4);
        let (a, b) = (local.get(..split).unwrap_or(""), local.get(split..).unwrap_or(""));
        [head, a, b].iter().filter(|g| !g.is_empty()).copied().collect::<Vec<_>>().join(" ")
    }

    /// The number as a Chinese card prints it, dialled from within China: `021 6234 5678 转 8021`,
    /// `138 1234 5678`, `400 820 8820 转 2`.
    pub fn national_display(&self) -> String {
        let trunk = if self.kind == PhoneKind::Landline { "0" } else { "" };
        let mut out = format!("{trunk}{}", self.grouped_significant());
        if let Some(extension) = &self.extension {
            out.push_str(" 转 ");
            out.push_str(extension);
        }
        out
    }

    /// The number in international notation: `+86 21 6234 5678 ext. 8021`.
    pub fn international_display(&self) -> String {
        let mut out = format!("+86 {}", self.grouped_significant());
        if let Some(extension) = &self.extension {
            out.push_str(" ext. ");
            out.push_str(extension);
        }
        out
    }

    /// What a phone's dialler takes: the E.164 number, then a pause (`,`) and the extension, so
    /// the extension is dialled once the switchboard answers: `+862162345678,8021`.
    pub fn dial_string(&self) -> String {
        match &self.extension {
            Some(extension) => format!("{},{extension}", self.e164),
            None => self.e164.clone(),
        }
    }

    /// The RFC 3966 `tel:` URI, extension as its `ext` parameter: `tel:+862162345678;ext=8021`.
    pub fn tel_uri(&self) -> String {
        match &self.extension {
            Some(extension) => format!("tel:{};ext={extension}", self.e164),
            None => format!("tel:{}", self.e164),
        }
    }
}

fn phone(nsn: &str, kind: PhoneKind, extension: Option<String>) -> NormalizedPhone {
    NormalizedPhone { e164: format!("+86{nsn}"), extension, kind }
}

/// Skips a leading label (`电话：`, `tel:`, `Mobile`, `手机`): a run of letters, optionally followed
/// by a colon. Extension words only count as such after the number, so they are not labels here.
fn skip_label(text: &str) -> &str {
    let label_end = text.char_indices().find(|&(_, c)| !c.is_alphabetic()).map_or(text.len(), |(i, _)| i);
    if label_end == 0 {
        return text;
    }
    let rest = text[label_end..].trim_start();
    rest.strip_prefix(':').unwrap_or(rest).trim_start()
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')' | '[' | ']' | '/' | '\u{2010}'..='\u{2015}')
}

/// Splits `text` into the number and an explicitly marked extension (`转123`, `ext. 123`, `#123`).
/// Returns `None` when something other than an extension follows the number.
fn split_marked_extension(text: &str) -> Option<(&str, Option<String>)> {
    let marker_start = text
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '+' || is_separator(c)))
        .map(|(i, _)| i);
    let Some(marker_start) = marker_start else {
        return Some((text, None));
    };
    let (main, mut rest) = text.split_at(marker_start);

    let mut saw_marker = false;
    loop {
        let trimmed = rest.trim_start_matches(is_separator);
        if let Some(word) = EXTENSION_WORDS.iter().find(|w| trimmed.starts_with(**w)) {
            rest = &trimmed[word.len()..];
            saw_marker = true;
        } else if let Some(after) = trimmed.strip_prefix(['#', ',', ';']) {
            // `#` and the dial-string pauses `,`/`;` (as in `tel:…;ext=123`) introduce an extension.
            rest = after;
            saw_marker = true;
        } else if let Some(after) = trimmed.strip_prefix([':', '=', '号']) {
            rest = after;
        } else {
            rest = trimmed;
            break;
        }
    }
    let digits = rest.trim_end_matches(|c: char| c == ')' || c.is_whitespace());
    let valid = saw_marker
        && (1..=MAX_EXTENSION_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| (main, Some(digits.to_owned())))
}

/// Splits the number part into its digit groups; `true` when it starts with `+`.
/// Returns `None` when anything but digits and separators appears.
fn digit_groups(main: &str) -> Option<(bool, Vec<String>)> {
    // `(+86)138…`: brackets may come before the plus sign.
    let main = main.trim_start_matches(is_separator).trim_end();
    let (plus, body) = match main.strip_prefix('+') {
        Some(body) => (true, body),
        None => (false, main),
    };
    let mut groups = Vec::new();
    let mut current = String::new();
    for c in body.chars() {
        if c.is_ascii_digit() {
            current.push(c);
        } else if is_separator(c) {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else {
            return None;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    (!groups.is_empty()).then_some((plus, groups))
}

/// Reads a digit string as a Chinese number and returns its national significant number (the
/// part after `+86`) and kind.
fn parse_number(digits: &str, plus: bool) -> Option<(String, PhoneKind)> {
    if plus {
        let national = digits.strip_prefix("86")?;
        // `+86 (0)512 …`: the trunk prefix is often written after the country code.
        return parse_significant(national.strip_prefix('0').unwrap_or(national));
    }
    if let Some(national) = digits.strip_prefix("0086") {
        return parse_significant(national.strip_prefix('0').unwrap_or(national));
    }
    // `86` without a `+` is a country code only when what follows is a complete number; a
    // local number such as 86123456 must not lose its first two digits.
    if let Some(found) = digits.strip_prefix("86").and_then(parse_significant) {
        return Some(found);
    }
    match digits.strip_prefix('0') {
        // National form: trunk prefix 0, then area code. `0138…` is an old habit for mobiles.
        Some(national) => parse_significant(national),
        None => parse_significant(digits).filter(|(_, kind)| *kind != PhoneKind::Landline),
    }
}

/// Classifies a national significant number (no country code, no trunk prefix).
fn parse_significant(nsn: &str) -> Option<(String, PhoneKind)> {
    let bytes = nsn.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]) {
        return Some((nsn.to_owned(), PhoneKind::Mobile));
    }
    if bytes.len() == 10 && (nsn.starts_with("400") || nsn.starts_with("800")) {
        return Some((nsn.to_owned(), PhoneKind::Service));
    }
    // Two-digit area codes are Beijing (10) and the 2x cities; all others have three digits.
    let area_len = match bytes.first()? {
        b'1' if bytes.get(1) == Some(&b'0') => 2,
        b'2' => 2,
        b'3'..=b'9' => 3,
        _ => return None,
    };
    let local = bytes.get(area_len..)?;
    let local_ok = (7..=8).contains(&local.len()) && (b'2'..=b'9').contains(&local[0]);
    local_ok.then(|| (nsn.to_owned(), PhoneKind::Landline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e164(raw: &str) -> Option<String> {
        normalize_phone(raw).map(|p| p.e164)
    }

    #[test]
    fn mobile_numbers_in_every_common_notation_reach_the_same_key() {
        for raw in [
            "13812345678",
            "138-1234-5678",
            "138 1234 5678",
            "+86 138 1234 5678",
            "+86-13812345678",
            "+8613812345678",
            "0086 138 1234 5678",
            "8613812345678",
            "86-138-1234-5678",
            "１３８１２３４５６７８",
            "＋８６　１３８－１２３４－５６７８",
            "138.1234.5678",
            "(+86)13812345678",
            "手机：13812345678",
            "Mobile: +86 138 1234 5678",
            "tel:+86-138-1234-5678",
        ] {
            let phone = normalize_phone(raw).unwrap_or_else(|| panic!("{raw} should parse"));
            assert_eq!(phone.e164, "+8613812345678", "{raw}");
            assert_eq!(phone.kind, PhoneKind::Mobile, "{raw}");
            assert_eq!(phone.extension, None, "{raw}");
        }
    }

    #[test]
    fn landlines_with_three_and_four_digit_area_codes_parse() {
        for (raw, expected) in [
            ("0512-68888888", "+8651268888888"),
            ("(0512)68888888", "+8651268888888"),
            ("（０５１２）６８８８ ８８８８", "+8651268888888"),
            ("0512 6888 8888", "+8651268888888"),
            ("+86 512 6888 8888", "+8651268888888"),
            ("+86 (0)512 68888888", "+8651268888888"),
            ("0086-512-68888888", "+8651268888888"),
            ("8651268888888", "+8651268888888"),
            ("051268888888", "+8651268888888"),
            ("(021)52345678", "+862152345678"),
            ("+86 21 5234 5678", "+862152345678"),
            ("010-6552 9988", "+861065529988"),
            ("0574-8765432", "+865748765432"),
            ("电话:0769-22881234", "+8676922881234"),
        ] {
            let phone = normalize_phone(raw).unwrap_or_else(|| panic!("{raw} should parse"));
            assert_eq!(phone.e164, expected, "{raw}");
            assert_eq!(phone.kind, PhoneKind::Landline, "{raw}");
        }
    }

    #[test]
    fn extensions_are_kept_apart_from_the_match_key() {
        for raw in [
            "0512-68888888转123",
            "0512-68888888 转 123",
            "0512-68888888-123",
            "0512-68888888 ext. 123",
            "0512-68888888 EXT123",
            "0512-68888888x123",
            "0512-68888888 #123",
            "0512-68888888（分机123）",
            "051268888888-123",
            "+86 512 68888888 ext 123",
            "tel:+86-512-68888888;ext=123",
        ] {
            let phone = normalize_phone(raw).unwrap_or_else(|| panic!("{raw} should parse"));
            assert_eq!(phone.e164, "+8651268888888", "{raw}");
            assert_eq!(phone.extension.as_deref(), Some("123"), "{raw}");
        }
    }

    #[test]
    fn extensions_in_every_card_notation_are_read() {
        for (raw, extension) in [
            ("+86-21-6234-5678;ext=8021", "8021"),
            ("tel:+86-21-6234-5678;ext=8021", "8021"),
            ("tel:+862162345678;ext=12", "12"),
            ("021-62345678-8021", "8021"),
            ("021 6234 5678 ext. 8021", "8021"),
            ("021 6234 5678 x 102", "102"),
            ("021-62345678转8021", "8021"),
            ("021-62345678 分机 8021", "8021"),
            ("021-62345678 分机号：8021", "8021"),
            ("+862162345678,8021", "8021"),
        ] {
            let phone = normalize_phone(raw).unwrap_or_else(|| panic!("{raw} should parse"));
            assert_eq!(phone.e164, "+862162345678", "{raw}");
            assert_eq!(phone.extension.as_deref(), Some(extension), "{raw}");
        }
    }

    #[test]
    fn huge_or_garbage_extensions_are_rejected_without_panic() {
        for raw in [
            "021-62345678转1234567",
            "tel:+862162345678;ext=123456789012345678901234567890",
            "021-62345678 ext. 80a1",
            "021-62345678 ext.",
            "021-62345678转转转",
        ] {
            assert_eq!(normalize_phone(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn a_slash_between_landlines_lists_two_numbers_sharing_the_area_code() {
        let phones = normalize_phones("021 6234 5678 / 6234 5679");
        let e164s: Vec<&str> = phones.iter().map(|p| p.e164.as_str()).collect();
        assert_eq!(e164s, vec!["+862162345678", "+862162345679"]);
        let phones = normalize_phones("0512-68888888转201／68888889、13812345678");
        let keys: Vec<(&str, Option<&str>)> =
            phones.iter().map(|p| (p.e164.as_str(), p.extension.as_deref())).collect();
        assert_eq!(
            keys,
            vec![("+8651268888888", Some("201")), ("+8651268888889", None), ("+8613812345678", None)]
        );
        assert_eq!(normalize_phones("13812345678 / 68888888"), vec![normalize_phone("13812345678").unwrap()]);
        assert_eq!(normalize_phones("0512-68888888"), vec![normalize_phone("0512-68888888").unwrap()]);
    }

    #[test]
    fn numbers_are_shown_and_dialled_with_their_extension() {
        let phone = normalize_phone("tel:+86-21-6234-5678;ext=8021").unwrap();
        assert_eq!(phone.national_display(), "021 6234 5678 转 8021");
        assert_eq!(phone.international_display(), "+86 21 6234 5678 ext. 8021");
        assert_eq!(phone.dial_string(), "+862162345678,8021");
        assert_eq!(phone.tel_uri(), "tel:+862162345678;ext=8021");
        let phone = normalize_phone("0512-6888888").unwrap();
        assert_eq!(phone.national_display(), "0512 688 8888");
        assert_eq!(phone.dial_string(), "+865126888888");
        assert_eq!(normalize_phone("13812345678").unwrap().national_display(), "138 1234 5678");
        assert_eq!(
            normalize_phone("4008208820转2").unwrap().international_display(),
            "+86 400 820 8820 ext. 2"
        );
        assert_eq!(normalize_phone("010-65529988").unwrap().area_code(), "10");
    }

    #[test]
    fn a_separated_trailing_group_after_a_whole_local_number_is_an_extension() {
        let phone = normalize_phone("021-5234567-8").unwrap();
        assert_eq!(phone.e164, "+86215234567");
        assert_eq!(phone.extension.as_deref(), Some("8"));
    }

    #[test]
    fn service_numbers_keep_their_400_or_800_prefix() {
        for raw in ["400-820-8820", "4008208820", "+86 400 820 8820", "800 820 8820"] {
            let phone = normalize_phone(raw).unwrap_or_else(|| panic!("{raw} should parse"));
            assert_eq!(phone.kind, PhoneKind::Service, "{raw}");
            assert!(phone.e164.starts_with("+86400") || phone.e164.starts_with("+86800"));
        }
        let with_extension = normalize_phone("400-820-8820转2").unwrap();
        assert_eq!(with_extension.e164, "+864008208820");
        assert_eq!(with_extension.extension.as_deref(), Some("2"));
    }

    #[test]
    fn text_that_is_not_a_dialable_chinese_number_is_rejected() {
        for raw in [
            "",
            "   ",
            "hello",
            "无",
            "68888888",
            "1381234567",
            "138123456789",
            "12812345678",
            "+1 415 555 0100",
            "+852 2345 6789",
            "0512-1234567",
            "0512-688888888",
            "13812345678转123",
            "0512-68888888 转 abc",
            "wxid_13812345678",
            "13812345678 / 13912345678",
        ] {
            assert_eq!(normalize_phone(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn local_number_starting_with_86_is_not_mistaken_for_a_country_code() {
        assert_eq!(e164("86123456"), None);
        assert_eq!(e164("0512-86123456"), Some("+8651286123456".to_owned()));
    }

    fn mobile() -> impl Strategy<Value = String> {
        ("1[3-9][0-9]{9}").prop_map(|s| s)
    }

    fn landline() -> impl Strategy<Value = String> {
        prop_oneof![
            ("(10|2[0-9])", "[2-9][0-9]{7}").prop_map(|(a, l)| format!("0{a}{l}")),
            ("[3-9][0-9]{2}", "[2-9][0-9]{6,7}").prop_map(|(a, l)| format!("0{a}{l}")),
        ]
    }

    /// Writes a national number the way a rep might: prefix, grouping, separators, width.
    fn written(national: String) -> impl Strategy<Value = (String, String)> {
        let forms = (0..4usize, 0..4usize, any::<bool>(), any::<bool>());
        forms.prop_map(move |(prefix, sep, split, wide)| {
            let body = national.trim_start_matches('0');
            let sep = [" ", "-", ".", ""][sep];
            let grouped = if split && body.len() > 6 {
                let (head, tail) = body.split_at(body.len() - 4);
                format!("{head}{sep}{tail}")
            } else {
                body.to_owned()
            };
            let text = match prefix {
                0 => format!("+86{sep}{grouped}"),
                1 => format!("0086 {grouped}"),
                2 if national.starts_with('0') => format!("0{grouped}"),
                _ => format!("+86 {grouped}"),
            };
            let text = if wide {
                text.chars()
                    .map(|c| match c {
                        '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                        ' ' => '\u{3000}',
                        _ => c,
                    })
                    .collect()
            } else {
                text
            };
            (format!("+86{body}"), text)
        })
    }

    proptest! {
        // Failures are reported with their minimal input; nothing is written next to the sources.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_notation_of_a_number_gives_its_e164(
            (expected, text) in prop_oneof![mobile(), landline()].prop_flat_map(written)
        ) {
            prop_assert_eq!(e164(&text), Some(expected));
        }

        #[test]
        fn normalising_the_e164_form_again_changes_nothing(raw in "[+0-9 ()\\-]{0,20}(转[0-9]{1,4})?") {
            if let Some(first) = normalize_phone(&raw) {
                let again = normalize_phone(&first.e164).expect("an E.164 key parses");
                prop_assert_eq!(&again.e164, &first.e164);
                prop_assert_eq!(again.kind, first.kind);
                if let Some(extension) = &first.extension {
                    let with_extension = normalize_phone(&format!("{}转{extension}", first.e164));
                    prop_assert_eq!(with_extension, Some(first.clone()));
                }
            }
        }
    }
}
