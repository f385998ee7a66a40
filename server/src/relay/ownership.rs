//! Customer ownership and the public pool, decided by the relay (issue 13, docs/ownership.md).
//!
//! - A customer the relay sees for the first time is its creator's, unless the creator owns the
//!   team's maximum already (then it goes to the pool).
//! - Claims and releases are `claim` documents pushed by phones. The writer decides each in log
//!   order, so two reps who claimed the same pool customer offline get exactly one owner: the
//!   first claim to reach the relay. The decision, and why, is written into the claim document
//!   as the relay's actor, so the loser's phone learns it on its next sync.
//! - Effective follow-ups (an on-site visit, a follow-up with a summary) and won deals move the
//!   customer's `return_due_at`; the tick reads only rows whose `return_due_at` passed (an index,
//!   never a scan of the customers), applies [`fieldsync_core::model::return_due_at`] — the rule
//!   the phone warns with — and returns those due to the pool, once (the row's `return_due_at`
//!   is cleared in the same transaction).
//! - A merge of two owned customers keeps the owner whose effective follow-up came first.
//! - An admin's transfer moves every customer and open deal of one rep to another.
//!
//! Every change of owner rewrites the customer's `ownership` document (relay actor), which the
//! whole team receives; the `customer_owner` row is what checks, sync filtering and the tick read.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use fieldsync_core::model::{
    ClaimAction, ClaimDecision, ClaimRefusal, ClaimRequest, Cooldown, MAX_OWNERSHIP_HISTORY, Opportunity,
    Ownership, OwnershipEvent, OwnershipReason, Provenance, Record, RecordKind, SCHEMA_VERSION, ownership_id,
    return_due_at,
};
use fieldsync_core::{DeviceId, DocId};

use super::{Batch, CachedDoc, RelayError, Writer};
use crate::storage::{DeviceScope, LogEntry, OwnerRow, OwnerWrite, Role, StorageError};

/// What an admin's transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransferReport {
    /// The rep who left.
    pub from: String,
    /// The rep who took over.
    pub to: String,
    /// Customers moved.
    pub customers: u32,
    /// Open deals moved.
    pub deals: u32,
}

/// What one pool tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolTickReport {
    /// Due rows read.
    pub examined: u32,
    /// Customers returned to the pool.
    pub returned: u32,
    /// Whether more rows were due than the tick's limit took.
    pub more: bool,
}

fn backend(what: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(what.to_string())
}

impl Writer {
    /// The ownership row of `customer`, as this batch left it.
    pub(super) fn owner_of(&self, customer: DocId, batch: &Batch) -> Result<Option<OwnerRow>, StorageError> {
        if let Some(row) = batch.owners.get(&customer) {
            return Ok(Some(row.clone()));
        }
        self.storage.owner_row(customer)
    }

    /// How many customers `user` owns in `team`, with this batch's changes.
    fn owned_now(&self, team: &str, user: &str, batch: &Batch) -> Result<u32, StorageError> {
        let stored = i64::from(self.storage.owned_count(team, user)?);
        let delta = batch.owned_delta.get(&(team.to_owned(), user.to_owned())).copied().unwrap_or(0);
        Ok((stored + delta).max(0) as u32)
    }

    /// Replaces a row in the batch (and counts owners' customers as it goes).
    fn put_owner(&mut self, row: OwnerRow, batch: &mut Batch) -> Result<(), StorageError> {
        // A record merged away counts for nobody (it keeps its owner only so that owner still
        // receives the redirect).
        let counted = |r: &OwnerRow| r.owner_user_id.clone().filter(|_| r.merged_into.is_none());
        let before = self.owner_of(row.customer_id, batch)?.as_ref().and_then(counted);
        let after = counted(&row);
        if before != after {
            if let Some(user) = before {
                *batch.owned_delta.entry((row.team_id.clone(), user)).or_default() -= 1;
            }
            if let Some(user) = after {
                *batch.owned_delta.entry((row.team_id.clone(), user)).or_default() += 1;
            }
        }
        batch.owner_writes.push(OwnerWrite::Row(row.clone()));
        batch.owners.insert(row.customer_id, row);
        Ok(())
    }

