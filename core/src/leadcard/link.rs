//! Link payloads: web links, WeChat and WeCom contact links, `tel:` and `mailto:`.

use super::text::{
    default_phone_label, non_empty, percent_decode, push_email, push_phone, strip_prefix_ci, tel_uri_number,
};
use super::{ParsedLead, PayloadError, PayloadFormat};

/// Parses `payload` (already trimmed) if it is a single link; `None` means "not a link, treat as
/// text" — e.g. a URL followed by a name on the next line, or `https://` with no host.
pub(super) fn parse_link(payload: &str) -> Option<Result<ParsedLead, PayloadError>> {
    if payload.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    if let Some(rest) = strip_prefix_ci(payload, "tel:") {
        return Some(parse_tel(payload, rest));
    }
    if let Some(rest) = strip_prefix_ci(payload, "mailto:") {
        return Some(parse_mailto(payload, rest));
    }
    if let Some(rest) = strip_prefix_ci(payload, "weixin://") {
        return Some(Ok(parse_weixin_scheme(payload, rest)));
    }
    let rest = strip_prefix_ci(payload, "https://").or_else(|| strip_prefix_ci(payload, "http://"))?;
    parse_web(payload, rest).map(Ok)
}

fn parse_tel(payload: &str, rest: &str) -> Result<ParsedLead, PayloadError> {
    // The extension stays (`+862162345678;ext=12`); other RFC 3966 parameters and stray
    // queries are not part of what the rep dials.
    let number = tel_uri_number(rest);
    if !number.chars().any(|c| c.is_ascii_digit()) {
        return Err(PayloadError::EmptyLink { scheme: "tel", expected: "phone number" });
    }
    let mut lead = ParsedLead::empty(PayloadFormat::Url);
    push_phone(&mut lead, default_phone_label(&number), &number);
    lead.url = Some(payload.to_owned());
    Ok(lead)
}

fn parse_mailto(payload: &str, rest: &str) -> Result<ParsedLead, PayloadError> {
    let mut lead = ParsedLead::empty(PayloadFormat::Url);
    let addresses = rest.split('?').next().unwrap_or("");
    for address in addresses.split(',') {
        let address = percent_decode(address);
        if address.contains('@') {
            push_email(&mut lead, &address);
        }
    }
    if lead.emails.is_empty() {
        return Err(PayloadError::EmptyLink { scheme: "mailto", expected: "e-mail address" });
    }
    lead.url = Some(payload.to_owned());
    Ok(lead)
}

/// `weixin://contacts/profile/<id>` carries the WeChat ID itself; `weixin://dl/chat` opens a
/// chat. Other `weixin://` links (payments, mini-programs) are not contacts.
fn parse_weixin_scheme(payload: &str, rest: &str) -> ParsedLead {
    let is_contact =
        strip_prefix_ci(rest, "contacts/").is_some() || strip_prefix_ci(rest, "dl/chat").is_some();
    let format = if is_contact { PayloadFormat::WeChatContact } else { PayloadFormat::Url };
    let mut lead = ParsedLead::empty(format);
    if let Some(id) = strip_prefix_ci(rest, "contacts/profile/") {
        let id = id.split(['/', '?', '#']).next().unwrap_or("");
        lead.wechat_id = non_empty(&percent_decode(id));
    }
    lead.url = Some(payload.to_owned());
    lead
}

/// An `http(s)` link: WeChat / WeCom contact pages by host and path, anything else a web site.
/// `None` when there is no host.
fn parse_web(payload: &str, after_scheme: &str) -> Option<ParsedLead> {
    let authority_end = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
    let (authority, tail) = after_scheme.split_at_checked(authority_end)?;
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = tail.split(['?', '#']).next().unwrap_or("");
    let format = match host.as_str() {
        "u.wechat.com" => PayloadFormat::WeChatContact,
        "weixin.qq.com" if path.starts_with("/r/") => PayloadFormat::WeChatContact,
        "work.weixin.qq.com" if path.starts_with("/u/") || path.starts_with("/ca/") => {
            PayloadFormat::WeComContact
        }
        _ => PayloadFormat::Url,
    };
    let mut lead = ParsedLead::empty(format);
    if format == PayloadFormat::Url {
        // A bare web link on a lead card is nearly always the company's site.
        lead.website = Some(payload.to_owned());
    }
    lead.url = Some(payload.to_owned());
    Some(lead)
}
