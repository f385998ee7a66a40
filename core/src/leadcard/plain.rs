//! Plain-text payloads, and the hand-written scanners that find phone numbers, e-mail addresses
//! and web links in free text (no regex engine: the core stays small on phones, and these scanners
//! are linear in the input).

use super::text::{MAX_EXTENSION_DIGITS, non_empty, push_email, push_phone, strip_prefix_ci};
use super::{ParsedLead, PayloadFormat};
use crate::dedup::{PhoneKind, normalize_phone};

/// What a string of digits is as a Chinese (or international) phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumberKind {
    /// Mainland mobile: `1[3-9]` + 9 digits, optionally after +86 / 0086.
    Mobile,
    /// Mainland landline with area code (`0512-68888888`, `+86 10 12345678`) or a 400/800
    /// service number.
    Landline,
    /// Any other `+`-prefixed number of 8–15 digits.
    International,
}

/// Classifies the digits of a written number (separators, `+` and full-width digits allowed).
pub(super) fn classify_number(written: &str) -> Option<NumberKind> {
    let plus = written.trim_start().starts_with(['+', '＋']);
    let digits: String = written.chars().filter_map(ascii_digit).collect();
    classify_digits(&digits, plus)
}

/// ASCII digit for an ASCII or full-width digit character.
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
        _ => None,
    }
}

fn classify_digits(digits: &str, plus: bool) -> Option<NumberKind> {
    let (national, had_country_code) = if let Some(rest) = digits.strip_prefix("0086") {
        (rest, true)
    } else if plus {
        match digits.strip_prefix("86") {
            Some(rest) => (rest, true),
            None => {
                return (8..=15).contains(&digits.len()).then_some(NumberKind::International);
            }
        }
    } else if digits.len() == 13 && digits.starts_with("861") {
        // "86 138…" written without the plus.
        (digits.get(2..).unwrap_or(""), true)
    } else {
        (digits, false)
    };
    let bytes = national.as_bytes();
    let len = bytes.len();
    match bytes {
        [b'1', b'3'..=b'9', ..] if len == 11 => Some(NumberKind::Mobile),
        [b'0', b'1'..=b'9', ..] if (10..=12).contains(&len) => Some(NumberKind::Landline),
        [b'4' | b'8', b'0', b'0', ..] if len == 10 => Some(NumberKind::Landline),
        // After +86 the trunk 0 is dropped: 10 (Beijing) or a 2–3 digit area code + 7–8 digits.
        [b'1', b'0', ..] if had_country_code && len == 10 => Some(NumberKind::Landline),
        [b'2'..=b'9', ..] if had_country_code && (9..=11).contains(&len) => Some(NumberKind::Landline),
        _ => None,
    }
}

/// Characters that may sit between the digit groups of one written number.
fn is_phone_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '／' | '\u{3000}' | '－' | '（' | '）' | '‐' | '–')
}

/// One maximal run of digits inside a candidate phone run.
struct DigitGroup {
    start: usize,
    end: usize,
    digits: String,
}

/// Phone numbers found in free text, with labels: `cell` for mainland mobiles, `fax` when the
/// number follows 传真/fax, `other` otherwise.
///
/// Text is cut into runs of digits and separators; within a run the longest sequence of whole
/// digit groups that forms a valid number is taken, so digits inside a longer number (an order
/// number) are never matched. An extension written after a landline (`-801`, `转801`, `分机 801`,
/// `ext. 801`, `x 102`, `#801`) stays with it: `0512-68888888-801` is found whole. A local number
/// after a slash (`021 6234 5678 / 6234 5679`) is a second number with the first one's area code,
/// found as `021 6234 5679`.
pub(super) fn find_phones(text: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let mut groups: Vec<DigitGroup> = Vec::new();
    let mut run_start: Option<usize> = None;
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), '\n'))) {
        if let Some(d) = ascii_digit(c) {
            run_start.get_or_insert(at);
            match groups.last_mut() {
                Some(group) if group.end == at => {
                    group.end = at + c.len_utf8();
                    group.digits.push(d);
                }
                _ => groups.push(DigitGroup { start: at, end: at + c.len_utf8(), digits: d.to_string() }),
            }
        } else if run_start.is_none() && matches!(c, '+' | '＋' | '(' | '（') {
            run_start = Some(at);
        } else if !(run_start.is_some() && (is_phone_separator(c) || matches!(c, '+' | '＋'))) {
            if let Some(start) = run_start.take() {
                collect_numbers(text, start, &groups, &mut found);
            }
            groups.clear();
        }
    }
    found
}

