//! vCard 2.1, 3.0 and 4.0 payloads.
//!
//! One lenient reader for all three versions: the 2.1 features (bare parameters such as
//! `TEL;WORK;VOICE`, quoted-printable with soft line breaks, CHARSET) show up in cards that claim
//! 3.0, and 4.0 cards borrow 3.0 habits, so the reader accepts every form in every version and
//! uses VERSION only to report it. Lines it cannot read are skipped; only a broken base64 text
//! value, an impossible VERSION or a card with no contact fields is an error.

use super::text::{
    Escapes, decode_base64, decode_charset, decode_quoted_printable, default_phone_label, join_address,
    join_name, non_empty, physical_lines, push_email, push_note, push_phone, set_once, split_unescaped,
    strip_prefix_ci, tel_uri_number, unescape,
};
use super::{ParsedLead, PayloadError, PayloadFormat, VCardVersion};

/// One property after unfolding, with the physical line it started on (for error messages).
struct LogicalLine {
    text: String,
    number: usize,
    /// Whether the header says QUOTED-PRINTABLE, which makes a trailing `=` a soft line break.
    quoted_printable: bool,
}

/// Joins folded lines (a line starting with space or tab continues the previous one, minus that
/// one whitespace character) and quoted-printable soft line breaks (a QP value ending in `=`
/// continues on the next line, which 2.1 writers do not indent). Blank lines are dropped.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines: Vec<LogicalLine> = Vec::new();
    for (index, line) in physical_lines(text).enumerate() {
        if let Some(current) = lines.last_mut() {
            let soft_break = current.quoted_printable
                && current.text.ends_with('=')
                && !line.trim().eq_ignore_ascii_case("END:VCARD");
            if soft_break {
                current.text.pop();
                current.text.push_str(line);
                continue;
            }
            if let Some(continuation) = line.strip_prefix([' ', '\t']) {
                current.text.push_str(continuation);
                continue;
            }
        }
        let line = line.trim_start();
        if line.trim_end().is_empty() {
            continue;
        }
        let quoted_printable = split_header(line)
            .is_some_and(|(header, _)| header.to_ascii_uppercase().contains("QUOTED-PRINTABLE"));
        lines.push(LogicalLine { text: line.to_owned(), number: index + 1, quoted_printable });
    }
    lines
}

/// Splits `NAME;PARAMS:value` at the first colon outside double quotes (4.0 parameter values may
/// be quoted and contain colons). Falls back to the first colon if quotes are unbalanced.
fn split_header(line: &str) -> Option<(&str, &str)> {
    let mut in_quotes = false;
    for (at, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ':' if !in_quotes => return Some((line.get(..at)?, line.get(at + 1..)?)),
            _ => {}
        }
    }
    line.split_once(':')
}

/// Splits a header on `;` outside double quotes.
fn split_params(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (at, c) in header.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                parts.push(header.get(start..at).unwrap_or(""));
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(header.get(start..).unwrap_or(""));
    parts
}

/// How a value is transfer-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    QuotedPrintable,
    Base64,
}

/// The parameters fieldsync uses.
#[derive(Debug, Default)]
struct Params {
    /// TYPE values and 2.1 bare parameters, lower-cased.
    types: Vec<String>,
    encoding: Option<TransferEncoding>,
    charset: Option<String>,
    /// `VALUE=uri` (4.0 `TEL;VALUE=uri:tel:…`).
    uri_value: bool,
}

impl Params {
    fn add(&mut self, param: &str) {
        let param = param.trim();
        let Some((key, value)) = param.split_once('=') else {
            // 2.1 bare parameter: an encoding (`QUOTED-PRINTABLE`) or a type (`WORK`).
            if !self.set_encoding(param) && !param.is_empty() {
                self.types.push(param.to_ascii_lowercase());
            }
            return;
        };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_uppercase().as_str() {
            "TYPE" => self.types.extend(
                value
                    .split(',')
                    .map(|t| t.trim().trim_matches('"').to_ascii_lowercase())
                    .filter(|t| !t.is_empty()),
            ),
            "ENCODING" => {
                self.set_encoding(value);
            }
            "CHARSET" => self.charset = Some(value.to_owned()),
            "VALUE" => self.uri_value = value.eq_ignore_ascii_case("uri"),
            _ => {}
        }
    }

    /// Records a transfer encoding; false if `name` is not one.
    fn set_encoding(&mut self, name: &str) -> bool {
        let encoding = match name.to_ascii_uppercase().as_str() {
            "QUOTED-PRINTABLE" | "QP" => Some(TransferEncoding::QuotedPrintable),
            "BASE64" | "B" => Some(TransferEncoding::Base64),
            "8BIT" | "7BIT" => None,
            _ => return false,
        };
        self.encoding = encoding;
        true
    }

    fn has_type(&self, names: &[&str]) -> bool {
        self.types.iter().any(|t| names.contains(&t.as_str()))
    }
}

/// One parsed content line.
struct Property<'a> {
    group: Option<&'a str>,
    /// Upper-cased property name.
    name: String,
    params: Params,
    /// Raw value, still transfer-encoded and escaped.
    value: &'a str,
    line: usize,
}

