//! Text primitives the card parsers share: transfer encodings, charsets, escapes, CJK-aware
//! name and address joining, and phone/e-mail collection.

use std::borrow::Cow;

use encoding_rs::Encoding;

use super::{LabeledValue, ParsedLead, plain};

/// Case-insensitive ASCII prefix strip that cannot split a UTF-8 character.
pub(super) fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) { text.get(prefix.len()..) } else { None }
}

/// Splits text into physical lines on CRLF, LF or a lone CR; a final line break does not start an
/// extra empty line.
pub(super) fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            None => Some(std::mem::take(&mut rest)),
            Some(at) => {
                let (line, after) = rest.split_at_checked(at)?;
                let skip = if after.starts_with("\r\n") { 2 } else { 1 };
                rest = after.get(skip..).unwrap_or("");
                Some(line)
            }
        }
    })
}

/// Decodes quoted-printable (RFC 2045) leniently: `=XX` is a byte, `=` before a line break is a
/// soft break, any other `=` is kept literally because generators often forget to encode it.
pub(super) fn decode_quoted_printable(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n' | b'\r'), _) => i += 2,
            (Some(&hi), Some(&lo)) => match (hex_value(hi), hex_value(lo)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            _ => {
                // A trailing `=` is a soft break at the end of the value.
                i += 1;
            }
        }
    }
    out
}

/// Value of one ASCII hex digit.
pub(super) fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes base64 (standard or URL-safe alphabet, padding optional, whitespace ignored).
/// Returns `None` on any other character or a dangling 6-bit tail.
pub(super) fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut sextets = 0usize;
    for b in value.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6 | u32::from(v)) & 0xFF_FFFF;
        bits += 6;
        sextets += 1;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    if sextets % 4 == 1 {
        return None;
    }
    Some(out)
}

/// Turns the bytes of a decoded QP/base64 value into text.
///
/// A declared CHARSET is tried first; when it is missing, unknown or wrong (cards labelled UTF-8
/// that hold GBK are common), UTF-8 and then GB18030 (a superset of GBK and GB2312) are tried,
/// and only then is the text decoded with replacement characters.
pub(super) fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    let declared = charset.and_then(|label| Encoding::for_label(label.trim().as_bytes()));
    if let Some(encoding) = declared
        && let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes)
    {
        return text.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    if let Some(text) = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
        return text.into_owned();
    }
    let (text, _) = declared.unwrap_or(encoding_rs::UTF_8).decode_without_bom_handling(bytes);
    text.into_owned()
}

/// Which backslash escapes a format defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escapes {
    /// vCard: `\n`/`\N` is a line break, `\,` `\;` `\\` `\:` stand for themselves.
    VCard,
    /// MECARD/BIZCARD: a backslash makes the next character literal.
    MeCard,
}

/// Removes backslash escapes. Unknown vCard escapes keep their backslash, so that
/// `C:\Users` in a 2.1 note (which has no escaping) survives.
pub(super) fn unescape(value: &str, escapes: Escapes) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match (chars.next(), escapes) {
            (None, _) => out.push('\\'),
            (Some('n' | 'N'), Escapes::VCard) => out.push('\n'),
            (Some(e @ (',' | ';' | '\\' | ':')), Escapes::VCard) => out.push(e),
            (Some(other), Escapes::VCard) => {
                out.push('\\');
                out.push(other);
            }
            (Some(other), Escapes::MeCard) => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// Splits on `separator` where it is not preceded by an escaping backslash; pieces keep their
/// escapes for [`unescape`].
pub(super) fn split_unescaped(value: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (at, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            pieces.push(value.get(start..at).unwrap_or(""));
            start = at + c.len_utf8();
        }
    }
    pieces.push(value.get(start..).unwrap_or(""));
    pieces
}

/// Trims and drops empty strings, for optional fields.
pub(super) fn non_empty(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Sets a field only if it is still empty: the first occurrence on a card wins.
pub(super) fn set_once(field: &mut Option<String>, value: &str) {
    if field.is_none() {
        *field = non_empty(value);
    }
}

/// Whether the character belongs to a script written without spaces between family and given
/// name (Han, kana, Hangul).
pub(super) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{3134F}' // CJK Extensions B–G
    )
}

fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Joins structured name parts: 张 + 三 → "张三"; John + Smith → "John Smith".
pub(super) fn join_name(
    family: &str,
    given: &str,
    additional: &str,
    prefix: &str,
    suffix: &str,
) -> Option<String> {
    let [family, given, additional, prefix, suffix] =
        [family, given, additional, prefix, suffix].map(str::trim);
    let joined = if has_cjk(family) || has_cjk(given) {
        [family, given, additional].concat()
    } else {
        [prefix, given, additional, family, suffix]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    non_empty(&joined)
}

/// Joins vCard ADR components (PO box, extended, street, locality, region, postal code,
/// country) into one line: largest to smallest without separators for CJK addresses
/// (中国江苏省苏州市…), smallest to largest with commas otherwise. Components a CJK street
/// already contains (region or city repeated in the street line) are not repeated.
pub(super) fn join_address(components: &[String]) -> Option<String> {
    let part = |i: usize| components.get(i).map_or("", |s| s.trim());
    let (po_box, extended, street, locality, region, postal, country) =
        (part(0), part(1), part(2), part(3), part(4), part(5), part(6));
    let joined = if components.iter().any(|c| has_cjk(c)) {
        let mut line = String::new();
        for piece in [country, region, locality] {
            if !street.contains(piece) && !extended.contains(piece) {
                line.push_str(piece);
            }
        }
        for piece in [street, extended, po_box] {
            line.push_str(piece);
        }
        if !postal.is_empty() {
            line.push(' ');
            line.push_str(postal);
        }
        line
    } else {
        let region_postal =
            [region, postal].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
        [po_box, extended, street, locality, region_postal.as_str(), country]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    non_empty(&joined)
}

/// Label for a number the card did not label: mainland mobile numbers are plainly mobiles.
pub(super) fn default_phone_label(number: &str) -> &'static str {
    // The digits of a `;ext=` are not part of the number.
    match plain::classify_number(number.split(';').next().unwrap_or(number)) {
        Some(plain::NumberKind::Mobile) => "cell",
        _ => "other",
    }
}

/// Longest extension kept from a card; the duplicate check reads no longer ones either.
pub(super) const MAX_EXTENSION_DIGITS: usize = 6;

/// The number of an RFC 3966 `tel:` URI body (the part after `tel:`), with its extension kept
/// in the URI's own notation: `+86-21-6234-5678;ext=8021` stays so, `+86-21-6234-5678;
/// phone-context=…` loses the other parameters. An `ext` that is not 1–6 digits (visual
/// separators allowed) cannot be dialled and is dropped; the switchboard number is still kept.
pub(super) fn tel_uri_number(body: &str) -> String {
    let mut parts = body.split(['?', '#']).next().unwrap_or("").split(';');
    let number = percent_decode(parts.next().unwrap_or("")).trim().to_owned();
    let extension = parts.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("ext").then(|| percent_decode(value))
    });
    let extension: Option<String> = extension.and_then(|ext| {
        let digits: String = ext.chars().filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' ')).collect();
        let valid =
            (1..=MAX_EXTENSION_DIGITS).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        valid.then_some(digits)
    });
    match extension {
        Some(extension) if !number.is_empty() => format!("{number};ext={extension}"),
        _ => number,
    }
}

/// Adds a phone unless empty or already present (cards often repeat a number under two labels;
/// the first label wins).
///
/// A value listing several numbers with a slash (`021 6234 5678 / 6234 5679`) adds each of them,
/// as [`plain::find_phones`] reads them.
pub(super) fn push_phone(lead: &mut ParsedLead, label: &str, number: &str) {
    let number = number.trim();
    if number.contains(['/', '／']) {
        let listed = plain::find_phones(number);
        if listed.len() >= 2 {
            for (_, each) in listed {
                push_one_phone(lead, label, &each);
            }
            return;
        }
    }
    push_one_phone(lead, label, number);
}

fn push_one_phone(lead: &mut ParsedLead, label: &str, number: &str) {
    let number = number.trim();
    if number.is_empty() || lead.phones.iter().any(|p| p.value == number) {
        return;
    }
    lead.phones.push(LabeledValue { label: label.to_owned(), value: number.to_owned() });
}

