//! Customer ownership and the public pool on the phone (issue 13, docs/ownership.md).
//!
//! The relay decides who owns a customer; the phone keeps what it learnt (`ownership_index`, from
//! the relay's `ownership` documents) and its own requests (`claim_index`). A claim or release
//! is a `claim` document the phone writes offline; the phone first refuses what it already knows
//! the relay would refuse (another rep owns it, the rep's limit, a cooldown), with a typed error
//! and nothing saved. The warning before a customer returns to the pool is computed here from
//! the same rule the relay's scheduler runs ([`crate::model::return_due_at`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::error::{Result, StoreError};
use super::exchange::mark_to_fetch;
use super::funnel::effective_rules;
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{
    ClaimAction, ClaimRefusal, ClaimRequest, Ownership, Provenance, Record, RecordKind, TeamRules,
    return_due_at,
};

/// The most rows one pool page returns.
pub const MAX_POOL_PAGE: u32 = 500;

/// A customer's owner as this phone last heard from the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipView {
    /// The customer.
    pub customer_id: DocId,
    /// Its company name (known even when the customer's own record is not on this phone).
    pub company_name: String,
    /// Its owner (a user id); `None` in the pool.
    pub owner_user_id: Option<String>,
    /// The owner's name.
    pub owner_name: Option<String>,
    /// Since when.
    pub since: UnixMillis,
    /// Why (`created`, `claimed`, `returned_to_pool`, …).
    pub reason: String,
    /// The record it was merged into, if it was.
    pub merged_into: Option<DocId>,
    /// Whether this phone's user owns it.
    pub mine: bool,
    /// A claim or release of this phone not decided by the relay yet.
    pub pending: Option<ClaimAction>,
}

/// A customer of this phone's user that returns to the pool soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolWarning {
    /// The customer.
    pub customer_id: DocId,
    /// Its company name.
    pub company_name: String,
    /// When it returns to the pool unless followed up (a visit checked in on site, or a
    /// follow-up that says what was said) before.
    pub returns_at: UnixMillis,
}

/// One of this phone's claims or releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimStatus {
    /// The request.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// Claim or release.
    pub action: ClaimAction,
    /// When it was made.
    pub requested_at: UnixMillis,
    /// The relay's decision: granted, the code (`granted` or a refusal), the message, when.
    pub decision: Option<(bool, String, String, UnixMillis)>,
}

fn action_of(s: &str) -> Option<ClaimAction> {
    match s {
        "claim" => Some(ClaimAction::Claim),
        "release" => Some(ClaimAction::Release),
        _ => None,
    }
}

/// The user this phone was enrolled for, if it was.
pub(crate) fn user_of(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM sync_state WHERE singleton = 1")?
        .query_row([], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub(crate) fn project_ownership(conn: &Connection, ownership: &Ownership) -> Result<()> {
    // Whether the listing said someone else (or the pool) before: a customer given back to this
    // phone's user after it was theirs once, whose copy here missed the changes made meanwhile.
    let before: Option<Option<String>> = conn
        .prepare_cached("SELECT owner_user_id FROM ownership_index WHERE customer_id = ?1")?
        .query_row([ownership.customer_id], |r| r.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO ownership_index
         (customer_id, doc_id, company_name, owner_user_id, owner_name, since, reason, merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ownership.customer_id,
        ownership.id,
        ownership.company_name,
        ownership.owner_user_id,
        ownership.owner_name,
        ownership.since,
        ownership.reason.as_str(),
        ownership.merged_into
    ])?;
    // A customer this phone's user was just given (a granted claim, a transfer, a merge) whose
    // record the relay never sent here, or sent before it went to someone else: fetch it after
    // the sync, like a repair (the follow-ups and cards about it come with it).
    let me = user_of(conn)?;
    let mine = ownership.owner_user_id.is_some() && ownership.owner_user_id == me;
    if mine {
        let present: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?1)")?
            .query_row([ownership.customer_id], |r| r.get(0))?;
        let regained = before.is_some_and(|owner| owner != me);
        if !present || regained {
            mark_to_fetch(
                conn,
                ownership.customer_id,
                "the relay gave this customer to this phone's user; fetching its record",
                ownership.since,
            )?;
        }
    }
    Ok(())
}

pub(crate) fn project_claim(conn: &Connection, claim: &ClaimRequest) -> Result<()> {
    let decision = claim.decision.as_ref();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO claim_index
         (doc_id, customer_id, created_by, action, requested_at, decided_at, granted, code, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        claim.id,
        claim.customer_id,
        claim.provenance.created_by.to_string(),
        claim.action.as_str(),
        claim.requested_at,
        decision.map(|d| d.at),
        decision.map(|d| d.granted),
        decision.map(|d| d.code.as_str()),
        decision.map(|d| d.message.as_str())
    ])?;
    Ok(())
}

