//! `FieldStore`: the device's offline store as the apps hold it — opening with the platform's
//! services, customers with their duplicate check, and the list queries.

use std::sync::Arc;

use fieldsync_core::dedup::{Decision, MatchReason};
use fieldsync_core::model::{Customer, Money, NewCustomer, NewOpportunity, Opportunity, Stage};
use fieldsync_core::store::{
    CreateMode, CreateOutcome, CustomerSummary, DuplicateCandidate, OpportunitySummary, VisitSummary,
};
use fieldsync_core::{Store, StoreOptions};

use crate::FfiError;
use crate::capture::{FfiFix, id, invalid, location};
use crate::error::guard;
use crate::services::{
    ForeignClock, ForeignKeyStorage, LocationService, LocationSource, PhoneClock, SecureKeyStorage,
};

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
    /// Where the customer's site is (for `customers_near` and the check-in geofence).
    #[uniffi(default = None)]
    pub location: Option<FfiFix>,
    /// Unified social credit code (统一社会信用代码), when known: the strongest duplicate evidence.
    #[uniffi(default = None)]
    pub credit_code: Option<String>,
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
    /// Distance from the query point, metres (only from `customers_near`).
    pub distance_m: Option<f64>,
    /// Its heat when the list was made (derived, never stored); null where a list does not
    /// compute it (duplicate candidates).
    pub heat: Option<crate::heat::FfiHeat>,
}

/// Why a customer may be the same company (one piece of evidence).
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiMatchReason {
    /// `credit_code_match`, `credit_code_mismatch`, `shared_phone`, `shared_switchboard`,
    /// `same_name`, `similar_name`, `different_name_word`, `different_regions`,
    /// `branch_of_same_company`.
    pub code: String,
    /// The shared number (E.164) for `shared_phone` and `shared_switchboard`.
    pub phone: Option<String>,
}

/// An existing customer that a new customer or lead card may duplicate.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiDuplicateCandidate {
    /// The existing customer.
    pub customer: FfiCustomerSummary,
    /// The record whose data matched (differs from `customer.id` when it was since merged).
    pub matched_id: String,
    /// Name similarity in [0, 1].
    pub score: f64,
    /// `same` or `possible`.
    pub decision: String,
    /// The evidence, strongest first.
    pub reasons: Vec<FfiMatchReason>,
    /// Reaches the warning bar: offer "link to existing" before saving.
    pub warning: bool,
}

/// What `create_customer_checked` does when there are likely duplicates.
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum FfiCreateMode {
    /// Save nothing when a candidate reaches the warning bar; return the candidates.
    WarnIfDuplicates,
    /// Save in any case (the rep saw the warning and chose "a new customer").
    CreateAnyway,
}

/// The result of `create_customer_checked`.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum FfiCreateOutcome {
    /// Saved; `candidates` are possible duplicates still worth a look.
    Created {
        /// The new customer.
        customer: FfiCustomer,
        /// Remaining candidates, best first.
        candidates: Vec<FfiDuplicateCandidate>,
    },
    /// Nothing saved: these look like the same company.
    Duplicates {
        /// Candidates, best first.
        candidates: Vec<FfiDuplicateCandidate>,
    },
}

/// A visit in a list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiVisitSummary {
    /// Document id.
    pub id: String,
    /// The customer visited.
    pub customer_id: String,
    /// The deal, if any.
    pub opportunity_id: Option<String>,
    /// When it started, or is planned, Unix ms.
    pub at: i64,
    /// Check-in time.
    pub started_at: Option<i64>,
    /// Check-out time.
    pub ended_at: Option<i64>,
    /// Photos attached.
    pub photo_count: u32,
}

