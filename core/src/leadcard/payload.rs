//! Entry points: limits, text decoding of raw bytes, and recognising which format a payload is.

use encoding_rs::Encoding;

use super::text::{physical_lines, strip_prefix_ci};
use super::{MAX_PAYLOAD_BYTES, MAX_PAYLOAD_LINES, ParsedLead, PayloadError};
use super::{link, mecard, plain, vcard};

/// Parses the text of a scanned QR code into lead fields.
///
/// The format is recognised from the start of the payload (`BEGIN:VCARD`, `MECARD:`, `BIZCARD:`,
/// a single link) and anything else is plain text. Fails on empty payloads, payloads over
/// [`MAX_PAYLOAD_BYTES`] or [`MAX_PAYLOAD_LINES`], and cards that yield no contact at all.
pub fn parse_payload(raw: &str) -> Result<ParsedLead, PayloadError> {
    check_size(raw.len())?;
    parse_text(raw)
}

/// Parses the raw bytes of a scanned QR code, for scanners that hand over bytes rather than text.
///
/// QR codes made by Chinese software often carry GBK without saying so. The text encoding is
/// chosen in this order: a byte-order mark; valid UTF-8; a `CHARSET=` parameter in the payload
/// (vCard 2.1); GB18030 (which covers GBK and GB2312); Big5; Shift_JIS. Undeclared Big5 that
/// also happens to be valid GBK is read as GBK — the two cannot be told apart reliably, and
/// mainland cards are the common case. Bytes valid in none of these fail with
/// [`PayloadError::NotText`].
pub fn parse_payload_bytes(raw: &[u8]) -> Result<ParsedLead, PayloadError> {
    if raw.is_empty() {
        return Err(PayloadError::Empty);
    }
    check_size(raw.len())?;
    let text = decode_bytes(raw)?;
    parse_text(&text)
}

fn check_size(bytes: usize) -> Result<(), PayloadError> {
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge { bytes, limit: MAX_PAYLOAD_BYTES });
    }
    Ok(())
}

fn decode_bytes(raw: &[u8]) -> Result<String, PayloadError> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(raw) {
        let body = raw.get(bom_len..).unwrap_or_default();
        return encoding
            .decode_without_bom_handling_and_without_replacement(body)
            .map(|text| text.into_owned())
            .ok_or(PayloadError::NotText);
    }
    if let Ok(text) = std::str::from_utf8(raw) {
        return Ok(text.to_owned());
    }
    let declared = declared_charset(raw);
    let candidates =
        declared.into_iter().chain([encoding_rs::GB18030, encoding_rs::BIG5, encoding_rs::SHIFT_JIS]);
    for encoding in candidates {
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(raw) {
            return Ok(text.into_owned());
        }
    }
    Err(PayloadError::NotText)
}

/// The first `CHARSET=` parameter in the payload, found by an ASCII scan (the parameter itself is
/// ASCII in every encoding concerned).
fn declared_charset(raw: &[u8]) -> Option<&'static Encoding> {
    const KEY: &[u8] = b"CHARSET=";
    let at = raw.windows(KEY.len()).position(|w| w.eq_ignore_ascii_case(KEY))?;
    let value = raw.get(at + KEY.len()..)?;
    let len = value.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')).count();
    Encoding::for_label(value.get(..len)?)
}

/// Applies the line limit, then dispatches on the start of the payload.
fn parse_text(raw: &str) -> Result<ParsedLead, PayloadError> {
    // `nth` stops counting as soon as the limit is passed.
    if physical_lines(raw).nth(MAX_PAYLOAD_LINES).is_some() {
        return Err(PayloadError::TooManyLines { limit: MAX_PAYLOAD_LINES });
    }
    let payload = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if payload.is_empty() {
        return Err(PayloadError::Empty);
    }
    if strip_prefix_ci(payload, "BEGIN:VCARD").is_some() {
        return vcard::parse_vcard(payload);
    }
    if let Some(body) = strip_prefix_ci(payload, "MECARD:") {
        return mecard::parse_mecard(body);
    }
    if let Some(body) = strip_prefix_ci(payload, "BIZCARD:") {
        return mecard::parse_bizcard(body);
    }
    if let Some(parsed) = link::parse_link(payload) {
        return parsed;
    }
    Ok(plain::parse_plain_text(payload))
}