/// Words that introduce an extension after a number, longest first (`ext.` before `ext`).
const EXTENSION_MARKERS: &[&str] = &["extension", "ext.", "ext", "分机号", "分机", "转", "x", "#"];

/// How many leading characters of `text` are digits, and how many bytes they take.
fn leading_digits(text: &str) -> (usize, usize) {
    text.chars().take_while(|c| ascii_digit(*c).is_some()).fold((0, 0), |(n, b), c| (n + 1, b + c.len_utf8()))
}

/// Where an extension written right after a number that ends at `end` ends, or `None` when none
/// follows: `-801` directly after the number (but not `-2024-05`, a longer digit string), or a
/// marker (`转`, `分机`, `ext.`, `x`, `#`, optionally in brackets: `（分机123）`) and 1–6 digits.
fn extension_end(text: &str, end: usize) -> Option<usize> {
    let rest = text.get(end..)?;
    if let Some(after) = rest.strip_prefix(['-', '－']) {
        let (count, bytes) = leading_digits(after);
        let tail = after.get(bytes..).unwrap_or("");
        let continues = tail
            .strip_prefix(['-', '－', '.'])
            .is_some_and(|t| t.chars().next().and_then(ascii_digit).is_some());
        let valid = (1..=MAX_EXTENSION_DIGITS).contains(&count) && !continues;
        return valid.then(|| text.len() - tail.len());
    }
    let spaces = |t: &str| t.trim_start_matches([' ', '\u{3000}']).len();
    let after_space = rest.get(rest.len() - spaces(rest)..)?;
    let (bracketed, inner) = match after_space.strip_prefix(['(', '（']) {
        Some(inner) => (true, inner.get(inner.len() - spaces(inner)..)?),
        None => (false, after_space),
    };
    let after_marker = EXTENSION_MARKERS.iter().find_map(|marker| strip_prefix_ci(inner, marker))?;
    let digits_start = after_marker.trim_start_matches([' ', '\u{3000}', ':', '：', '.', '=']);
    let (count, bytes) = leading_digits(digits_start);
    if !(1..=MAX_EXTENSION_DIGITS).contains(&count) {
        return None;
    }
    let mut tail = digits_start.get(bytes..)?;
    if bracketed {
        let closed = tail.trim_start_matches([' ', '\u{3000}']);
        if let Some(after_bracket) = closed.strip_prefix([')', '）']) {
            tail = after_bracket;
        }
    }
    Some(text.len() - tail.len())
}

