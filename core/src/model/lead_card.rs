//! A lead captured from a QR business card at a trade show.

use autosurgeon::{Hydrate, Reconcile};

use super::{Draft, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text};
use crate::ids::DocId;

/// A lead card: the raw QR payload as scanned and the fields parsed from it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct LeadCard {
    /// Document id.
    pub id: DocId,
    /// The QR payload exactly as scanned; kept so parsing can be redone by a better parser.
    pub raw_payload: String,
    /// Which payload format it was (vcard, mecard, bizcard, url, wechat, text).
    pub format: String,
    /// Person's name.
    #[autosurgeon(missing = "Default::default")]
    pub name: Option<String>,
    /// Company name.
    #[autosurgeon(missing = "Default::default")]
    pub company: Option<String>,
    /// Job title.
    #[autosurgeon(missing = "Default::default")]
    pub title: Option<String>,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Postal address.
    #[autosurgeon(missing = "Default::default")]
    pub address: Option<String>,
    /// Web site or contact link.
    #[autosurgeon(missing = "Default::default")]
    pub url: Option<String>,
    /// The trade show or event where it was scanned.
    #[autosurgeon(missing = "Default::default")]
    pub source_event: Option<String>,
    /// The customer this lead was linked to, once linked.
    #[autosurgeon(missing = "Default::default")]
    pub customer_id: Option<DocId>,
    /// Who scanned it and when.
    pub provenance: Provenance,
}

/// The fields of a scanned lead card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewLeadCard {
    /// Raw payload (required).
    pub raw_payload: String,
    /// Payload format.
    pub format: String,
    /// Person's name.
    pub name: Option<String>,
    /// Company name.
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
    /// Event where it was scanned.
    pub source_event: Option<String>,
    /// Customer it belongs to, if already known.
    pub customer_id: Option<DocId>,
}

impl Draft for NewLeadCard {
    type Record = LeadCard;

    fn into_record(self, id: DocId, provenance: Provenance) -> LeadCard {
        LeadCard {
            id,
            raw_payload: self.raw_payload,
            format: self.format,
            name: self.name,
            company: self.company,
            title: self.title,
            phones: self.phones,
            emails: self.emails,
            address: self.address,
            url: self.url,
            source_event: self.source_event,
            customer_id: self.customer_id,
            provenance,
        }
    }
}

impl Record for LeadCard {
    const KIND: RecordKind = RecordKind::LeadCard;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        if self.raw_payload.is_empty() {
            return Err(ValidationError::new(kind, "raw_payload", "must not be empty"));
        }
        // QR codes hold at most ~7 KB; anything larger did not come from a scan.
        limit_text(kind, "raw_payload", &self.raw_payload, 8192)?;
        limit_list(kind, "phones", &self.phones, 20)?;
        limit_list(kind, "emails", &self.emails, 20)?;
        Ok(())
    }
}