    /// Why a rep may not change `customer` (another rep owns it, or it is in the pool), if so.
    pub(super) fn edit_refusal(
        &self,
        customer: DocId,
        scope: &DeviceScope,
        batch: &Batch,
    ) -> Result<Option<String>, StorageError> {
        if scope.role != Role::Rep {
            return Ok(None);
        }
        let Some(row) = self.owner_of(customer, batch)? else { return Ok(None) };
        Ok(match (&row.owner_user_id, row.merged_into) {
            (_, Some(into)) => Some(format!("customer {customer} was merged into {into}; edit that one")),
            (Some(owner), None) if *owner == scope.user_id => None,
            (Some(owner), None) => {
                let name = self.storage.user_info(owner)?.map_or_else(|| owner.clone(), |u| u.name);
                Some(format!(
                    "customer {customer} is owned by {name}; only its owner and supervisors edit it"
                ))
            }
            (None, None) => Some(format!("customer {customer} is in the public pool: claim it first")),
        })
    }

    /// Ownership work for the customers and claims this batch accepted, in arrival order: new
    /// customers get their owner, renamed ones a fresh listing, claims and releases are decided.
    /// Runs before identity resolution, so a merge sees both records' owners. Follow-ups, won
    /// deals and rules changes are noted by the scheduler's pass over the batch, which reads
    /// those records anyway ([`Writer::note_follow_up`], [`Writer::rules_changed`]).
    pub(super) fn own_touched(&mut self, batch: &mut Batch) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        let customers = batch.customers.clone();
        for (id, team) in customers {
            self.own_customer(id, &team, now, batch)?;
        }
        let claims = std::mem::take(&mut batch.claims);
        for (claim, scope) in claims {
            self.decide_claim(claim, &scope, now, batch)?;
        }
        Ok(())
    }

    /// A customer the batch touched: the first time, its creator owns it (or the pool, over the
    /// limit); a changed company name refreshes the listing everyone sees.
    fn own_customer(
        &mut self,
        id: DocId,
        team: &str,
        now: i64,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let Some(customer) = self.customer(id)? else { return Ok(()) };
        match self.owner_of(id, batch)? {
            Some(row) => {
                let listing = self.ownership_doc(id)?;
                if listing.as_ref().is_some_and(|o| o.company_name != customer.company_name) {
                    let name = customer.company_name.clone();
                    self.write_ownership(id, team, now, batch, move |o| o.company_name = name)?;
                }
                drop(row);
            }
            None => {
                let rules = self.effective_rules(team, now, batch)?;
                let creator = match batch.new_customers.get(&id) {
                    Some(user) => Some(user.clone()),
                    None => self.storage.device_user(team, *customer.provenance.created_by.as_bytes())?,
                };
                let owner = match creator {
                    Some(user) if self.owned_now(team, &user, batch)? < rules.max_owned_customers => {
                        Some(user)
                    }
                    _ => None,
                };
                let reason =
                    if owner.is_some() { OwnershipReason::Created } else { OwnershipReason::OverLimit };
                let row = OwnerRow {
                    customer_id: id,
                    team_id: team.to_owned(),
                    owner_user_id: owner.clone(),
                    owned_since: now,
                    last_effective_at: None,
                    last_won_at: None,
                    return_due_at: owner.as_ref().and_then(|_| return_due_at(&rules, now, None, None, now)),
                    merged_into: None,
                };
                self.put_owner(row, batch)?;
                let name = customer.company_name.clone();
                let owner_name = self.user_name(owner.as_deref())?;
                self.write_ownership(id, team, now, batch, move |o| {
                    o.company_name = name;
                    set_owner(o, owner, owner_name, reason, now, None);
                })?;
            }
        }
        Ok(())
    }

    /// The team's rules changed: every owned customer of the team is looked at again by the next
    /// tick, under the new periods.
    pub(super) fn rules_changed(&mut self, team: &str, batch: &mut Batch) {
        let now = self.clock.now_ms();
        batch.owner_writes.push(OwnerWrite::TeamDue { team_id: team.to_owned(), at: now });
        // Rows this batch holds are looked at again too.
        for row in batch.owners.values_mut().filter(|r| r.team_id == team && r.owner_user_id.is_some()) {
            row.return_due_at = Some(now);
            batch.owner_writes.push(OwnerWrite::Row(row.clone()));
        }
    }

    /// An effective follow-up at `at` (or a deal won then, `won`) on `customer` (or the record it
    /// was merged into): the pool rule counts from there. A time ahead of the clock counts as now.
    pub(super) fn note_follow_up(
        &mut self,
        customer: DocId,
        team: &str,
        at: i64,
        won: bool,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        let at = at.min(now);
        let Some(mut row) = self.owner_of(customer, batch)? else { return Ok(()) };
        if let Some(into) = row.merged_into {
            match self.owner_of(into, batch)? {
                Some(canonical) => row = canonical,
                None => return Ok(()),
            }
        }
        if row.team_id != team {
            return Ok(());
        }
        // Never before the owner had the customer: a follow-up dated back (a phone's clock, or
        // a rep after someone else's customer through a duplicate) cannot win a merge.
        let at = at.max(row.owned_since);
        if won {
            row.last_won_at = Some(row.last_won_at.map_or(at, |t| t.max(at)));
        } else {
            row.last_effective_at = Some(row.last_effective_at.map_or(at, |t| t.max(at)));
        }
        if row.owner_user_id.is_some() {
            let rules = self.effective_rules(team, now, batch)?;
            row.return_due_at =
                return_due_at(&rules, row.owned_since, row.last_effective_at, row.last_won_at, now);
        }
        self.put_owner(row, batch)
    }

    /// Decides one claim or release (first come, first served) and writes the decision into it.
    fn decide_claim(
        &mut self,
        claim_id: DocId,
        scope: &DeviceScope,
        now: i64,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let Some(cached) = self.cache.get(&claim_id) else { return Ok(()) };
        let Ok(claim) = fieldsync_core::model::read_record::<ClaimRequest>(&cached.doc) else {
            return Ok(());
        };
        if claim.decision.is_some() {
            return Ok(());
        }
        let team = scope.team_id.clone();
        let me = scope.user_id.clone();
        let verdict = self.judge_claim(&claim, scope, now, batch)?;
        let decision = match verdict {
            Ok(owner) => {
                let rules = self.effective_rules(&team, now, batch)?;
                let mut row =
                    self.owner_of(claim.customer_id, batch)?.ok_or_else(|| backend("no owner row"))?;
                let owner_name = self.user_name(owner.as_deref())?;
                let (reason, cooldown) = match claim.action {
                    ClaimAction::Claim => (OwnershipReason::Claimed, None),
                    ClaimAction::Release => (
                        OwnershipReason::Released,
                        Some(Cooldown { user_id: me.clone(), until: now + rules.reclaim_cooldown_ms() }),
                    ),
                };
                row.owner_user_id = owner.clone();
                row.owned_since = now;
                row.return_due_at = owner
                    .as_ref()
                    .and_then(|_| return_due_at(&rules, now, row.last_effective_at, row.last_won_at, now));
                self.put_owner(row, batch)?;
                let by = Some(me.clone());
                let owner_for_doc = owner.clone();
                self.write_ownership(claim.customer_id, &team, now, batch, move |o| {
                    set_owner(o, owner_for_doc, owner_name, reason, now, by);
                    if let Some(c) = cooldown {
                        o.cooldowns.retain(|k| k.until > now && k.user_id != c.user_id);
                        o.cooldowns.push(c);
                    }
                })?;
                let message = match claim.action {
                    ClaimAction::Claim => "the customer is yours".to_owned(),
                    ClaimAction::Release => "the customer is back in the public pool".to_owned(),
                };
                ClaimDecision {
                    granted: true,
                    code: "granted".into(),
                    message,
                    owner_user_id: owner,
                    at: now,
                }
            }
            Err((refusal, message, owner)) => ClaimDecision {
                granted: false,
                code: refusal.as_str().to_owned(),
                message,
                owner_user_id: owner,
                at: now,
            },
        };
        tracing::info!(claim = %claim_id, customer = %claim.customer_id, user = me, code = decision.code, "claim decided");
        let mut decided = claim;
        decided.decision = Some(decision);
        self.relay_write(&decided, &team, batch)
    }

    /// The owner after granting `claim`, or why it is refused (with the current owner).
    #[allow(clippy::type_complexity)]
    fn judge_claim(
        &mut self,
        claim: &ClaimRequest,
        scope: &DeviceScope,
        now: i64,
        batch: &mut Batch,
    ) -> Result<Result<Option<String>, (ClaimRefusal, String, Option<String>)>, StorageError> {
        let customer = claim.customer_id;
        let me = &scope.user_id;
        let in_team = matches!(
            self.document_meta(customer),
            Ok(Some(meta)) if meta.kind == RecordKind::Customer && meta.team_id == scope.team_id
                && meta.tenant_id == scope.tenant_id
        );
        let row = if in_team { self.owner_of(customer, batch)? } else { None };
        let Some(row) = row else {
            return Ok(Err((
                ClaimRefusal::NoSuchCustomer,
                format!("customer {customer} is not one of this team's customers"),
                None,
            )));
        };
        if let Some(into) = row.merged_into {
            return Ok(Err((
                ClaimRefusal::Merged,
                format!("customer {customer} was merged into {into}"),
                None,
            )));
        }
        let owner = row.owner_user_id.clone();
        match claim.action {
            ClaimAction::Release => {
                if owner.as_ref() != Some(me) {
                    return Ok(Err((
                        ClaimRefusal::NotOwner,
                        "only its owner can release this customer".into(),
                        owner,
                    )));
                }
                Ok(Ok(None))
            }
            ClaimAction::Claim => {
                if owner.as_ref() == Some(me) {
                    return Ok(Err((
                        ClaimRefusal::AlreadyOwner,
                        "this customer is already yours".into(),
                        owner,
                    )));
                }
                if let Some(other) = &owner {
                    let name = self.user_name(Some(other))?.unwrap_or_else(|| other.clone());
                    return Ok(Err((
                        ClaimRefusal::OwnedByOther,
                        format!(
                            "{name} owns this customer (claimed or created before your claim reached the relay)"
                        ),
                        owner,
                    )));
                }
                if let Some(until) = self.ownership_doc(customer)?.and_then(|o| o.cooldown_for(me, now)) {
                    return Ok(Err((
                        ClaimRefusal::Cooldown,
                        format!(
                            "you released or lost this customer; you may claim it again from {until} (Unix ms)"
                        ),
                        None,
                    )));
                }
                let rules = self.effective_rules(&scope.team_id, now, batch)?;
                let owned = self.owned_now(&scope.team_id, me, batch)?;
                if owned >= rules.max_owned_customers {
                    return Ok(Err((
                        ClaimRefusal::LimitReached,
                        format!(
                            "you own {owned} customers; the team's limit is {}",
                            rules.max_owned_customers
                        ),
                        None,
                    )));
                }
                Ok(Ok(Some(me.clone())))
            }
        }
    }

    /// Looks at up to `limit` customers whose pool rule fell due by `now` and returns to the pool
    /// those with no effective follow-up (or won deal) in the team's period.
    pub(super) fn pool_tick(
        &mut self,
        now: i64,
        limit: u32,
        batch: &mut Batch,
    ) -> Result<PoolTickReport, StorageError> {
        let rows = self.storage.due_owner_rows(now, limit)?;
        let mut report = PoolTickReport {
            examined: rows.len() as u32,
            more: rows.len() as u32 == limit,
            ..Default::default()
        };
        for stored in rows {
            // A row this batch changed already is what counts.
            let mut row = self.owner_of(stored.customer_id, batch)?.unwrap_or(stored);
            let Some(owner) = row.owner_user_id.clone().filter(|_| row.merged_into.is_none()) else {
                row.return_due_at = None;
                self.put_owner(row, batch)?;
                continue;
            };
            let rules = self.effective_rules(&row.team_id, now, batch)?;
            let due = return_due_at(&rules, row.owned_since, row.last_effective_at, row.last_won_at, now);
            match due {
                Some(at) if at <= now => {
                    let team = row.team_id.clone();
                    let customer = row.customer_id;
                    row.owner_user_id = None;
                    row.owned_since = now;
                    row.return_due_at = None;
                    self.put_owner(row, batch)?;
                    let cooldown =
                        Cooldown { user_id: owner.clone(), until: now + rules.reclaim_cooldown_ms() };
                    self.write_ownership(customer, &team, now, batch, move |o| {
                        set_owner(o, None, None, OwnershipReason::ReturnedToPool, now, None);
                        o.cooldowns.retain(|k| k.until > now && k.user_id != cooldown.user_id);
                        o.cooldowns.push(cooldown);
                    })?;
                    report.returned += 1;
                }
                later => {
                    row.return_due_at = later;
                    self.put_owner(row, batch)?;
                }
            }
        }
        Ok(report)
    }

    /// Two records merged: the canonical record's owner is the owner (of the two) whose
    /// effective follow-up came first — neither followed up: the canonical record's owner; one
    /// in the pool: the other's owner. The duplicate's listing says where it went.
    pub(super) fn merge_owners(
        &mut self,
        canonical: DocId,
        duplicate: DocId,
        team: &str,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        let (Some(kept), Some(gone)) = (self.owner_of(canonical, batch)?, self.owner_of(duplicate, batch)?)
        else {
            return Ok(());
        };
        let first = |row: &OwnerRow| row.last_effective_at.unwrap_or(i64::MAX);
        let winner = match (&kept.owner_user_id, &gone.owner_user_id) {
            (Some(_), Some(_)) if first(&gone) < first(&kept) => gone.clone(),
            (None, Some(_)) => gone.clone(),
            _ => kept.clone(),
        };
        let mut merged = kept.clone();
        merged.last_effective_at = kept.last_effective_at.max(gone.last_effective_at);
        merged.last_won_at = kept.last_won_at.max(gone.last_won_at);
        let changed = merged.owner_user_id != winner.owner_user_id;
        if changed {
            merged.owner_user_id = winner.owner_user_id.clone();
            merged.owned_since = now;
        }
        let rules = self.effective_rules(team, now, batch)?;
        merged.return_due_at = merged.owner_user_id.as_ref().and_then(|_| {
            return_due_at(&rules, merged.owned_since, merged.last_effective_at, merged.last_won_at, now)
        });
        self.put_owner(merged.clone(), batch)?;
        if changed {
            let owner = merged.owner_user_id.clone();
            let owner_name = self.user_name(owner.as_deref())?;
            self.write_ownership(canonical, team, now, batch, move |o| {
                set_owner(o, owner, owner_name, OwnershipReason::Merged, now, None);
            })?;
        }
        // The merged-away record keeps its owner in the row, so that rep still receives the
        // redirect (read-only: edits to it are refused); it counts for nobody.
        let mut away = gone;
        away.owned_since = now;
        away.return_due_at = None;
        away.merged_into = Some(canonical);
        self.put_owner(away, batch)?;
        self.write_ownership(duplicate, team, now, batch, move |o| {
            o.merged_into = Some(canonical);
            set_owner(o, None, None, OwnershipReason::Merged, now, None);
        })?;
        Ok(())
    }

    /// An admin moves every customer and open deal of `from` to `to` (both of the admin's team).
    /// Over the limit is allowed: it is the admin's decision.
    pub(super) fn transfer(
        &mut self,
        scope: &DeviceScope,
        from: &str,
        to: &str,
        batch: &mut Batch,
    ) -> Result<Result<TransferReport, RelayError>, StorageError> {
        let refuse = |m: String| Ok(Err(RelayError::Transfer(m)));
        if from == to {
            return refuse("a transfer needs two different users".into());
        }
        let mut users = Vec::new();
        for user in [from, to] {
            match self.storage.user_info(user)? {
                Some(u) if u.tenant_id == scope.tenant_id && u.team_id == scope.team_id => users.push(u),
                _ => return refuse(format!("user {user} is not a user of this team")),
            }
        }
        let team = scope.team_id.clone();
        let now = self.clock.now_ms();
        let rules = self.effective_rules(&team, now, batch)?;
        let mut report = TransferReport { from: from.to_owned(), to: to.to_owned(), ..Default::default() };
        let mut customers = self.storage.owned_customers(&team, from)?;
        customers.extend(
            batch
                .owners
                .values()
                .filter(|r| r.owner_user_id.as_deref() == Some(from) && r.merged_into.is_none())
                .map(|r| r.customer_id),
        );
        customers.sort();
        customers.dedup();
        for customer in customers {
            let Some(mut row) = self.owner_of(customer, batch)? else { continue };
            if row.owner_user_id.as_deref() != Some(from) || row.merged_into.is_some() {
                continue;
            }
            row.owner_user_id = Some(to.to_owned());
            row.owned_since = now;
            row.return_due_at = return_due_at(&rules, now, row.last_effective_at, row.last_won_at, now);
            self.put_owner(row, batch)?;
            let (owner, name, by) =
                (Some(to.to_owned()), Some(users[1].name.clone()), Some(scope.user_id.clone()));
            self.write_ownership(customer, &team, now, batch, move |o| {
                set_owner(o, owner, name, OwnershipReason::Transferred, now, by);
            })?;
            report.customers += 1;
        }
        for deal_id in self.storage.open_deals_of(&team, from)? {
            let meta = match self.document_meta(deal_id) {
                Ok(Some(meta)) => meta,
                Ok(None) | Err(super::Verdict::Reject(..)) => continue,
                Err(super::Verdict::Storage(e)) => return Err(e),
            };
            if meta.kind != RecordKind::Opportunity || meta.sealed {
                continue;
            }
            let Some(cached) = self.cache.get(&deal_id) else { continue };
            let Ok(mut deal) = fieldsync_core::model::read_record::<Opportunity>(&cached.doc) else {
                continue;
            };
            if deal.stage.is_closed() {
                continue;
            }
            deal.owner = to.to_owned();
            self.relay_write(&deal, &team, batch)?;
            batch.note_funnel(deal_id, RecordKind::Opportunity, &team);
            report.deals += 1;
        }
        tracing::info!(from, to, customers = report.customers, deals = report.deals, "customers transferred");
        Ok(Ok(report))
    }

    fn user_name(&self, user: Option<&str>) -> Result<Option<String>, StorageError> {
        match user {
            Some(user) => Ok(Some(self.storage.user_info(user)?.map_or_else(|| user.to_owned(), |u| u.name))),
            None => Ok(None),
        }
    }

    /// The customer's ownership document, if the relay wrote one.
    fn ownership_doc(&mut self, customer: DocId) -> Result<Option<Ownership>, StorageError> {
        let id = ownership_id(customer);
        match self.document_meta(id) {
            Ok(Some(_)) => {}
            Ok(None) | Err(super::Verdict::Reject(..)) => return Ok(None),
            Err(super::Verdict::Storage(e)) => return Err(e),
        }
        Ok(self.cache.get(&id).and_then(|c| fieldsync_core::model::read_record(&c.doc).ok()))
    }

    /// Rewrites the customer's ownership document with `edit` (creating it the first time).
    fn write_ownership(
        &mut self,
        customer: DocId,
        team: &str,
        now: i64,
        batch: &mut Batch,
        edit: impl FnOnce(&mut Ownership),
    ) -> Result<(), StorageError> {
        let mut ownership = match self.ownership_doc(customer)? {
            Some(o) => o,
            None => Ownership {
                id: ownership_id(customer),
                customer_id: customer,
                company_name: self.customer(customer)?.map(|c| c.company_name).unwrap_or_default(),
                owner_user_id: None,
                owner_name: None,
                since: now,
                reason: OwnershipReason::Created,
                merged_into: None,
                cooldowns: Vec::new(),
                history: Vec::new(),
                provenance: Provenance { created_at: now, created_by: DeviceId::from_bytes(self.actor) },
            },
        };
        edit(&mut ownership);
        ownership.company_name = ownership.company_name.chars().take(200).collect();
        self.relay_write(&ownership, team, batch)
    }

    /// Writes `record` as the relay's own actor (a new document, or a change to the cached one)
    /// and queues the change for the log like a pushed one.
    pub(super) fn relay_write<R: Record>(
        &mut self,
        record: &R,
        team: &str,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let id = record.id();
        record.validate().map_err(|e| backend(format!("{} {id}: {e}", R::KIND)))?;
        let actor = self.actor;
        let exists = match self.document_meta(id) {
            Ok(meta) => meta.is_some(),
            Err(super::Verdict::Storage(e)) => return Err(e),
            Err(super::Verdict::Reject(_, m)) => return Err(backend(m)),
        };
        if !exists {
            let tenant =
                self.storage.team_tenant(team)?.ok_or_else(|| backend(format!("team {team} is unknown")))?;
            self.cache.put(
                id,
                CachedDoc {
                    doc: Automerge::new(),
                    tenant_id: tenant,
                    team_id: team.to_owned(),
                    kind: R::KIND,
                    sealed: false,
                    saved: None,
                },
            );
        }
        let cached = self.cache.get_mut(&id).ok_or_else(|| backend(format!("{id} left the cache")))?;
        cached.doc.set_actor(ActorId::from(&actor[..]));
        let mut tx = cached.doc.transaction();
        if !exists {
            tx.put(ROOT, "kind", R::KIND.as_str()).map_err(backend)?;
            tx.put(ROOT, "schema", SCHEMA_VERSION).map_err(backend)?;
        }
        fieldsync_core::model::write_record(&mut tx, record).map_err(|e| backend(format!("{id}: {e}")))?;
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(self.clock.now_ms()));
        let Some(hash) = hash else { return Ok(()) };
        let change = cached
            .doc
            .get_change_by_hash(&hash)
            .ok_or_else(|| backend(format!("the change of {id} is missing")))?;
        batch.entries.push(LogEntry {
            team_id: team.to_owned(),
            doc_id: id,
            hash: hash.0,
            actor,
            bytes: change.raw_bytes().to_vec(),
        });
        batch.hashes.insert(hash.0);
        batch.touch(id);
        Ok(())
    }
}

