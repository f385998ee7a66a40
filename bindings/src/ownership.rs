//! Customer ownership and the public pool through the FFI (docs/ownership.md): who owns a
//! customer, the rep's own customers, the pool, claims and releases made offline with the relay's
//! decisions, and the warnings before a customer returns to the pool. Thin copies of
//! `fieldsync_core` calls.

use fieldsync_core::store::{ClaimStatus, OwnershipView, PoolWarning};

use crate::FfiError;
use crate::capture::id;
use crate::error::guard;
use crate::store::FieldStore;

/// A customer's owner as this phone last heard from the relay.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiOwnership {
    /// The customer.
    pub customer_id: String,
    /// Its company name (known even when its record is not on this phone).
    pub company_name: String,
    /// Its owner's user id; null in the pool.
    pub owner_user_id: Option<String>,
    /// The owner's name.
    pub owner_name: Option<String>,
    /// Since when, Unix ms.
    pub since: i64,
    /// Why: `created`, `over_limit`, `claimed`, `released`, `returned_to_pool`, `transferred`,
    /// `merged`.
    pub reason: String,
    /// The record it was merged into.
    pub merged_into: Option<String>,
    /// Whether this phone's user owns it.
    pub mine: bool,
    /// `claim` or `release` while this phone's request waits for the relay; null otherwise.
    pub pending: Option<String>,
}

/// A claim or release and, once synced, the relay's decision.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiClaim {
    /// The request's id.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// `claim` or `release`.
    pub action: String,
    /// When the rep asked, Unix ms.
    pub requested_at: i64,
    /// Whether the relay decided yet.
    pub decided: bool,
    /// Whether it was granted (false while undecided).
    pub granted: bool,
    /// `granted`, or why not (`owned_by_other`, `limit_reached`, `cooldown`, …); null while
    /// undecided.
    pub code: Option<String>,
    /// What the rep reads; null while undecided.
    pub message: Option<String>,
}

/// One of the rep's customers that returns to the pool soon unless followed up.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiPoolWarning {
    /// The customer.
    pub customer_id: String,
    /// Its company name.
    pub company_name: String,
    /// When it returns to the pool, Unix ms.
    pub returns_at: i64,
}

impl From<OwnershipView> for FfiOwnership {
    fn from(o: OwnershipView) -> Self {
        FfiOwnership {
            customer_id: o.customer_id.to_string(),
            company_name: o.company_name,
            owner_user_id: o.owner_user_id,
            owner_name: o.owner_name,
            since: o.since,
            reason: o.reason,
            merged_into: o.merged_into.map(|m| m.to_string()),
            mine: o.mine,
            pending: o.pending.map(|p| p.as_str().to_owned()),
        }
    }
}

impl From<ClaimStatus> for FfiClaim {
    fn from(c: ClaimStatus) -> Self {
        let decision = c.decision;
        FfiClaim {
            id: c.id.to_string(),
            customer_id: c.customer_id.to_string(),
            action: c.action.as_str().to_owned(),
            requested_at: c.requested_at,
            decided: decision.is_some(),
            granted: decision.as_ref().is_some_and(|d| d.0),
            code: decision.as_ref().map(|d| d.1.clone()),
            message: decision.map(|d| d.2),
        }
    }
}

impl From<PoolWarning> for FfiPoolWarning {
    fn from(w: PoolWarning) -> Self {
        FfiPoolWarning {
            customer_id: w.customer_id.to_string(),
            company_name: w.company_name,
            returns_at: w.returns_at,
        }
    }
}

fn claim_of(store: &FieldStore, claim_id: fieldsync_core::DocId) -> Result<FfiClaim, FfiError> {
    store.core().claims(1000)?.into_iter().find(|c| c.id == claim_id).map(FfiClaim::from).ok_or_else(|| {
        FfiError::Internal { message: format!("claim {claim_id} was saved but is not listed") }
    })
}

#[uniffi::export]
impl FieldStore {
    /// Who owns a customer, as this phone last heard; null before the relay said.
    pub fn ownership(&self, customer_id: String) -> Result<Option<FfiOwnership>, FfiError> {
        guard(|| Ok(self.core().ownership(id(&customer_id)?)?.map(Into::into)))
    }

    /// The public pool (公海) by company name: `limit` (at most 500) after the name `after`.
    pub fn pool_customers(&self, after: Option<String>, limit: u32) -> Result<Vec<FfiOwnership>, FfiError> {
        guard(|| {
            Ok(self.core().pool_customers(after.as_deref(), limit)?.into_iter().map(Into::into).collect())
        })
    }

    /// Every listed customer of the team whose company name starts with `prefix` (owned by
    /// anyone, or in the pool): shows a rep that a company exists, and who owns it, before they
    /// enter it again.
    pub fn listed_customers(&self, prefix: String, limit: u32) -> Result<Vec<FfiOwnership>, FfiError> {
        guard(|| Ok(self.core().listed_customers(&prefix, limit)?.into_iter().map(Into::into).collect()))
    }

    /// The customers this phone's user owns (私海).
    pub fn my_customers(&self) -> Result<Vec<FfiOwnership>, FfiError> {
        guard(|| Ok(self.core().my_customers()?.into_iter().map(Into::into).collect()))
    }

    /// Claims a pool customer, offline; the relay decides on the next sync (first claim to reach
    /// it wins). `ClaimRefused` when the phone already knows it would be refused; nothing saved.
    pub fn claim_customer(&self, customer_id: String) -> Result<FfiClaim, FfiError> {
        guard(|| {
            let claim = self.core().claim_customer(id(&customer_id)?)?;
            claim_of(self, claim.id)
        })
    }

    /// Releases one of this user's customers to the pool, offline.
    pub fn release_customer(&self, customer_id: String) -> Result<FfiClaim, FfiError> {
        guard(|| {
            let claim = self.core().release_customer(id(&customer_id)?)?;
            claim_of(self, claim.id)
        })
    }

    /// This phone's claims and releases, newest first, with the relay's decisions.
    pub fn claims(&self, limit: u32) -> Result<Vec<FfiClaim>, FfiError> {
        guard(|| Ok(self.core().claims(limit)?.into_iter().map(Into::into).collect()))
    }

    /// This user's customers returning to the pool within the team's warning period of `now`.
    pub fn pool_warnings(&self, now: i64) -> Result<Vec<FfiPoolWarning>, FfiError> {
        guard(|| Ok(self.core().pool_warnings(now)?.into_iter().map(Into::into).collect()))
    }
}