/// Adds an e-mail address unless empty or already present (case-insensitively).
pub(super) fn push_email(lead: &mut ParsedLead, email: &str) {
    let email = email.trim();
    let email = strip_prefix_ci(email, "mailto:").unwrap_or(email).trim();
    if email.is_empty() || lead.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
        return;
    }
    lead.emails.push(email.to_owned());
}

/// Appends a paragraph to the note.
pub(super) fn push_note(lead: &mut ParsedLead, note: &str) {
    let Some(note) = non_empty(note) else {
        return;
    };
    match &mut lead.note {
        Some(existing) => {
            existing.push('\n');
            existing.push_str(&note);
        }
        None => lead.note = Some(note),
    }
}

/// Decodes `%XX` escapes of a URI component; invalid escapes stay as written.
pub(super) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex_value), bytes.get(i + 2).copied().and_then(hex_value))
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_decodes_escapes_soft_breaks_and_stray_equals() {
        assert_eq!(decode_quoted_printable("=E5=BC=A0"), "张".as_bytes());
        assert_eq!(decode_quoted_printable("a=\r\nb=\nc="), b"abc");
        assert_eq!(decode_quoted_printable("1+1=2 =ZZ"), b"1+1=2 =ZZ");
    }

    #[test]
    fn base64_decodes_with_and_without_padding_and_rejects_garbage() {
        assert_eq!(decode_base64("5byg5LiJ").as_deref(), Some("张三".as_bytes()));
        assert_eq!(decode_base64("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_base64("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_base64("a GsK\n").as_deref(), Some(&b"hk\n"[..]));
        assert_eq!(decode_base64("a"), None);
        assert_eq!(decode_base64("ab!c"), None);
    }

    #[test]
    fn charset_falls_back_from_a_wrong_label_to_gbk() {
        let (gbk, _, _) = encoding_rs::GBK.encode("张三");
        assert_eq!(decode_charset(&gbk, Some("UTF-8")), "张三");
        assert_eq!(decode_charset(&gbk, None), "张三");
        assert_eq!(decode_charset(&gbk, Some("x-unknown")), "张三");
        assert_eq!(decode_charset(&gbk, Some("GB2312")), "张三");
    }

    #[test]
    fn unescape_and_split_respect_backslashes() {
        assert_eq!(unescape(r"a\,b\;c\nd\\e", Escapes::VCard), "a,b;c\nd\\e");
        assert_eq!(unescape(r"C:\Users", Escapes::VCard), r"C:\Users");
        assert_eq!(unescape(r"a\:b\\", Escapes::MeCard), r"a:b\");
        assert_eq!(split_unescaped(r"a;b\;c;", ';'), vec!["a", r"b\;c", ""]);
    }

    #[test]
    fn names_join_without_space_for_cjk_and_with_space_for_latin() {
        assert_eq!(join_name("张", "三", "", "", "").as_deref(), Some("张三"));
        assert_eq!(join_name("Smith", "John", "", "Dr.", "").as_deref(), Some("Dr. John Smith"));
        assert_eq!(join_name(" ", "", "", "", ""), None);
    }

    #[test]
    fn addresses_follow_the_order_of_their_script() {
        let cjk: Vec<String> =
            ["", "", "星湖街328号", "苏州市", "江苏省", "215000", "中国"].map(String::from).to_vec();
        assert_eq!(join_address(&cjk).as_deref(), Some("中国江苏省苏州市星湖街328号 215000"));
        let repeated: Vec<String> =
            ["", "", "江苏省苏州市星湖街328号", "苏州市", "江苏省"].map(String::from).to_vec();
        assert_eq!(join_address(&repeated).as_deref(), Some("江苏省苏州市星湖街328号"));
        let latin: Vec<String> =
            ["", "", "76 9th Ave", "New York", "NY", "10011", "USA"].map(String::from).to_vec();
        assert_eq!(join_address(&latin).as_deref(), Some("76 9th Ave, New York, NY 10011, USA"));
    }

    #[test]
    fn physical_lines_split_on_every_line_break_style() {
        let lines: Vec<_> = physical_lines("a\r\nb\nc\rd\n").collect();
        assert_eq!(lines, vec!["a", "b", "c", "d"]);
        assert_eq!(physical_lines("\n\n").count(), 2);
    }
}