/// Records a change of owner in the listing and its history.
fn set_owner(
    o: &mut Ownership,
    owner: Option<String>,
    owner_name: Option<String>,
    reason: OwnershipReason,
    now: i64,
    by: Option<String>,
) {
    o.owner_user_id = owner.clone();
    o.owner_name = owner_name;
    o.since = now;
    o.reason = reason;
    o.history.push(OwnershipEvent { owner_user_id: owner, reason, at: now, by_user_id: by });
    let excess = o.history.len().saturating_sub(MAX_OWNERSHIP_HISTORY);
    o.history.drain(..excess);
}

/// Whether a pushed change to a claim is one a device may make: a new claim without a decision;
/// later changes keep the customer, the action and the relay's decision as they were.
pub(super) fn claim_change_refusal(before: Option<&Automerge>, after: &Automerge) -> Option<String> {
    let after: ClaimRequest = fieldsync_core::model::read_record(after).ok()?;
    match before.and_then(|b| fieldsync_core::model::read_record::<ClaimRequest>(b).ok()) {
        None if after.decision.is_some() => Some("a claim's decision is written by the relay only".into()),
        None => None,
        Some(before) if before.decision != after.decision => {
            Some("a claim's decision is written by the relay only".into())
        }
        Some(before) if before.customer_id != after.customer_id || before.action != after.action => {
            Some("a claim cannot change once made; make a new one".into())
        }
        Some(_) => None,
    }
}
