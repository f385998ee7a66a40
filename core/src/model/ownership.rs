//! Who owns a customer (客户归属) and the public pool (公海).
//!
//! Ownership is the relay's to decide: a phone never writes it. Two records carry it:
//!
//! - [`Ownership`], one per customer, written by the relay only (like alerts). Every device of
//!   the team receives it, so a rep sees that a customer exists and who owns it, or that it is
//!   in the pool, without receiving the customer's own document (its contacts) when it is
//!   not theirs. Its id derives from the customer's ([`ownership_id`]).
//! - [`ClaimRequest`], written by a phone to claim a customer from the pool or release one of
//!   its own, offline. The relay decides each when it arrives and writes the [`ClaimDecision`]
//!   into the same document, so the rep's phone learns the outcome, and why, on its next sync.
//!
//! [`return_due_at`] is the one rule for when an owned customer returns to the pool; the relay's
//! scheduler and the phone's warning both use it.

use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use sha2::{Digest, Sha256};

use super::{
    Provenance, Record, RecordKind, TeamRules, ValidationError, limit_list, limit_text, require_text,
};
use crate::clock::UnixMillis;
use crate::ids::DocId;

const DAY_MS: i64 = 86_400_000;

/// Entries of [`Ownership::history`] kept (the oldest are dropped).
pub const MAX_OWNERSHIP_HISTORY: usize = 50;

/// Why a customer's owner is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub enum OwnershipReason {
    /// Its creator owns it (the default).
    Created,
    /// Its creator was at the team's limit of owned customers, so it went to the pool.
    OverLimit,
    /// A rep claimed it from the pool.
    Claimed,
    /// Its owner released it to the pool.
    Released,
    /// No effective follow-up (or no won deal) for the team's period: back to the pool.
    ReturnedToPool,
    /// An admin moved it to another rep (a rep leaving, `fieldsync admin transfer`).
    Transferred,
    /// Identity resolution merged it with another record; the rule in docs/ownership.md chose
    /// the owner.
    Merged,
}

impl OwnershipReason {
    /// Every reason, in a stable order.
    pub const ALL: [OwnershipReason; 7] = [
        OwnershipReason::Created,
        OwnershipReason::OverLimit,
        OwnershipReason::Claimed,
        OwnershipReason::Released,
        OwnershipReason::ReturnedToPool,
        OwnershipReason::Transferred,
        OwnershipReason::Merged,
    ];

    /// The name used in the FFI and the JSON APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnershipReason::Created => "created",
            OwnershipReason::OverLimit => "over_limit",
            OwnershipReason::Claimed => "claimed",
            OwnershipReason::Released => "released",
            OwnershipReason::ReturnedToPool => "returned_to_pool",
            OwnershipReason::Transferred => "transferred",
            OwnershipReason::Merged => "merged",
        }
    }
}

impl fmt::Display for OwnershipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of owner.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct OwnershipEvent {
    /// The owner from then on (a user id), `None` for the pool.
    pub owner_user_id: Option<String>,
    /// Why.
    pub reason: OwnershipReason,
    /// When (the relay's clock).
    pub at: UnixMillis,
    /// The user whose action it was (the claimant, the releasing owner, the admin), if any.
    pub by_user_id: Option<String>,
}

/// A rep who may not claim the customer again before `until`: they released it or lost it to
/// the pool.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Cooldown {
    /// The rep's user id.
    pub user_id: String,
    /// Until when (the relay's clock).
    pub until: UnixMillis,
}

/// A customer's owner as the relay decided it. Written by the relay only.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Ownership {
    /// Document id: [`ownership_id`] of the customer.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// The customer's company name, so reps who do not receive the customer see it exists.
    pub company_name: String,
    /// The owner (a user id), `None` while in the pool.
    pub owner_user_id: Option<String>,
    /// The owner's display name.
    pub owner_name: Option<String>,
    /// Since when the current owner (or the pool) has it.
    pub since: UnixMillis,
    /// Why.
    pub reason: OwnershipReason,
    /// The customer this record was merged into, when it was.
    pub merged_into: Option<DocId>,
    /// Who may not claim it yet.
    pub cooldowns: Vec<Cooldown>,
    /// Every change of owner, oldest first (at most [`MAX_OWNERSHIP_HISTORY`]).
    pub history: Vec<OwnershipEvent>,
    /// The relay's actor and when it first wrote this.
    pub provenance: Provenance,
}