impl Property<'_> {
    fn parse(line: &LogicalLine) -> Option<Property<'_>> {
        let (header, value) = split_header(&line.text)?;
        let mut parts = split_params(header).into_iter();
        let full_name = parts.next()?.trim();
        let (group, name) = match full_name.rsplit_once('.') {
            Some((group, name)) => (Some(group), name),
            None => (None, full_name),
        };
        let mut params = Params::default();
        for part in parts {
            params.add(part);
        }
        Some(Property { group, name: name.to_ascii_uppercase(), params, value, line: line.number })
    }

    /// The value with its transfer encoding and charset undone, escapes still in place.
    fn decoded(&self) -> Result<String, PayloadError> {
        let charset = self.params.charset.as_deref();
        Ok(match self.params.encoding {
            None => self.value.to_owned(),
            Some(TransferEncoding::QuotedPrintable) => {
                decode_charset(&decode_quoted_printable(self.value), charset)
            }
            Some(TransferEncoding::Base64) => {
                let bytes = decode_base64(self.value).ok_or_else(|| PayloadError::InvalidBase64 {
                    property: self.name.chars().take(32).collect(),
                    line: self.line,
                })?;
                decode_charset(&bytes, charset)
            }
        })
    }

    /// A single text value, unescaped and trimmed.
    fn text(&self) -> Result<String, PayloadError> {
        Ok(unescape(&self.decoded()?, Escapes::VCard).trim().to_owned())
    }

    /// A structured value (N, ADR, ORG) split on unescaped `;`, each component unescaped.
    fn components(&self) -> Result<Vec<String>, PayloadError> {
        let decoded = self.decoded()?;
        Ok(split_unescaped(&decoded, ';')
            .into_iter()
            .map(|c| unescape(c, Escapes::VCard).trim().to_owned())
            .collect())
    }
}

fn parse_version(value: &str) -> Result<VCardVersion, PayloadError> {
    let value = value.trim();
    match value.split('.').next().map(str::trim) {
        Some("2") => Ok(VCardVersion::V2_1),
        Some("3") => Ok(VCardVersion::V3_0),
        Some("4") => Ok(VCardVersion::V4_0),
        _ => Err(PayloadError::UnsupportedVCardVersion { found: value.chars().take(32).collect() }),
    }
}

/// Label from TEL types, `None` when the types say nothing about the kind of line.
fn phone_label_from_types(params: &Params) -> Option<&'static str> {
    if params.has_type(&["cell", "mobile", "iphone", "x-mobile", "x-cell"]) {
        Some("cell")
    } else if params.types.iter().any(|t| t.contains("fax")) {
        Some("fax")
    } else if params.has_type(&["pager", "x-pager", "beeper"]) {
        Some("pager")
    } else if params.has_type(&["work", "x-work", "main", "x-main", "company"]) {
        Some("work")
    } else if params.has_type(&["home", "x-home"]) {
        Some("home")
    } else {
        None
    }
}

/// Label from an Apple `itemN.X-ABLabel` (`_$!<Mobile>!$_`, or a custom Chinese label).
fn phone_label_from_ablabel(label: &str) -> Option<&'static str> {
    let inner = label.trim();
    let inner = inner.strip_prefix("_$!<").unwrap_or(inner);
    let inner = inner.strip_suffix(">!$_").unwrap_or(inner).to_lowercase();
    if inner.contains("fax") || inner.contains("传真") {
        Some("fax")
    } else if matches!(inner.as_str(), "mobile" | "iphone" | "cell") || inner.contains("手机") {
        Some("cell")
    } else if inner == "pager" {
        Some("pager")
    } else if matches!(inner.as_str(), "work" | "main" | "工作" | "公司" | "单位") {
        Some("work")
    } else if matches!(inner.as_str(), "home" | "住宅" | "家庭") {
        Some("home")
    } else {
        None
    }
}

/// A TEL waiting for its group's X-ABLabel, which may come later in the card.
struct PendingPhone<'a> {
    label: Option<&'static str>,
    number: String,
    group: Option<&'a str>,
}