/// Picks numbers out of one run's digit groups (see [`find_phones`]).
fn collect_numbers(
    text: &str,
    run_start: usize,
    groups: &[DigitGroup],
    found: &mut Vec<(&'static str, String)>,
) {
    // E.164 allows 15 digits; with a 0086 prefix, 19.
    const MAX_DIGITS: usize = 19;
    let mut first = 0;
    while let Some(head) = groups.get(first) {
        let lead_in = if first == 0 { text.get(run_start..head.start).unwrap_or("") } else { "" };
        let plus = lead_in.contains(['+', '＋']);
        let mut digits = String::new();
        let mut best: Option<(usize, NumberKind)> = None;
        for (offset, group) in groups.iter().skip(first).enumerate() {
            digits.push_str(&group.digits);
            if digits.len() > MAX_DIGITS {
                break;
            }
            if let Some(kind) = classify_digits(&digits, plus) {
                best = Some((first + offset, kind));
            }
        }
        let Some((last, kind)) = best else {
            first += 1;
            continue;
        };
        let start = match lead_in.find(['+', '＋', '(', '（']) {
            Some(at) => run_start + at,
            None => head.start,
        };
        let number_end = groups.get(last).map_or(head.end, |g| g.end);
        let label = match kind {
            NumberKind::Mobile => "cell",
            _ if follows_fax_keyword(text, start) => "fax",
            _ => "other",
        };
        // Mobiles have no extensions; digits after one are something else.
        let with_extension = |end: usize| match kind {
            NumberKind::Mobile => end,
            _ => extension_end(text, end).unwrap_or(end),
        };
        let end = with_extension(number_end);
        if let Some(number) = text.get(start..end) {
            found.push((label, number.to_owned()));
        }
        let mut next = groups.iter().position(|g| g.start >= end).unwrap_or(groups.len());

        // `021 6234 5678 / 6234 5679 / 6234 5680`: local numbers sharing the area code.
        let area =
            text.get(start..number_end).and_then(normalize_phone).filter(|p| p.kind == PhoneKind::Landline);
        if let Some(area) = area.as_ref().map(|p| p.area_code().to_owned()) {
            let mut previous_end = end;
            while let Some((local_start, local_last)) = slashed_local_number(text, groups, next, previous_end)
            {
                let local_end = groups[local_last].end;
                let end = with_extension(local_end);
                let local = text.get(groups[local_start].start..end).unwrap_or("");
                found.push((label, format!("0{area} {local}")));
                previous_end = end;
                next = groups.iter().position(|g| g.start >= end).unwrap_or(groups.len());
            }
        }
        first = next;
    }
}

/// The groups `[from, last]` of a 7–8 digit local number written after a `/` that follows the
/// previous number (which ended at `previous_end`), or `None`.
fn slashed_local_number(
    text: &str,
    groups: &[DigitGroup],
    from: usize,
    previous_end: usize,
) -> Option<(usize, usize)> {
    let head = groups.get(from)?;
    let between = text.get(previous_end..head.start)?;
    if !between.contains(['/', '／']) || !between.chars().all(|c| is_phone_separator(c) || c == '／') {
        return None;
    }
    if !matches!(head.digits.as_bytes().first(), Some(b'2'..=b'9')) {
        return None;
    }
    let mut digits = 0;
    let mut local = None;
    for (index, group) in groups.iter().enumerate().skip(from) {
        let after_slash = index > from
            && text.get(groups[index - 1].end..group.start).is_none_or(|s| s.contains(['/', '／']));
        digits += group.digits.len();
        if after_slash || digits > 8 {
            break;
        }
        if digits >= 7 {
            local = Some((from, index));
        }
    }
    local
}

/// Whether the dozen characters before `at`, on the same line, name a fax (传真, Fax).
fn follows_fax_keyword(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or("");
    let window_start = before.char_indices().rev().nth(11).map_or(0, |(index, _)| index);
    let window = before.get(window_start..).unwrap_or("");
    let line = window.rsplit('\n').next().unwrap_or(window);
    line.contains("传真") || line.to_ascii_lowercase().contains("fax")
}

fn is_email_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_email_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// E-mail addresses found in free text: ASCII local part and domain around each `@`, with a
/// dotted domain whose last label is at least two letters.
pub(super) fn find_emails(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let (Some(before), Some(after)) = (text.get(..at), text.get(at + 1..)) else {
            continue;
        };
        let local_len: usize =
            before.chars().rev().take_while(|c| is_email_local_char(*c)).map(char::len_utf8).sum();
        let domain_len: usize =
            after.chars().take_while(|c| is_email_domain_char(*c)).map(char::len_utf8).sum();
        let local =
            before.get(before.len().saturating_sub(local_len)..).unwrap_or("").trim_start_matches('.');
        let domain = after.get(..domain_len).unwrap_or("").trim_end_matches(['.', '-']);
        if local.is_empty() || !is_plausible_domain(domain) {
            continue;
        }
        let start = at.saturating_sub(local.len());
        let end = at + 1 + domain.len();
        if let Some(email) = text.get(start..end) {
            found.push(email);
        }
    }
    found
}