impl Ownership {
    /// Whether the customer is in the public pool.
    pub fn in_pool(&self) -> bool {
        self.owner_user_id.is_none() && self.merged_into.is_none()
    }

    /// When `user` may claim the customer again, if a cooldown holds at `now`.
    pub fn cooldown_for(&self, user: &str, now: UnixMillis) -> Option<UnixMillis> {
        self.cooldowns.iter().filter(|c| c.user_id == user && c.until > now).map(|c| c.until).max()
    }
}

impl Record for Ownership {
    const KIND: RecordKind = RecordKind::Ownership;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        if self.id != ownership_id(self.customer_id) {
            return Err(ValidationError::new(kind, "id", "must be the ownership id of its customer"));
        }
        limit_text(kind, "company_name", &self.company_name, 200)?;
        if let Some(owner) = &self.owner_user_id {
            require_text(kind, "owner_user_id", owner, 100)?;
        }
        if let Some(name) = &self.owner_name {
            limit_text(kind, "owner_name", name, 200)?;
        }
        limit_list(kind, "cooldowns", &self.cooldowns, 1000)?;
        limit_list(kind, "history", &self.history, MAX_OWNERSHIP_HISTORY)?;
        Ok(())
    }
}

/// The id of the [`Ownership`] document of `customer`: derived, so the relay never needs to
/// look it up and every device agrees on it.
pub fn ownership_id(customer: DocId) -> DocId {
    let mut hasher = Sha256::new();
    hasher.update(b"fieldsync/ownership/v1\n");
    hasher.update(customer.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    DocId::from_bytes(bytes)
}

/// What a [`ClaimRequest`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate)]
pub enum ClaimAction {
    /// Take a customer from the pool (领取).
    Claim,
    /// Give one of one's own customers back to the pool (释放).
    Release,
}

impl ClaimAction {
    /// The name used in the FFI and the JSON APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimAction::Claim => "claim",
            ClaimAction::Release => "release",
        }
    }
}

/// Why the relay refused a claim or a release; the codes the phone shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimRefusal {
    /// Another rep owns the customer.
    OwnedByOther,
    /// The rep owns the team's maximum of customers.
    LimitReached,
    /// The rep released or lost it less than the team's cooldown ago.
    Cooldown,
    /// The customer is not one of the team's (or not known to the relay).
    NoSuchCustomer,
    /// The customer was merged into another; claim that one.
    Merged,
    /// A release of a customer the rep does not own.
    NotOwner,
    /// A claim of a customer the rep already owns.
    AlreadyOwner,
}

impl ClaimRefusal {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimRefusal::OwnedByOther => "owned_by_other",
            ClaimRefusal::LimitReached => "limit_reached",
            ClaimRefusal::Cooldown => "cooldown",
            ClaimRefusal::NoSuchCustomer => "no_such_customer",
            ClaimRefusal::Merged => "merged",
            ClaimRefusal::NotOwner => "not_owner",
            ClaimRefusal::AlreadyOwner => "already_owner",
        }
    }

    /// The refusal with this code.
    pub fn parse(code: &str) -> Option<ClaimRefusal> {
        [
            ClaimRefusal::OwnedByOther,
            ClaimRefusal::LimitReached,
            ClaimRefusal::Cooldown,
            ClaimRefusal::NoSuchCustomer,
            ClaimRefusal::Merged,
            ClaimRefusal::NotOwner,
            ClaimRefusal::AlreadyOwner,
        ]
        .into_iter()
        .find(|r| r.as_str() == code)
    }
}

