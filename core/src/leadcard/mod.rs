//! Lead cards: turning the text of a scanned QR code into the fields of a lead.
//!
//! This module owns QR *payload* parsing — vCard 2.1/3.0/4.0, MECARD, BIZCARD, WeChat and WeCom
//! contact links, web, `tel:` and `mailto:` links, and plain text — into one [`ParsedLead`]. It does
//! not decode QR images, store anything or run the duplicate check; those take its output.
//!
//! Payloads come from cameras pointed at arbitrary codes, so every input is untrusted: payloads are
//! capped at [`MAX_PAYLOAD_BYTES`] and [`MAX_PAYLOAD_LINES`], nothing here panics, and a payload
//! that is not a usable card gets a [`PayloadError`] that tells the rep what to do. Within those
//! bounds the parsers are lenient, because card generators in the field (old Android exports,
//! trade-show badge printers, WeChat mini-programs) bend every standard; a lead saved with one odd
//! line skipped beats a lead typed by hand.

mod link;
mod mecard;
mod payload;
mod plain;
pub mod qr_image;
mod text;
mod vcard;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use payload::{parse_payload, parse_payload_bytes};

/// Largest payload accepted, in bytes (8 KiB). A QR code holds at most ~3 KB of binary data, so
/// anything larger did not come from one contact card.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024;

/// Most physical lines accepted in a payload. Real cards have 10–40.
pub const MAX_PAYLOAD_LINES: usize = 200;

/// The vCard version a card declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VCardVersion {
    /// vCard 2.1 (old Android and feature-phone exports): bare parameters, quoted-printable,
    /// CHARSET.
    #[serde(rename = "2.1")]
    V2_1,
    /// vCard 3.0 (RFC 2426), also assumed when a card has no VERSION line.
    #[serde(rename = "3.0")]
    V3_0,
    /// vCard 4.0 (RFC 6350).
    #[serde(rename = "4.0")]
    V4_0,
}

/// Which kind of payload the QR code held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum PayloadFormat {
    /// A vCard.
    #[serde(rename = "vcard")]
    VCard {
        /// The declared version.
        version: VCardVersion,
    },
    /// NTT docomo MECARD (`MECARD:N:…;TEL:…;;`).
    #[serde(rename = "mecard")]
    MeCard,
    /// BIZCARD (`BIZCARD:N:…;X:…;;`).
    #[serde(rename = "bizcard")]
    BizCard,
    /// A WeChat contact link (`u.wechat.com`, `weixin.qq.com/r/`, `weixin://contacts/…`).
    #[serde(rename = "wechat_contact")]
    WeChatContact,
    /// A WeCom (企业微信) contact link (`work.weixin.qq.com/u/` or `/ca/`).
    #[serde(rename = "wecom_contact")]
    WeComContact,
    /// Any other link: `http(s)`, other `weixin://` links, `tel:` and `mailto:`.
    #[serde(rename = "url")]
    Url,
    /// Free text; phones, e-mails and a web link are extracted best-effort.
    #[serde(rename = "plain_text")]
    PlainText,
}

impl PayloadFormat {
    /// Short human name for messages ("vCard 2.1", "MECARD", …).
    pub fn display_name(&self) -> &'static str {
        match self {
            PayloadFormat::VCard { version: VCardVersion::V2_1 } => "vCard 2.1",
            PayloadFormat::VCard { version: VCardVersion::V3_0 } => "vCard 3.0",
            PayloadFormat::VCard { version: VCardVersion::V4_0 } => "vCard 4.0",
            PayloadFormat::MeCard => "MECARD",
            PayloadFormat::BizCard => "BIZCARD",
            PayloadFormat::WeChatContact => "WeChat contact link",
            PayloadFormat::WeComContact => "WeCom contact link",
            PayloadFormat::Url => "link",
            PayloadFormat::PlainText => "plain text",
        }
    }
}

/// A value with the kind of it, e.g. a phone number and whether it is a mobile or a fax.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabeledValue {
    /// One of `cell`, `work`, `home`, `fax`, `pager`, `other`. Unlabelled numbers that are
    /// mainland mobile numbers get `cell`.
    pub label: String,
    /// The value as written on the card (not normalised; the duplicate check does that).
    pub value: String,
}