/// The fields of a new deal.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiNewOpportunity {
    /// The customer.
    pub customer_id: String,
    /// Owning rep.
    pub owner: String,
    /// What is being sold.
    pub title: String,
    /// Stage.
    pub stage: FfiStage,
    /// Amount in minor units (fen), with `currency`.
    pub amount_minor_units: Option<i64>,
    /// ISO 4217 currency of the amount, e.g. `CNY`.
    pub currency: Option<String>,
    /// Expected close, Unix ms.
    pub expected_close_at: Option<i64>,
    /// Next action due, Unix ms.
    pub next_action_due_at: Option<i64>,
}

/// A deal as stored or listed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiOpportunity {
    /// Document id.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// Owning rep.
    pub owner: String,
    /// What is being sold.
    pub title: String,
    /// Stage.
    pub stage: FfiStage,
    /// When it entered the stage, Unix ms.
    pub stage_entered_at: i64,
    /// Next action due, Unix ms.
    pub next_action_due_at: Option<i64>,
    /// Amount in minor units.
    pub amount_minor_units: Option<i64>,
    /// Currency of the amount.
    pub currency: Option<String>,
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
        FfiCustomerSummary {
            id: c.id.to_string(),
            company_name: c.company_name,
            first_phone: c.first_phone,
            distance_m: c.distance_m,
            heat: c.heat.map(Into::into),
        }
    }
}

impl From<MatchReason> for FfiMatchReason {
    fn from(reason: MatchReason) -> Self {
        let (code, phone) = match reason {
            MatchReason::CreditCodeMatch => ("credit_code_match", None),
            MatchReason::CreditCodeMismatch => ("credit_code_mismatch", None),
            MatchReason::SharedPhone { e164, .. } => ("shared_phone", Some(e164)),
            MatchReason::SharedSwitchboard { e164 } => ("shared_switchboard", Some(e164)),
            MatchReason::SameName => ("same_name", None),
            MatchReason::SimilarName => ("similar_name", None),
            MatchReason::DifferentNameWord => ("different_name_word", None),
            MatchReason::DifferentRegions => ("different_regions", None),
            MatchReason::BranchOfSameCompany => ("branch_of_same_company", None),
        };
        FfiMatchReason { code: code.into(), phone }
    }
}

impl From<DuplicateCandidate> for FfiDuplicateCandidate {
    fn from(c: DuplicateCandidate) -> Self {
        FfiDuplicateCandidate {
            customer: c.customer.into(),
            matched_id: c.matched.to_string(),
            score: c.score,
            decision: match c.decision {
                Decision::Same => "same",
                Decision::Possible => "possible",
                Decision::Different => "different",
            }
            .into(),
            reasons: c.reasons.into_iter().map(Into::into).collect(),
            warning: c.warning,
        }
    }
}

/// Converts a list of core values into their FFI records.
pub(crate) fn records<T, F: From<T>>(list: Vec<T>) -> Vec<F> {
    list.into_iter().map(Into::into).collect()
}

impl From<VisitSummary> for FfiVisitSummary {
    fn from(v: VisitSummary) -> Self {
        FfiVisitSummary {
            id: v.id.to_string(),
            customer_id: v.customer_id.to_string(),
            opportunity_id: v.opportunity_id.map(|o| o.to_string()),
            at: v.at,
            started_at: v.started_at,
            ended_at: v.ended_at,
            photo_count: v.photo_count,
        }
    }
}

impl From<OpportunitySummary> for FfiOpportunity {
    fn from(o: OpportunitySummary) -> Self {
        let (amount_minor_units, currency) = o.amount.unzip();
        FfiOpportunity {
            id: o.id.to_string(),
            customer_id: o.customer_id.to_string(),
            owner: o.owner,
            title: o.title,
            stage: o.stage.into(),
            stage_entered_at: o.stage_entered_at,
            next_action_due_at: o.next_action_due_at,
            amount_minor_units,
            currency,
        }
    }
}

impl From<Opportunity> for FfiOpportunity {
    fn from(o: Opportunity) -> Self {
        OpportunitySummary {
            id: o.id,
            customer_id: o.customer_id,
            owner: o.owner,
            title: o.title,
            stage: o.stage,
            stage_entered_at: o.stage_entered_at,
            next_action_due_at: o.next_action_due_at,
            amount: o.amount.map(|m| (m.minor_units, m.currency)),
        }
        .into()
    }
}