fn is_plausible_domain(domain: &str) -> bool {
    let mut labels = domain.split('.');
    let tld = labels.next_back().unwrap_or("");
    domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// The first `http://` or `https://` link in free text, up to the first character that cannot
/// be part of a URL (whitespace, CJK punctuation, quotes).
pub(super) fn find_web_link(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let start = [lower.find("https://"), lower.find("http://")].into_iter().flatten().min()?;
    let rest = text.get(start..)?;
    let len: usize = rest
        .chars()
        .take_while(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\'' | '`'))
        .map(char::len_utf8)
        .sum();
    let link = rest.get(..len)?.trim_end_matches(['.', ',', ';', ')', ']']);
    let host = strip_prefix_ci(link, "https://").or_else(|| strip_prefix_ci(link, "http://"))?;
    (!host.is_empty()).then_some(link)
}

/// Plain text: keeps the whole text as the note and extracts what it can.
pub(super) fn parse_plain_text(text: &str) -> ParsedLead {
    let mut lead = ParsedLead::empty(PayloadFormat::PlainText);
    lead.note = non_empty(text);
    for (label, number) in find_phones(text) {
        push_phone(&mut lead, label, &number);
    }
    for email in find_emails(text) {
        push_email(&mut lead, email);
    }
    lead.website = find_web_link(text).map(str::to_owned);
    lead
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_classified_by_their_digits() {
        use NumberKind::*;
        for (written, kind) in [
            ("13812345678", Some(Mobile)),
            ("+86 138 1234 5678", Some(Mobile)),
            ("0086-13812345678", Some(Mobile)),
            ("１３８１２３４５６７８", Some(Mobile)),
            ("12812345678", None),
            ("0512-68888888", Some(Landline)),
            ("010-12345678", Some(Landline)),
            ("+86 10 1234 5678", Some(Landline)),
            ("+86-512-6888-8888", Some(Landline)),
            ("400-820-8820", Some(Landline)),
            ("+1 212 555 1212", Some(International)),
            ("2024-05-12", None),
            ("68888888", None),
        ] {
            assert_eq!(classify_number(written), kind, "{written}");
        }
    }

    #[test]
    fn phones_are_found_in_business_card_text() {
        let text = "张经理 手机：138 1234 5678 电话：0512-6888 8888-801\n传真：(0512)68888889 \
                    订单号 2024051213812345678 Tel +86 10 8888 6666";
        let found = find_phones(text);
        let found: Vec<(&str, &str)> = found.iter().map(|(l, n)| (*l, n.as_str())).collect();
        assert_eq!(
            found,
            vec![
                ("cell", "138 1234 5678"),
                ("other", "0512-6888 8888-801"),
                ("fax", "(0512)68888889"),
                ("other", "+86 10 8888 6666"),
            ]
        );
    }

    #[test]
    fn adjacent_numbers_separated_by_spaces_are_both_found() {
        let owned = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            pairs.iter().map(|(l, n)| (*l, (*n).to_owned())).collect()
        };
        assert_eq!(
            find_phones("13812345678 13987654321"),
            owned(&[("cell", "13812345678"), ("cell", "13987654321")])
        );
        assert_eq!(find_phones("手机13812345678。"), owned(&[("cell", "13812345678")]));
    }

    #[test]
    fn emails_are_found_and_junk_around_them_is_not() {
        assert_eq!(
            find_emails("邮箱：zhang.san@example.com.cn。备用 sales-01@163.com, x@y, @@ a@b.c1"),
            vec!["zhang.san@example.com.cn", "sales-01@163.com"]
        );
    }

    #[test]
    fn web_link_stops_at_cjk_punctuation() {
        assert_eq!(
            find_web_link("官网：https://www.example.cn/about，欢迎"),
            Some("https://www.example.cn/about")
        );
        assert_eq!(find_web_link("http:// nothing"), None);
    }
}
