//! MECARD and BIZCARD payloads: `PREFIX:KEY:value;KEY:value;;` with backslash escapes.
//!
//! Both come from Japanese feature-phone conventions and are what many Chinese QR generators and
//! trade-show badge printers emit because they fit in a smaller code than a vCard.

use super::text::{
    Escapes, default_phone_label, join_name, push_email, push_note, push_phone, set_once, split_unescaped,
    strip_prefix_ci, tel_uri_number, unescape,
};
use super::{ParsedLead, PayloadError, PayloadFormat};

/// The `KEY:value` fields of a MECARD/BIZCARD body, keys upper-cased, values still escaped.
///
/// Generators that paste a `tel:` URI into a field leave its `;ext=…` unescaped, so it arrives
/// as a field of its own without a colon; it is joined back to the field before it.
fn fields(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for field in split_unescaped(body, ';') {
        let field = field.trim();
        match field.split_once(':') {
            Some((key, value)) => out.push((key.trim().to_ascii_uppercase(), value.to_owned())),
            None => {
                let is_extension = strip_prefix_ci(field, "ext=").is_some();
                if let Some((_, value)) = out.last_mut().filter(|_| is_extension) {
                    value.push_str("\\;");
                    value.push_str(field);
                }
            }
        }
    }
    out
}

/// A phone field's number: a pasted `tel:` URI keeps only its number and extension.
fn phone_text(value: &str) -> String {
    let number = text(value);
    match strip_prefix_ci(&number, "tel:") {
        Some(uri) => tel_uri_number(uri),
        None => number,
    }
}

fn text(value: &str) -> String {
    unescape(value, Escapes::MeCard).trim().to_owned()
}

/// Parses the part after `MECARD:`.
///
/// N is "last,first" (the comma unescaped); a value without a comma is a full name. ORG and
/// TITLE are not in docomo's spec but ZXing and most generators write them.
pub(super) fn parse_mecard(body: &str) -> Result<ParsedLead, PayloadError> {
    let mut lead = ParsedLead::empty(PayloadFormat::MeCard);
    for (key, value) in &fields(body) {
        let value = value.as_str();
        match key.as_str() {
            "N" if lead.name.is_none() => {
                let parts = split_unescaped(value, ',');
                let last = parts.first().map(|p| text(p)).unwrap_or_default();
                let first = parts.get(1).map(|p| text(p)).unwrap_or_default();
                lead.name = join_name(&last, &first, "", "", "");
            }
            "TEL" => {
                let number = phone_text(value);
                push_phone(&mut lead, default_phone_label(&number), &number);
            }
            "EMAIL" => push_email(&mut lead, &text(value)),
            "ORG" => set_once(&mut lead.company, &text(value)),
            "TITLE" => set_once(&mut lead.title, &text(value)),
            "ADR" => set_once(&mut lead.address, &text(value)),
            "URL" => set_once(&mut lead.website, &text(value)),
            "NOTE" => push_note(&mut lead, &text(value)),
            _ => {}
        }
    }
    lead.require_contact()
}

/// Parses the part after `BIZCARD:`: N first name, X last name, T title, C company, A address,
/// B business phone, M mobile, F fax, E e-mail.
pub(super) fn parse_bizcard(body: &str) -> Result<ParsedLead, PayloadError> {
    let mut lead = ParsedLead::empty(PayloadFormat::BizCard);
    let mut first = String::new();
    let mut last = String::new();
    for (key, value) in &fields(body) {
        let value = value.as_str();
        match key.as_str() {
            "N" if first.is_empty() => first = text(value),
            "X" if last.is_empty() => last = text(value),
            "T" => set_once(&mut lead.title, &text(value)),
            "C" => set_once(&mut lead.company, &text(value)),
            "A" => set_once(&mut lead.address, &text(value)),
            "B" => push_phone(&mut lead, "work", &phone_text(value)),
            "M" => push_phone(&mut lead, "cell", &phone_text(value)),
            "F" => push_phone(&mut lead, "fax", &phone_text(value)),
            "E" => push_email(&mut lead, &text(value)),
            _ => {}
        }
    }
    lead.name = join_name(&last, &first, "", "", "");
    lead.require_contact()
}