/// A deal's stage in the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiStage {
    /// 初步接触.
    FirstContact,
    /// 需求确认.
    NeedsConfirmed,
    /// 方案报价.
    ProposalSubmitted,
    /// 商务谈判.
    Negotiation,
    /// 合同签订.
    ContractSigning,
    /// 赢单.
    Won,
    /// 输单.
    Lost,
}

impl From<FfiStage> for Stage {
    fn from(stage: FfiStage) -> Self {
        match stage {
            FfiStage::FirstContact => Stage::FirstContact,
            FfiStage::NeedsConfirmed => Stage::NeedsConfirmed,
            FfiStage::ProposalSubmitted => Stage::ProposalSubmitted,
            FfiStage::Negotiation => Stage::Negotiation,
            FfiStage::ContractSigning => Stage::ContractSigning,
            FfiStage::Won => Stage::Won,
            FfiStage::Lost => Stage::Lost,
        }
    }
}

impl From<Stage> for FfiStage {
    fn from(stage: Stage) -> Self {
        match stage {
            Stage::FirstContact => FfiStage::FirstContact,
            Stage::NeedsConfirmed => FfiStage::NeedsConfirmed,
            Stage::ProposalSubmitted => FfiStage::ProposalSubmitted,
            Stage::Negotiation => FfiStage::Negotiation,
            Stage::ContractSigning => FfiStage::ContractSigning,
            Stage::Won => FfiStage::Won,
            Stage::Lost => FfiStage::Lost,
        }
    }
}

fn new_customer(customer: FfiNewCustomer) -> Result<NewCustomer, FfiError> {
    Ok(NewCustomer {
        company_name: customer.company_name,
        phones: customer.phones,
        address: customer.address,
        tags: customer.tags,
        location: customer.location.map(location).transpose()?,
        credit_code: customer.credit_code,
        ..Default::default()
    })
}

/// The device's offline store. Call `close()` when done; do not rely on garbage collection.
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    inner: Arc<Store>,
    location: Option<LocationSource>,
}

impl FieldStore {
    /// The core store, for the other exported method groups.
    pub(crate) fn core(&self) -> &Store {
        &self.inner
    }

    /// A shared handle on the core store, for work on the library's runtime.
    pub(crate) fn shared(&self) -> Arc<Store> {
        Arc::clone(&self.inner)
    }

    /// The location service given to `open_with`, if any.
    pub(crate) fn location_service(&self) -> Option<&LocationSource> {
        self.location.as_ref()
    }
}

fn checked_path(path: &str) -> Result<(), FfiError> {
    if path.trim().is_empty() {
        return Err(invalid("the store path is empty"));
    }
    Ok(())
}