/// The rows of [`OwnershipView`]; `device` is the number of the parameter holding this phone's
/// device id (whose waiting claim shows as `pending`).
fn view_sql(device: usize) -> String {
    format!(
        "SELECT o.customer_id, o.company_name, o.owner_user_id, o.owner_name, o.since, o.reason, o.merged_into,
                (SELECT c.action FROM claim_index c
                  WHERE c.created_by = ?{device} AND c.customer_id = o.customer_id AND c.decided_at IS NULL
                  ORDER BY c.requested_at DESC LIMIT 1)
           FROM ownership_index o"
    )
}

fn view_row(row: &rusqlite::Row<'_>, me: Option<&str>) -> rusqlite::Result<OwnershipView> {
    let owner: Option<String> = row.get(2)?;
    let pending: Option<String> = row.get(7)?;
    Ok(OwnershipView {
        customer_id: row.get(0)?,
        company_name: row.get(1)?,
        mine: owner.is_some() && owner.as_deref() == me,
        owner_user_id: owner,
        owner_name: row.get(3)?,
        since: row.get(4)?,
        reason: row.get(5)?,
        merged_into: row.get(6)?,
        pending: pending.as_deref().and_then(action_of),
    })
}

fn refused(code: ClaimRefusal, message: impl Into<String>) -> StoreError {
    StoreError::ClaimRefused { code, message: message.into() }
}

