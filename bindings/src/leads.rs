//! Lead cards through the FFI: a scanned QR code (its text, or a photo of it) parsed into a lead
//! with the customers it may duplicate, and the lead saved as a record.

use fieldsync_core::dedup::{PhoneKind, normalize_phones};
use fieldsync_core::leadcard::qr_image::decode_qr;
use fieldsync_core::leadcard::{ParsedLead, PayloadFormat, VCardVersion, parse_payload};
use fieldsync_core::model::{LeadCard, NewLeadCard};

use crate::FfiError;
use crate::capture::{id, invalid};
use crate::error::guard;
use crate::store::{FfiDuplicateCandidate, FieldStore, records};

/// A lead as read from a QR code; what `save_lead_card` stores.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiLead {
    /// The QR code's text, as scanned.
    pub raw_payload: String,
    /// `vcard2.1`, `vcard3.0`, `vcard4.0`, `mecard`, `bizcard`, `wechat_contact`,
    /// `wecom_contact`, `url` or `plain_text`.
    pub format: String,
    /// Person's name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Phone numbers as the card wrote them, extensions kept (`+86-21-6234-5678;ext=8021`,
    /// `021-62345678转8021`); [`read_phone_numbers`] gives the forms to show and dial.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Web site or contact link.
    pub url: Option<String>,
}

/// A scanned lead and the existing customers it may be (nothing is saved by a scan).
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiLeadScan {
    /// The lead.
    pub lead: FfiLead,
    /// Customers it may duplicate, best first.
    pub candidates: Vec<FfiDuplicateCandidate>,
}

/// A lead card as stored.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiLeadCard {
    /// Document id.
    pub id: String,
    /// What was scanned.
    pub lead: FfiLead,
    /// Event where it was scanned (a trade show).
    pub source_event: Option<String>,
    /// The customer it belongs to, when linked.
    pub customer_id: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
}

/// One dialable number read from a phone field, in the forms the app shows and dials.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiPhoneNumber {
    /// The switchboard or mobile number in E.164 form (`+862162345678`).
    pub e164: String,
    /// The extension dialled after the switchboard answers, if any (`8021`).
    pub extension: Option<String>,
    /// `mobile`, `landline` or `service` (400/800).
    pub kind: String,
    /// As a Chinese card prints it: `021 6234 5678 转 8021`.
    pub display: String,
    /// International notation: `+86 21 6234 5678 ext. 8021`.
    pub international: String,
    /// For the dialler: the number, a pause (`,`) and the extension: `+862162345678,8021`.
    pub dial: String,
    /// RFC 3966 link: `tel:+862162345678;ext=8021`.
    pub tel_uri: String,
}

/// The dialable numbers in one phone field as a rep or a card wrote it (`021-62345678转8021`,
/// `+86-21-6234-5678;ext=8021`, `021 6234 5678 / 6234 5679` — two numbers). Empty when the
/// field holds no mainland China number (a local number without area code, a foreign number,
/// a note): show the text as written then.
#[uniffi::export]
pub fn read_phone_numbers(text: String) -> Vec<FfiPhoneNumber> {
    normalize_phones(&text)
        .into_iter()
        .map(|phone| FfiPhoneNumber {
            kind: match phone.kind {
                PhoneKind::Mobile => "mobile",
                PhoneKind::Landline => "landline",
                PhoneKind::Service => "service",
            }
            .into(),
            display: phone.national_display(),
            international: phone.international_display(),
            dial: phone.dial_string(),
            tel_uri: phone.tel_uri(),
            e164: phone.e164,
            extension: phone.extension,
        })
        .collect()
}

fn format_code(format: PayloadFormat) -> &'static str {
    match format {
        PayloadFormat::VCard { version: VCardVersion::V2_1 } => "vcard2.1",
        PayloadFormat::VCard { version: VCardVersion::V3_0 } => "vcard3.0",
        PayloadFormat::VCard { version: VCardVersion::V4_0 } => "vcard4.0",
        PayloadFormat::MeCard => "mecard",
        PayloadFormat::BizCard => "bizcard",
        PayloadFormat::WeChatContact => "wechat_contact",
        PayloadFormat::WeComContact => "wecom_contact",
        PayloadFormat::Url => "url",
        PayloadFormat::PlainText => "plain_text",
    }
}

fn lead(raw_payload: String, parsed: ParsedLead) -> FfiLead {
    FfiLead {
        raw_payload,
        format: format_code(parsed.format).into(),
        name: parsed.name,
        company: parsed.company,
        title: parsed.title,
        phones: parsed.phones.into_iter().map(|p| p.value).collect(),
        emails: parsed.emails,
        address: parsed.address,
        url: parsed.website.or(parsed.url),
    }
}