/// The fields a QR payload yielded. Every field is optional because every format omits
/// something; strings are trimmed and never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedLead {
    /// What kind of payload it was.
    pub format: PayloadFormat,
    /// Person's name; CJK names are joined without a space (张三), Latin ones with (John Smith).
    pub name: Option<String>,
    /// Company (first component of a vCard ORG).
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department (further ORG components, joined with " / ").
    pub department: Option<String>,
    /// Phone numbers in card order, without duplicates.
    pub phones: Vec<LabeledValue>,
    /// E-mail addresses in card order, without duplicates.
    pub emails: Vec<String>,
    /// Postal address as one line, in the order customary for its script.
    pub address: Option<String>,
    /// Company or personal web site.
    pub website: Option<String>,
    /// Free-text note; for plain-text payloads, the whole text.
    pub note: Option<String>,
    /// WeChat ID (微信号), from `X-WECHAT`, `IMPP:weixin:` or a `weixin://contacts/profile/` link.
    pub wechat_id: Option<String>,
    /// QQ number, from `X-QQ` or `IMPP:qq:`.
    pub qq: Option<String>,
    /// The link itself, for link payloads (to open, or to keep as the lead's source).
    pub url: Option<String>,
}

impl ParsedLead {
    /// An empty result of the given format; parsers fill it in.
    fn empty(format: PayloadFormat) -> Self {
        ParsedLead {
            format,
            name: None,
            company: None,
            title: None,
            department: None,
            phones: Vec::new(),
            emails: Vec::new(),
            address: None,
            website: None,
            note: None,
            wechat_id: None,
            qq: None,
            url: None,
        }
    }

    /// Passes a card through only if it has a contact (see [`ParsedLead::has_contact`]).
    fn require_contact(self) -> Result<Self, PayloadError> {
        if self.has_contact() {
            Ok(self)
        } else {
            Err(PayloadError::NoContactFields { format: self.format.display_name() })
        }
    }

    /// Whether the payload names someone or gives a way to reach them — the minimum for a lead.
    pub fn has_contact(&self) -> bool {
        self.name.is_some()
            || self.company.is_some()
            || !self.phones.is_empty()
            || !self.emails.is_empty()
            || self.wechat_id.is_some()
            || self.qq.is_some()
    }
}

/// Why a QR payload could not be turned into a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Nothing but whitespace.
    #[error("the QR code holds no text; scan it again or enter the lead by hand")]
    Empty,
    /// Over [`MAX_PAYLOAD_BYTES`].
    #[error(
        "the QR code holds {bytes} bytes, more than the {limit} a contact card can have; it is not \
         a lead card"
    )]
    TooLarge {
        /// Payload size in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Over [`MAX_PAYLOAD_LINES`].
    #[error(
        "the QR code holds more than {limit} lines, more than a contact card can have; it is not a \
         lead card"
    )]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// Bytes that are not text in any encoding fieldsync knows.
    #[error(
        "the QR code holds binary data, not text in UTF-8, GBK/GB18030, Big5 or Shift_JIS; it is \
         not a lead card"
    )]
    NotText,
    /// A VERSION other than 2.x, 3.x or 4.x.
    #[error(
        "the vCard says VERSION:{found}, but only versions 2.1, 3.0 and 4.0 exist; the card \
         generator is broken, enter the lead by hand"
    )]
    UnsupportedVCardVersion {
        /// The declared version (cut to 32 characters).
        found: String,
    },
    /// A text value marked as base64 that does not decode.
    #[error(
        "the vCard's {property} on line {line} is marked as base64 but is not valid base64; the \
         card is damaged, enter the lead by hand"
    )]
    InvalidBase64 {
        /// Property name, e.g. `NOTE`.
        property: String,
        /// Logical line number (1-based, counting physical lines).
        line: usize,
    },
    /// A card that parsed but names nobody and gives no way to reach anyone.
    #[error("the {format} holds no name, company, phone, e-mail, WeChat or QQ; enter the lead by hand")]
    NoContactFields {
        /// Which format, e.g. "vCard 3.0".
        format: &'static str,
    },
    /// A `tel:` or `mailto:` link with nothing after the scheme.
    #[error("the {scheme}: link holds no {expected}; scan the code again or enter the lead by hand")]
    EmptyLink {
        /// `tel` or `mailto`.
        scheme: &'static str,
        /// What was missing ("phone number", "e-mail address").
        expected: &'static str,
    },
}