impl fmt::Display for ClaimRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The relay's answer to a claim or release. Written by the relay only.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct ClaimDecision {
    /// Whether it was granted.
    pub granted: bool,
    /// `granted`, or a [`ClaimRefusal`] code.
    pub code: String,
    /// What the rep reads (who owns it, until when the cooldown lasts).
    pub message: String,
    /// The customer's owner after the decision (a user id), `None` for the pool.
    pub owner_user_id: Option<String>,
    /// When the relay decided.
    pub at: UnixMillis,
}

/// A rep's request to claim or release a customer, made offline.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ClaimRequest {
    /// Document id.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// Claim or release.
    pub action: ClaimAction,
    /// When the rep asked (the phone's clock).
    pub requested_at: UnixMillis,
    /// The relay's decision; `None` until it has seen the request.
    pub decision: Option<ClaimDecision>,
    /// The requesting device and when.
    pub provenance: Provenance,
}

impl Record for ClaimRequest {
    const KIND: RecordKind = RecordKind::ClaimRequest;

    fn id(&self) -> DocId {
        self.id
    }

    fn provenance(&self) -> Provenance {
        self.provenance
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let kind = Self::KIND;
        if let Some(decision) = &self.decision {
            require_text(kind, "decision.code", &decision.code, 40)?;
            limit_text(kind, "decision.message", &decision.message, 500)?;
        }
        Ok(())
    }
}

/// When a customer owned since `since`, last followed up effectively at `last_effective` (a
/// visit checked in on site, or a follow-up that says what was said) and with its last won deal
/// at `last_won`, returns to the pool under `rules`; `None` when no rule returns it. Times ahead
/// of `now` (a phone clock set forward) count as `now`, so they cannot hold a customer longer.
pub fn return_due_at(
    rules: &TeamRules,
    since: UnixMillis,
    last_effective: Option<UnixMillis>,
    last_won: Option<UnixMillis>,
    now: UnixMillis,
) -> Option<UnixMillis> {
    let after = |at: Option<UnixMillis>, days: u32| {
        (days > 0).then(|| at.map_or(since, |t| t.min(now)).max(since) + i64::from(days) * DAY_MS)
    };
    let quiet = after(last_effective, rules.pool_return_days);
    let unwon = after(last_won, rules.pool_return_without_won_days);
    match (quiet, unwon) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ownership_id_is_derived_and_stable() {
        let a = DocId::from_bytes([7; 16]);
        assert_eq!(ownership_id(a), ownership_id(a));
        assert_ne!(ownership_id(a), ownership_id(DocId::from_bytes([8; 16])));
        assert_ne!(ownership_id(a), a);
    }

    #[test]
    fn a_customer_returns_after_the_quiet_period_counted_from_its_last_effective_follow_up() {
        let mut rules = TeamRules::defaults();
        rules.pool_return_days = 30;
        rules.pool_return_without_won_days = 0;
        let now = 1_000 * DAY_MS;
        assert_eq!(return_due_at(&rules, 10 * DAY_MS, None, None, now), Some(40 * DAY_MS));
        assert_eq!(return_due_at(&rules, 10 * DAY_MS, Some(20 * DAY_MS), None, now), Some(50 * DAY_MS));
        // A follow-up before the owner had it does not count for them.
        assert_eq!(return_due_at(&rules, 10 * DAY_MS, Some(5 * DAY_MS), None, now), Some(40 * DAY_MS));
        // A follow-up dated ahead counts as now.
        assert_eq!(
            return_due_at(&rules, 10 * DAY_MS, Some(5_000 * DAY_MS), None, now),
            Some(now + 30 * DAY_MS)
        );
        rules.pool_return_without_won_days = 90;
        assert_eq!(return_due_at(&rules, 0, Some(80 * DAY_MS), None, now), Some(90 * DAY_MS));
        assert_eq!(return_due_at(&rules, 0, Some(80 * DAY_MS), Some(70 * DAY_MS), now), Some(110 * DAY_MS));
        rules.pool_return_days = 0;
        rules.pool_return_without_won_days = 0;
        assert_eq!(return_due_at(&rules, 0, None, None, now), None);
    }
}