fn new_lead_card(
    lead: FfiLead,
    source_event: Option<String>,
    customer_id: Option<String>,
) -> Result<NewLeadCard, FfiError> {
    Ok(NewLeadCard {
        raw_payload: lead.raw_payload,
        format: lead.format,
        name: lead.name,
        company: lead.company,
        title: lead.title,
        phones: lead.phones,
        emails: lead.emails,
        address: lead.address,
        url: lead.url,
        source_event,
        customer_id: customer_id.as_deref().map(id).transpose()?,
    })
}

impl From<LeadCard> for FfiLeadCard {
    fn from(card: LeadCard) -> Self {
        FfiLeadCard {
            id: card.id.to_string(),
            lead: FfiLead {
                raw_payload: card.raw_payload,
                format: card.format,
                name: card.name,
                company: card.company,
                title: card.title,
                phones: card.phones,
                emails: card.emails,
                address: card.address,
                url: card.url,
            },
            source_event: card.source_event,
            customer_id: card.customer_id.map(|c| c.to_string()),
            created_at: card.provenance.created_at,
        }
    }
}

impl FieldStore {
    fn scan(&self, text: String) -> Result<FfiLeadScan, FfiError> {
        let lead = lead(text.clone(), parse_payload(&text)?);
        let card = new_lead_card(lead.clone(), None, None)?;
        Ok(FfiLeadScan { lead, candidates: records(self.core().lead_card_duplicate_candidates(&card)?) })
    }
}

#[uniffi::export]
impl FieldStore {
    /// Parses the text of a scanned QR code (vCard, MECARD, BIZCARD, WeChat/WeCom link, plain
    /// text) into a lead, with the customers it may duplicate. `InvalidInput` when it is not a
    /// contact card, saying what to do.
    pub fn scan_lead_text(&self, text: String) -> Result<FfiLeadScan, FfiError> {
        guard(|| self.scan(text))
    }

    /// Finds the QR code in a photo (JPEG or PNG bytes) and parses it as `scan_lead_text` does.
    /// `InvalidInput` when the bytes are not a JPEG/PNG photo, no code is found, or no code
    /// found is a contact card.
    pub fn scan_lead_image(&self, image: Vec<u8>) -> Result<FfiLeadScan, FfiError> {
        guard(|| {
            let texts = decode_qr(&image)?;
            let mut first_error = None;
            for text in texts {
                match self.scan(text) {
                    Ok(scan) => return Ok(scan),
                    Err(e) => first_error = first_error.or(Some(e)),
                }
            }
            Err(first_error.unwrap_or_else(|| {
                invalid("no QR code found in the photo; retake it closer to the code, in focus")
            }))
        })
    }

    /// Saves a scanned lead as a lead card (optionally linked to an existing customer).
    pub fn save_lead_card(
        &self,
        lead: FfiLead,
        source_event: Option<String>,
        customer_id: Option<String>,
    ) -> Result<FfiLeadCard, FfiError> {
        guard(|| Ok(self.core().create(new_lead_card(lead, source_event, customer_id)?)?.into()))
    }

    /// Reads a lead card.
    pub fn lead_card(&self, lead_card_id: String) -> Result<FfiLeadCard, FfiError> {
        guard(|| Ok(self.core().get::<LeadCard>(id(&lead_card_id)?)?.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_field_reads_as_numbers_to_show_and_dial_with_their_extensions() {
        let numbers = read_phone_numbers("+86-21-6234-5678;ext=8021".into());
        assert_eq!(numbers.len(), 1);
        let number = &numbers[0];
        assert_eq!((number.e164.as_str(), number.extension.as_deref()), ("+862162345678", Some("8021")));
        assert_eq!(number.kind, "landline");
        assert_eq!(number.display, "021 6234 5678 转 8021");
        assert_eq!(number.international, "+86 21 6234 5678 ext. 8021");
        assert_eq!(number.dial, "+862162345678,8021");
        assert_eq!(number.tel_uri, "tel:+862162345678;ext=8021");

        let listed = read_phone_numbers("021 6234 5678 / 6234 5679".into());
        let dial: Vec<&str> = listed.iter().map(|n| n.dial.as_str()).collect();
        assert_eq!(dial, vec!["+862162345678", "+862162345679"]);
        assert!(read_phone_numbers("见名片".into()).is_empty());
    }
}