/// Parses a payload that starts with `BEGIN:VCARD`.
pub(super) fn parse_vcard(text: &str) -> Result<ParsedLead, PayloadError> {
    let lines = logical_lines(text);
    let mut lead = ParsedLead::empty(PayloadFormat::VCard { version: VCardVersion::V3_0 });
    let mut version = None;
    let mut formatted_name = None;
    let mut structured_name = None;
    let mut role = None;
    let mut label_address = None;
    let mut phones: Vec<PendingPhone<'_>> = Vec::new();
    let mut ab_labels: Vec<(&str, String)> = Vec::new();

    for line in &lines {
        let Some(prop) = Property::parse(line) else {
            continue;
        };
        match prop.name.as_str() {
            "END" if prop.value.trim().eq_ignore_ascii_case("VCARD") => break,
            "VERSION" if version.is_none() => version = Some(parse_version(prop.value)?),
            "FN" => set_once(&mut formatted_name, &prop.text()?),
            "N" if structured_name.is_none() => {
                let c = prop.components()?;
                let part = |i: usize| c.get(i).map_or("", String::as_str);
                structured_name = join_name(part(0), part(1), part(2), part(3), part(4));
            }
            "ORG" if lead.company.is_none() => {
                let mut components = prop.components()?.into_iter();
                lead.company = components.next().as_deref().and_then(non_empty);
                let department: Vec<String> = components.filter(|c| !c.is_empty()).collect();
                lead.department = non_empty(&department.join(" / "));
            }
            "TITLE" => set_once(&mut lead.title, &prop.text()?),
            "ROLE" => set_once(&mut role, &prop.text()?),
            "TEL" => {
                let mut number = prop.text()?;
                // A 4.0 URI value keeps its `;ext=` (the switchboard alone is the wrong number).
                if let Some(uri) = strip_prefix_ci(&number, "tel:") {
                    number = tel_uri_number(uri);
                } else if prop.params.uri_value {
                    number = tel_uri_number(&number);
                }
                phones.push(PendingPhone {
                    label: phone_label_from_types(&prop.params),
                    number,
                    group: prop.group,
                });
            }
            "EMAIL" => push_email(&mut lead, &prop.text()?),
            "ADR" if lead.address.is_none() => lead.address = join_address(&prop.components()?),
            "LABEL" => set_once(&mut label_address, &prop.text()?),
            "URL" => set_once(&mut lead.website, &prop.text()?),
            "NOTE" => push_note(&mut lead, &prop.text()?),
            "X-WECHAT" | "X-WEIXIN" | "X-WECHAT-ID" | "X-WX" => set_once(&mut lead.wechat_id, &prop.text()?),
            "X-QQ" => set_once(&mut lead.qq, &prop.text()?),
            "IMPP" => {
                let value = prop.text()?;
                if let Some((scheme, id)) = value.split_once(':') {
                    let id = id.trim_start_matches('/');
                    match scheme.trim().to_ascii_lowercase().as_str() {
                        "weixin" | "wechat" | "x-wechat" => set_once(&mut lead.wechat_id, id),
                        "qq" | "tencent" | "x-qq" => set_once(&mut lead.qq, id),
                        _ => {}
                    }
                }
            }
            "X-ABLABEL" => {
                if let Some(group) = prop.group {
                    ab_labels.push((group, prop.text()?));
                }
            }
            _ => {}
        }
    }

    for phone in phones {
        let from_group = || {
            let group = phone.group?;
            ab_labels
                .iter()
                .find(|(g, _)| g.eq_ignore_ascii_case(group))
                .and_then(|(_, label)| phone_label_from_ablabel(label))
        };
        let label = phone.label.or_else(from_group).unwrap_or_else(|| default_phone_label(&phone.number));
        push_phone(&mut lead, label, &phone.number);
    }
    lead.name = formatted_name.or(structured_name);
    if lead.title.is_none() {
        lead.title = role;
    }
    if lead.address.is_none() {
        lead.address = label_address;
    }
    lead.format = PayloadFormat::VCard { version: version.unwrap_or(VCardVersion::V3_0) };
    lead.require_contact()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_and_soft_broken_lines_are_joined() {
        let lines = logical_lines(
            "BEGIN:VCARD\r\nNOTE:a\r\n  b\r\n\tc\r\nN;QUOTED-PRINTABLE:=E5=BC=\r\n=A0;\r\n\r\nEND:VCARD",
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["BEGIN:VCARD", "NOTE:a bc", "N;QUOTED-PRINTABLE:=E5=BC=A0;", "END:VCARD"]);
        assert_eq!(lines.get(2).map(|l| l.number), Some(5));
    }

    #[test]
    fn params_accept_3_0_lists_4_0_quotes_and_2_1_bare_forms() {
        let line = LogicalLine {
            text: r#"item1.TEL;TYPE="work,voice";VALUE=uri;PREF=1:tel:+86"#.to_owned(),
            number: 1,
            quoted_printable: false,
        };
        let prop = Property::parse(&line).unwrap();
        assert_eq!(prop.group, Some("item1"));
        assert_eq!(prop.name, "TEL");
        assert_eq!(prop.params.types, vec!["work", "voice"]);
        assert!(prop.params.uri_value);
        assert_eq!(prop.value, "tel:+86");

        let line = LogicalLine {
            text: "ADR;HOME;CHARSET=GBK;QUOTED-PRINTABLE:x".to_owned(),
            number: 1,
            quoted_printable: true,
        };
        let prop = Property::parse(&line).unwrap();
        assert_eq!(prop.params.types, vec!["home"]);
        assert_eq!(prop.params.charset.as_deref(), Some("GBK"));
        assert_eq!(prop.params.encoding, Some(TransferEncoding::QuotedPrintable));
    }

    #[test]
    fn apple_labels_map_to_phone_kinds() {
        assert_eq!(phone_label_from_ablabel("_$!<Mobile>!$_"), Some("cell"));
        assert_eq!(phone_label_from_ablabel("_$!<WorkFAX>!$_"), Some("fax"));
        assert_eq!(phone_label_from_ablabel("公司传真"), Some("fax"));
        assert_eq!(phone_label_from_ablabel("微信"), None);
    }
}
