//! A company the team sells to.

use autosurgeon::{Hydrate, Reconcile};

use super::{
    Draft, Location, Provenance, Record, RecordKind, ValidationError, limit_list, limit_text, require_text,
};
use crate::ids::DocId;

/// A person at a customer.
#[derive(Debug, Clone, PartialEq, Default, Reconcile, Hydrate)]
pub struct Contact {
    /// Full name as the contact writes it.
    pub name: String,
    /// Job title, if known.
    #[autosurgeon(missing = "Default::default")]
    pub title: Option<String>,
    /// Phone numbers as entered.
    pub phones: Vec<String>,
    /// E-mail address, if known.
    #[autosurgeon(missing = "Default::default")]
    pub email: Option<String>,
}

/// A company the team sells to: one customer, one record (DESIGN §1).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Customer {
    /// Document id.
    pub id: DocId,
    /// Registered or commonly used company name.
    pub company_name: String,
    /// People at the company.
    pub contacts: Vec<Contact>,
    /// Company phone numbers as entered (switchboard, mobiles).
    pub phones: Vec<String>,
    /// Postal address.
    #[autosurgeon(missing = "Default::default")]
    pub address: Option<String>,
    /// Where the site is.
    #[autosurgeon(missing = "Default::default")]
    pub location: Option<Location>,
    /// Free tags (industry, size, source).
    pub tags: Vec<String>,
    /// Unified social credit code (统一社会信用代码), when known; decides identity.
    #[autosurgeon(missing = "Default::default")]
    pub credit_code: Option<String>,
    /// Set by identity resolution when this record turned out to be a duplicate.
    #[autosurgeon(missing = "Default::default")]
    pub merged_into: Option<DocId>,
    /// Who created the record and when.
    pub provenance: Provenance,
}

/// The fields a rep fills in to create a customer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewCustomer {
    /// Company name (required).
    pub company_name: String,
    /// People at the company.
    pub contacts: Vec<Contact>,
    /// Company phone numbers.
    pub phones: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Where the site is.
    pub location: Option<Location>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Unified social credit code, when known.
    pub credit_code: Option<String>,
}

impl Draft for NewCustomer {
    type Record = Customer;

    fn into_record(self, id: DocId, provenance: Provenance) -> Customer {
        Customer {
            id,
            company_name: self.company_name,
            contacts: self.contacts,
            phones: self.phones,
            address: self.address,
            location: self.location,
            tags: self.tags,
            credit_code: self.credit_code,
            merged_into: None,
            provenance,
        }
    }
}

impl Record for Customer {
    const KIND: RecordKind = RecordKind::Customer;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        require_text(kind, "company_name", &self.company_name, 200)?;
        limit_list(kind, "phones", &self.phones, 20)?;
        limit_list(kind, "contacts", &self.contacts, 100)?;
        limit_list(kind, "tags", &self.tags, 50)?;
        for phone in &self.phones {
            require_text(kind, "phones", phone, 40)?;
        }
        for contact in &self.contacts {
            require_text(kind, "contacts.name", &contact.name, 100)?;
            limit_list(kind, "contacts.phones", &contact.phones, 10)?;
        }
        if let Some(address) = &self.address {
            limit_text(kind, "address", address, 500)?;
        }
        if let Some(location) = &self.location {
            location.check().map_err(|p| ValidationError::new(kind, "location", p))?;
        }
        if self.merged_into == Some(self.id) {
            return Err(ValidationError::new(kind, "merged_into", "a customer cannot be merged into itself"));
        }
        Ok(())
    }
}
