//! Lead cards through the FFI: a scanned QR code (its text, or a photo of it) parsed into a lead
//! with the customers it may duplicate, and the lead saved as a record.

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
    /// Phone numbers.
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
