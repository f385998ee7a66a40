//! `FieldStore`: the device's offline store as the apps hold it.

use std::sync::Arc;

use fieldsync_core::model::{Customer, NewCustomer};
use fieldsync_core::store::CustomerSummary;
use fieldsync_core::{DocId, Store};

use crate::FfiError;

/// The fields of a new customer.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiNewCustomer {
    /// Company name (required).
    pub company_name: String,
    /// Phone numbers as typed.
    pub phones: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
}

/// A customer as stored.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiCustomer {
    /// Document id (UUID).
    pub id: String,
    /// Company name.
    pub company_name: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// A customer in a result list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiCustomerSummary {
    /// Document id.
    pub id: String,
    /// Company name.
    pub company_name: String,
    /// First company phone.
    pub first_phone: Option<String>,
}

impl From<Customer> for FfiCustomer {
    fn from(c: Customer) -> Self {
        FfiCustomer {
            id: c.id.to_string(),
            company_name: c.company_name,
            phones: c.phones,
            address: c.address,
            tags: c.tags,
            created_at: c.provenance.created_at,
        }
    }
}

impl From<CustomerSummary> for FfiCustomerSummary {
    fn from(c: CustomerSummary) -> Self {
        FfiCustomerSummary { id: c.id.to_string(), company_name: c.company_name, first_phone: c.first_phone }
    }
}

/// The device's offline store. Call `close()` when done; do not rely on garbage collection.
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    inner: Arc<Store>,
}

impl FieldStore {
    /// The core store, for the other exported method groups.
    pub(crate) fn core(&self) -> &Store {
        &self.inner
    }
}

#[uniffi::export]
impl FieldStore {
    /// Opens (or creates) the store file at `path`.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, FfiError> {
        if path.trim().is_empty() {
            return Err(FfiError::InvalidInput { message: "the store path is empty".into() });
        }
        Ok(Arc::new(FieldStore { inner: Arc::new(Store::open(path)?) }))
    }

    /// Closes the store; later calls fail with `StoreUnavailable`.
    pub fn close(&self) -> Result<(), FfiError> {
        Ok(self.inner.close()?)
    }

    /// This device's id (hex).
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// Creates a customer offline.
    pub fn create_customer(&self, customer: FfiNewCustomer) -> Result<FfiCustomer, FfiError> {
        let created = self.inner.create(NewCustomer {
            company_name: customer.company_name,
            phones: customer.phones,
            address: customer.address,
            tags: customer.tags,
            ..Default::default()
        })?;
        Ok(created.into())
    }

    /// Reads a customer by id.
    pub fn customer(&self, id: String) -> Result<FfiCustomer, FfiError> {
        let id: DocId = id.parse()?;
        Ok(self.inner.get::<Customer>(id)?.into())
    }

    /// Customers whose name starts with `prefix`.
    pub fn customers_by_name_prefix(
        &self,
        prefix: String,
        limit: u32,
    ) -> Result<Vec<FfiCustomerSummary>, FfiError> {
        Ok(self.inner.customers_by_name_prefix(&prefix, limit)?.into_iter().map(Into::into).collect())
    }

    /// Changes waiting for the relay.
    pub fn outbox_len(&self) -> Result<u64, FfiError> {
        Ok(self.inner.outbox_len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_arrive_as_typed_ffi_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fieldsync").to_string_lossy().into_owned();
        let store = FieldStore::open(path.clone()).unwrap();
        let created = store
            .create_customer(FfiNewCustomer {
                company_name: "温州正泰".into(),
                phones: vec![],
                address: None,
                tags: vec![],
            })
            .unwrap();
        assert_eq!(store.customer(created.id.clone()).unwrap().company_name, "温州正泰");
        assert!(matches!(store.customer("not-an-id".into()), Err(FfiError::InvalidInput { .. })));
        assert!(matches!(
            store.create_customer(FfiNewCustomer {
                company_name: "".into(),
                phones: vec![],
                address: None,
                tags: vec![]
            }),
            Err(FfiError::InvalidInput { .. })
        ));
        assert!(matches!(FieldStore::open(path), Err(FfiError::StoreUnavailable { .. })));
        store.close().unwrap();
        assert!(matches!(store.outbox_len(), Err(FfiError::StoreUnavailable { .. })));
        assert!(matches!(FieldStore::open(" ".into()), Err(FfiError::InvalidInput { .. })));
    }
}