impl Store {
    /// Remembers the user this phone was enrolled for (from the relay's enrollment answer):
    /// ownership belongs to users, not devices.
    pub fn set_user(&self, user_id: &str, role: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO sync_state (singleton, user_id, user_role) VALUES (1, ?1, ?2)
                 ON CONFLICT (singleton) DO UPDATE SET user_id = ?1, user_role = ?2",
                params![user_id, role],
            )?;
            // Ownership documents that arrived before name this user too.
            let granted: Vec<DocId> = tx
                .prepare(
                    "SELECT o.customer_id FROM ownership_index o
                     WHERE o.owner_user_id = ?1
                       AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = o.customer_id)",
                )?
                .query_map([user_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in granted {
                mark_to_fetch(tx, id, "this phone's user owns this customer; fetching its record", 0)?;
            }
            Ok(())
        })
    }

    /// The user this phone was enrolled for, and their role.
    pub fn user(&self) -> Result<Option<(String, String)>> {
        self.db.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT user_id, user_role FROM sync_state WHERE singleton = 1")?
                .query_row([], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<String>>(1)?)))
                .optional()?
                .and_then(|(u, r)| u.map(|u| (u, r.unwrap_or_default()))))
        })
    }

    /// Who owns `customer`, as this phone last heard; `None` when the relay has not said yet.
    pub fn ownership(&self, customer: DocId) -> Result<Option<OwnershipView>> {
        self.db.read(|conn| {
            let me = user_of(conn)?;
            Ok(conn
                .prepare_cached(&format!("{} WHERE o.customer_id = ?1", view_sql(2)))?
                .query_row(params![customer, self.device_id().to_string()], |r| view_row(r, me.as_deref()))
                .optional()?)
        })
    }

    /// The public pool (公海): customers nobody owns, by company name, `limit` (at most
    /// [`MAX_POOL_PAGE`]) after the name `after`.
    pub fn pool_customers(&self, after: Option<&str>, limit: u32) -> Result<Vec<OwnershipView>> {
        let limit = limit.clamp(1, MAX_POOL_PAGE);
        self.db.read(|conn| {
            let me = user_of(conn)?;
            let rows = conn
                .prepare_cached(&format!(
                    "{} WHERE o.owner_user_id IS NULL AND o.merged_into IS NULL
                       AND o.company_name > coalesce(?1, '')
                     ORDER BY o.company_name LIMIT ?2",
                    view_sql(3)
                ))?
                .query_map(params![after, limit, self.device_id().to_string()], |r| {
                    view_row(r, me.as_deref())
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Every listed customer of the team (owned by anyone, or in the pool) whose company name
    /// starts with `prefix`, by name, at most `limit` (≤ [`MAX_POOL_PAGE`]): what a rep about to
    /// enter a company checks, so they see it exists and who owns it even when its record is not
    /// on this phone.
    pub fn listed_customers(&self, prefix: &str, limit: u32) -> Result<Vec<OwnershipView>> {
        let limit = limit.clamp(1, MAX_POOL_PAGE);
        let prefix = prefix.trim();
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        // A range on the name instead of LIKE: no escaping of `%` and `_`, and the index serves it.
        let upper = format!("{prefix}\u{10FFFF}");
        self.db.read(|conn| {
            let me = user_of(conn)?;
            let rows = conn
                .prepare_cached(&format!(
                    "{} WHERE o.merged_into IS NULL AND o.company_name >= ?1 AND o.company_name < ?2
                     ORDER BY o.company_name LIMIT ?3",
                    view_sql(4)
                ))?
                .query_map(params![prefix, upper, limit, self.device_id().to_string()], |r| {
                    view_row(r, me.as_deref())
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// The customers this phone's user owns (私海), by company name.
    pub fn my_customers(&self) -> Result<Vec<OwnershipView>> {
        self.db.read(|conn| {
            let Some(me) = user_of(conn)? else { return Ok(Vec::new()) };
            let rows = conn
                .prepare_cached(&format!(
                    "{} WHERE o.owner_user_id = ?1 ORDER BY o.company_name",
                    view_sql(2)
                ))?
                .query_map(params![&me, self.device_id().to_string()], |r| view_row(r, Some(&me)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Claims `customer` from the pool, offline: saves a claim the relay decides on the next
    /// sync (first to reach the relay wins). Refused here, with nothing saved, when this phone
    /// already knows the relay would refuse it: another rep owns it, this user owns the team's
    /// maximum, or released or lost it less than the team's cooldown ago. A claim already
    /// waiting for the relay is returned as it is.
    pub fn claim_customer(&self, customer: DocId) -> Result<ClaimRequest> {
        self.request(customer, ClaimAction::Claim)
    }

    /// Releases one of this user's customers to the pool, offline (the relay applies it on the
    /// next sync). Refused with [`ClaimRefusal::NotOwner`] for a customer this user does not own.
    pub fn release_customer(&self, customer: DocId) -> Result<ClaimRequest> {
        self.request(customer, ClaimAction::Release)
    }

    fn request(&self, customer: DocId, action: ClaimAction) -> Result<ClaimRequest> {
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            let me = user_of(tx)?.ok_or(StoreError::NotEnrolled)?;
            let device = self.device_id().to_string();
            let waiting: Option<DocId> = tx
                .prepare_cached(
                    "SELECT doc_id FROM claim_index
                     WHERE created_by = ?3 AND customer_id = ?1 AND action = ?2 AND decided_at IS NULL LIMIT 1",
                )?
                .query_row(params![customer, action.as_str(), device], |r| r.get(0))
                .optional()?;
            if let Some(id) = waiting {
                return super::find_in::<ClaimRequest>(tx, id)?
                    .ok_or(StoreError::NotFound { kind: RecordKind::ClaimRequest, id });
            }
            let known = tx
                .prepare_cached(&format!("{} WHERE o.customer_id = ?1", view_sql(2)))?
                .query_row(params![customer, device], |r| view_row(r, Some(&me)))
                .optional()?;
            let rules = effective_rules(tx)?;
            match (action, &known) {
                (_, Some(view)) if view.merged_into.is_some() => {
                    return Err(refused(
                        ClaimRefusal::Merged,
                        format!("this customer was merged into {}", view.merged_into.unwrap_or(customer)),
                    ));
                }
                (ClaimAction::Claim, Some(view)) if view.mine => {
                    return Err(refused(ClaimRefusal::AlreadyOwner, "this customer is already yours"));
                }
                (ClaimAction::Claim, Some(view)) if view.owner_user_id.is_some() => {
                    let who = view.owner_name.clone().or(view.owner_user_id.clone()).unwrap_or_default();
                    return Err(refused(ClaimRefusal::OwnedByOther, format!("{who} owns this customer")));
                }
                (ClaimAction::Release, Some(view)) if !view.mine => {
                    return Err(refused(ClaimRefusal::NotOwner, "only its owner can release this customer"));
                }
                (ClaimAction::Release, None) => {
                    return Err(refused(ClaimRefusal::NotOwner, "the relay has not made you its owner"));
                }
                _ => {}
            }
            if action == ClaimAction::Claim {
                if let Some(ownership) = super::find_in::<Ownership>(tx, crate::model::ownership_id(customer))?
                    && let Some(until) = ownership.cooldown_for(&me, now)
                {
                    return Err(refused(
                        ClaimRefusal::Cooldown,
                        format!("you released or lost this customer; you may claim it again from {until} (ms)"),
                    ));
                }
                let owned: u32 = tx
                    .prepare_cached(
                        "SELECT (SELECT count(*) FROM ownership_index WHERE owner_user_id = ?1)
                              + (SELECT count(*) FROM claim_index
                                  WHERE created_by = ?2 AND action = 'claim' AND decided_at IS NULL)",
                    )?
                    .query_row(params![&me, device], |r| r.get(0))?;
                if owned >= rules.max_owned_customers {
                    return Err(refused(
                        ClaimRefusal::LimitReached,
                        format!("you own (or have claimed) {owned} customers; the team's limit is {}", rules.max_owned_customers),
                    ));
                }
            }
            let claim = ClaimRequest {
                id: DocId::generate(),
                customer_id: customer,
                action,
                requested_at: now,
                decision: None,
                provenance: Provenance { created_at: now, created_by: self.device_id() },
            };
            claim.validate()?;
            self.insert_record(tx, &claim, now)?;
            Ok(claim)
        })
    }

    /// This phone's claims and releases, newest first, with the relay's decisions.
    pub fn claims(&self, limit: u32) -> Result<Vec<ClaimStatus>> {
        self.db.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT doc_id, customer_id, action, requested_at, decided_at, granted, code, message
                     FROM claim_index WHERE created_by = ?2
                     ORDER BY requested_at DESC, doc_id DESC LIMIT ?1",
                )?
                .query_map(params![limit.clamp(1, 1000), self.device_id().to_string()], |r| {
                    let action: String = r.get(2)?;
                    let decided: Option<i64> = r.get(4)?;
                    let decision = match decided {
                        Some(at) => Some((
                            r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                            r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                            at,
                        )),
                        None => None,
                    };
                    Ok(ClaimStatus {
                        id: r.get(0)?,
                        customer_id: r.get(1)?,
                        action: action_of(&action).unwrap_or(ClaimAction::Claim),
                        requested_at: r.get(3)?,
                        decision,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// This user's customers that return to the pool before `now` plus the team's warning
    /// period (`pool_warn_days`, default 3), earliest first: the same rule the relay's scheduler
    /// applies, on what this phone holds (its own follow-ups count before they are synced).
    pub fn pool_warnings(&self, now: UnixMillis) -> Result<Vec<PoolWarning>> {
        self.db.read(|conn| pool_returns(conn, now, |rules| now.saturating_add(rules.pool_warn_ms())))
    }
}

/// This phone's user's customers returning to the pool by the horizon the team's rules give (by
/// [`return_due_at`], the relay's rule), as the phone's clock reads `now`, earliest first; none
/// before enrolling.
pub(super) fn pool_returns(
    conn: &Connection,
    now: UnixMillis,
    horizon: impl FnOnce(&TeamRules) -> UnixMillis,
) -> Result<Vec<PoolWarning>> {
    let Some(me) = user_of(conn)? else { return Ok(Vec::new()) };
    let rules = effective_rules(conn)?;
    let horizon = horizon(&rules);
    let mut statement = conn.prepare_cached(
        "SELECT o.customer_id, o.company_name, o.since,
                        max(coalesce((SELECT max(a.at) FROM activity_index a
                                       WHERE a.customer_id = o.customer_id AND a.has_summary), -1),
                            coalesce((SELECT max(v.started_at) FROM visit_index v
                                       WHERE v.customer_id = o.customer_id AND v.on_site = 1), -1)),
                        (SELECT max(d.stage_entered_at) FROM opportunity_index d
                          WHERE d.customer_id = o.customer_id AND d.stage = 'Won')
                 FROM ownership_index o WHERE o.owner_user_id = ?1",
    )?;
    let rows = statement.query_map([&me], |r| {
        Ok((
            r.get::<_, DocId>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    let mut warnings = Vec::new();
    for row in rows {
        let (customer_id, company_name, since, effective, won) = row?;
        let effective = (effective >= 0).then_some(effective);
        if let Some(returns_at) = return_due_at(&rules, since, effective, won, now)
            && returns_at <= horizon
        {
            warnings.push(PoolWarning { customer_id, company_name, returns_at });
        }
    }
    warnings.sort_by_key(|w| (w.returns_at, w.customer_id));
    Ok(warnings)
}

/// What a local edit may not do: change a claim once made (its decision is the relay's), or,
/// for a rep, edit a customer another rep owns or that is in the pool (claim it first).
pub(crate) fn check_local_edit<R: Record>(
    conn: &Connection,
    current: &automerge::Automerge,
    record: &R,
) -> Result<()> {
    let any = record as &dyn std::any::Any;
    if let Some(claim) = any.downcast_ref::<ClaimRequest>() {
        let before: ClaimRequest = super::projection::hydrate(current, claim.id)?;
        if before.decision != claim.decision {
            return Err(StoreError::RelayOnly { kind: RecordKind::ClaimRequest, field: "decision" });
        }
        if before.customer_id != claim.customer_id || before.action != claim.action {
            return Err(StoreError::Invalid(crate::model::ValidationError::new(
                RecordKind::ClaimRequest,
                "customer_id",
                "a claim cannot change once made; make a new one",
            )));
        }
        return Ok(());
    }
    if R::KIND == RecordKind::Customer {
        let role: Option<String> = conn
            .prepare_cached("SELECT user_role FROM sync_state WHERE singleton = 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .flatten();
        if role.as_deref() != Some("rep") {
            return Ok(());
        }
        let me = user_of(conn)?;
        let owner: Option<(Option<String>, Option<String>, Option<DocId>)> = conn
            .prepare_cached(
                "SELECT owner_user_id, owner_name, merged_into FROM ownership_index WHERE customer_id = ?1",
            )?
            .query_row([record.id()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((_, _, Some(into))) = owner {
            return Err(refused(
                ClaimRefusal::Merged,
                format!("this customer was merged into {into}; edit that one"),
            ));
        }
        match owner.map(|(o, n, _)| (o, n)) {
            Some((Some(owner), _)) if Some(&owner) == me.as_ref() => {}
            Some((Some(owner), name)) => {
                return Err(refused(
                    ClaimRefusal::OwnedByOther,
                    format!(
                        "{} owns this customer; only its owner and supervisors edit it",
                        name.unwrap_or(owner)
                    ),
                ));
            }
            Some((None, _)) => {
                return Err(refused(ClaimRefusal::NotOwner, "this customer is in the pool: claim it first"));
            }
            None => {}
        }
    }
    Ok(())
}