#[uniffi::export]
impl FieldStore {
    /// Opens (or creates) the store file at `path`, with the system clock and the device key
    /// kept in the file.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, FfiError> {
        guard(|| {
            checked_path(&path)?;
            Ok(Arc::new(FieldStore { inner: Arc::new(Store::open(path)?), location: None }))
        })
    }

    /// Opens (or creates) the store with the phone's services: `clock` for every timestamp
    /// (`None`: the system clock), `key_storage` for the device key and relay token (`None`: kept
    /// in the store file; a key already in the file moves to the key storage), and `location`
    /// for `check_in_here`.
    #[uniffi::constructor]
    pub fn open_with(
        path: String,
        clock: Option<Arc<dyn PhoneClock>>,
        key_storage: Option<Arc<dyn SecureKeyStorage>>,
        location: Option<Arc<dyn LocationService>>,
    ) -> Result<Arc<Self>, FfiError> {
        guard(|| {
            checked_path(&path)?;
            let mut options = StoreOptions::default();
            if let Some(clock) = clock {
                options.clock = Arc::new(ForeignClock::new(clock));
            }
            let store = match key_storage {
                Some(keys) => {
                    Store::open_with_secrets(path, options, Arc::new(ForeignKeyStorage::new(keys)))?
                }
                None => Store::open_with(path, options)?,
            };
            Ok(Arc::new(FieldStore { inner: Arc::new(store), location: location.map(LocationSource::new) }))
        })
    }

    /// Closes the store; later calls fail with `StoreUnavailable`. Closing twice is harmless.
    pub fn close(&self) -> Result<(), FfiError> {
        guard(|| Ok(self.inner.close()?))
    }

    /// This device's id (hex).
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// Creates a customer offline, without the duplicate check.
    pub fn create_customer(&self, customer: FfiNewCustomer) -> Result<FfiCustomer, FfiError> {
        guard(|| Ok(self.inner.create(new_customer(customer)?)?.into()))
    }

    /// Creates a customer after the duplicate check: with `WarnIfDuplicates` nothing is saved
    /// when a candidate reaches the warning bar; with `CreateAnyway` it is saved regardless.
    pub fn create_customer_checked(
        &self,
        customer: FfiNewCustomer,
        mode: FfiCreateMode,
    ) -> Result<FfiCreateOutcome, FfiError> {
        guard(|| {
            let mode = match mode {
                FfiCreateMode::WarnIfDuplicates => CreateMode::WarnIfDuplicates,
                FfiCreateMode::CreateAnyway => CreateMode::CreateAnyway,
            };
            Ok(match self.inner.create_customer_checked(new_customer(customer)?, mode)? {
                CreateOutcome::Created { customer, candidates } => {
                    FfiCreateOutcome::Created { customer: customer.into(), candidates: records(candidates) }
                }
                CreateOutcome::Duplicates(candidates) => {
                    FfiCreateOutcome::Duplicates { candidates: records(candidates) }
                }
            })
        })
    }

    /// Existing customers a new customer may duplicate, best first (nothing is saved).
    pub fn duplicate_candidates(
        &self,
        customer: FfiNewCustomer,
    ) -> Result<Vec<FfiDuplicateCandidate>, FfiError> {
        guard(|| Ok(records(self.inner.duplicate_candidates(&new_customer(customer)?)?)))
    }

    /// Reads a customer by id.
    pub fn customer(&self, id: String) -> Result<FfiCustomer, FfiError> {
        guard(|| Ok(self.inner.get::<Customer>(crate::capture::id(&id)?)?.into()))
    }

    /// Customers whose name starts with `prefix`, in name order.
    pub fn customers_by_name_prefix(
        &self,
        prefix: String,
        limit: u32,
    ) -> Result<Vec<FfiCustomerSummary>, FfiError> {
        guard(|| Ok(records(self.inner.customers_by_name_prefix(&prefix, limit)?)))
    }

    /// Customers with a phone number starting with `prefix` (country code and separators ignored).
    pub fn customers_by_phone_prefix(
        &self,
        prefix: String,
        limit: u32,
    ) -> Result<Vec<FfiCustomerSummary>, FfiError> {
        guard(|| Ok(records(self.inner.customers_by_phone_prefix(&prefix, limit)?)))
    }

    /// Customers within `radius_m` metres of `point` (any datum), nearest first.
    pub fn customers_near(
        &self,
        point: FfiFix,
        radius_m: f64,
        limit: u32,
    ) -> Result<Vec<FfiCustomerSummary>, FfiError> {
        guard(|| {
            if !(radius_m.is_finite() && radius_m >= 0.0) {
                return Err(invalid(format!("radius {radius_m} m is not a distance; give metres ≥ 0")));
            }
            Ok(records(self.inner.customers_near(&location(point)?, radius_m, limit)?))
        })
    }

    /// Visits planned or started between `from` and `to` (Unix ms), by time.
    pub fn visits_between(&self, from: i64, to: i64) -> Result<Vec<FfiVisitSummary>, FfiError> {
        guard(|| Ok(records(self.inner.visits_between(from, to)?)))
    }

    /// Creates a deal offline.
    pub fn create_opportunity(&self, opportunity: FfiNewOpportunity) -> Result<FfiOpportunity, FfiError> {
        guard(|| {
            let amount = match (opportunity.amount_minor_units, opportunity.currency) {
                (Some(minor_units), Some(currency)) => Some(Money { minor_units, currency }),
                (None, None) => None,
                _ => return Err(invalid("give both amount_minor_units and currency, or neither")),
            };
            let created = self.inner.create(NewOpportunity {
                customer_id: id(&opportunity.customer_id)?,
                owner: opportunity.owner,
                title: opportunity.title,
                stage: opportunity.stage.into(),
                amount,
                expected_close_at: opportunity.expected_close_at,
                next_action_due_at: opportunity.next_action_due_at,
            })?;
            Ok(created.into())
        })
    }

    /// Deals in `stage`, longest-waiting first.
    pub fn opportunities_in_stage(
        &self,
        stage: FfiStage,
        limit: u32,
    ) -> Result<Vec<FfiOpportunity>, FfiError> {
        guard(|| Ok(records(self.inner.opportunities_in_stage(stage.into(), limit)?)))
    }

    /// Open deals whose next action is due before `before` (Unix ms), most overdue first.
    pub fn opportunities_due_before(&self, before: i64, limit: u32) -> Result<Vec<FfiOpportunity>, FfiError> {
        guard(|| Ok(records(self.inner.opportunities_due_before(before, limit)?)))
    }

    /// Changes waiting for the relay.
    pub fn outbox_len(&self) -> Result<u64, FfiError> {
        guard(|| Ok(self.inner.outbox_len()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> FfiNewCustomer {
        FfiNewCustomer {
            company_name: name.into(),
            phones: vec![],
            address: None,
            tags: vec![],
            location: None,
            credit_code: None,
        }
    }

    #[test]
    fn store_errors_arrive_as_typed_ffi_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fieldsync").to_string_lossy().into_owned();
        let store = FieldStore::open(path.clone()).unwrap();
        let created = store.create_customer(named("温州正泰")).unwrap();
        assert_eq!(store.customer(created.id.clone()).unwrap().company_name, "温州正泰");
        assert!(matches!(store.customer("not-an-id".into()), Err(FfiError::InvalidInput { .. })));
        assert!(matches!(store.create_customer(named("")), Err(FfiError::InvalidInput { .. })));
        assert!(matches!(FieldStore::open(path), Err(FfiError::StoreUnavailable { .. })));
        store.close().unwrap();
        assert!(matches!(store.outbox_len(), Err(FfiError::StoreUnavailable { .. })));
        assert!(matches!(FieldStore::open(" ".into()), Err(FfiError::InvalidInput { .. })));
    }

    #[test]
    fn a_warned_duplicate_is_not_saved_until_the_rep_insists() {
        let dir = tempfile::tempdir().unwrap();
        let store = FieldStore::open(dir.path().join("s.fieldsync").to_string_lossy().into_owned()).unwrap();
        let mut first = named("苏州精工机械有限公司");
        first.phones = vec!["0512-6888 8888".into()];
        store.create_customer(first.clone()).unwrap();
        let candidates = store.duplicate_candidates(first.clone()).unwrap();
        assert!(candidates[0].warning, "{candidates:?}");
        assert!(candidates[0].reasons.iter().any(|r| r.code == "shared_phone"));
        assert!(matches!(
            store.create_customer_checked(first.clone(), FfiCreateMode::WarnIfDuplicates).unwrap(),
            FfiCreateOutcome::Duplicates { .. }
        ));
        assert_eq!(store.outbox_len().unwrap(), 1);
        assert!(matches!(
            store.create_customer_checked(first, FfiCreateMode::CreateAnyway).unwrap(),
            FfiCreateOutcome::Created { .. }
        ));
        assert_eq!(store.outbox_len().unwrap(), 2);
        store.close().unwrap();
    }
}
