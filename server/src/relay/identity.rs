//! Identity resolution on the relay (DESIGN §6): when reps create the same customer offline, the
//! relay makes every device end with one customer.
//!
//! Runs in the writer thread, after a batch's pushed changes are checked and before it commits,
//! so the merges it makes are stored atomically with the changes that caused them:
//!
//! - Every customer the batch touched gets its match key indexed (normalised phones, name
//!   n-grams), in storage and for the rest of the batch.
//! - Candidates come from those indexes alone; each is scored with the rule the phones use
//!   ([`compare`], with the team's thresholds).
//! - **Same** (and no supervisor said otherwise): the older record (created time, then id) is
//!   canonical. The relay, as its own Automerge actor, writes the union into the canonical record
//!   ([`merge_customers`]) and `merged_into` into the other; scalars that differed are kept for
//!   review. Devices receive these changes like any other, so every device converges on the same
//!   records whatever order the reps synced in. Visits, deals and lead cards keep pointing at the
//!   record they were made for and resolve through `merged_into`; service slips are never touched.
//! - **Possible**: the pair joins the team's review queue; a supervisor's answer (merge / not the
//!   same) is remembered and never asked again.
//! - A later edit to a merged-away record is united into its canonical record again.

use std::collections::{HashMap, HashSet};

use automerge::transaction::CommitOptions;
use automerge::{ActorId, ReadDoc};
use fieldsync_core::dedup::{
    COMMON_NUMBER_UNRELATED_CUSTOMERS, CustomerKey, Decision, DedupThresholds, DedupVerdict, MatchReason,
    compare, merge_customers, name_grams, without_common_numbers,
};
use fieldsync_core::model::{Customer, Record, RecordKind};
use fieldsync_core::{Clock as _, DocId, SystemClock};

use super::{Batch, Verdict, Writer};
use crate::storage::{
    CustomerKeyRow, DedupPair, LogEntry, MergeConflict, PairStatus, RelayStorage, StorageError,
};

/// `merged_into` links followed before giving up (a chain longer than this is a bug or an attack).
const MAX_REDIRECTS: usize = 8;

/// Who decided a merge.
#[derive(Debug, Clone)]
pub(super) enum DecidedBy {
    /// The rule: shared phone and name ≥ the team's bar, or equal credit codes.
    Rule,
    /// A supervisor, by user id.
    Supervisor(String),
}

/// The match key row of a customer, as indexed.
pub(crate) fn key_row(customer: &Customer, team_id: &str) -> CustomerKeyRow {
    let phones: Vec<&str> = customer.phones.iter().map(String::as_str).collect();
    let key = CustomerKey::new(&customer.company_name, &phones, customer.credit_code.as_deref());
    CustomerKeyRow {
        doc_id: customer.id,
        team_id: team_id.to_owned(),
        created_at: customer.provenance.created_at,
        name: customer.company_name.clone(),
        phones: customer.phones.clone(),
        credit_code: customer.credit_code.clone(),
        merged_into: customer.merged_into,
        e164s: key.phones.iter().map(|p| p.e164.clone()).collect(),
        grams: name_grams(&customer.company_name),
    }
}

fn key_of(row: &CustomerKeyRow) -> CustomerKey {
    let phones: Vec<&str> = row.phones.iter().map(String::as_str).collect();
    CustomerKey::new(&row.name, &phones, row.credit_code.as_deref())
}

/// Normalised keys of the customers compared so far, by document, with what they were made
/// from. Normalising a company name is the expensive part of a comparison; a batch of look-alike
/// customers compares each one with every other, so without this each name was normalised once
/// per comparison (issue 17).
#[derive(Debug, Default)]
pub(crate) struct KeyCache(HashMap<DocId, (String, Vec<String>, Option<String>, CustomerKey)>);

impl KeyCache {
    fn key(&mut self, row: &CustomerKeyRow) -> &CustomerKey {
        let fresh = self.0.get(&row.doc_id).is_some_and(|(name, phones, credit_code, _)| {
            *name == row.name && *phones == row.phones && *credit_code == row.credit_code
        });
        if !fresh {
            let made = (row.name.clone(), row.phones.clone(), row.credit_code.clone(), key_of(row));
            self.0.insert(row.doc_id, made);
        }
        &self.0[&row.doc_id].3
    }
}

fn ordered(a: DocId, b: DocId) -> (DocId, DocId) {
    if a <= b { (a, b) } else { (b, a) }
}

fn storage(verdict: Verdict) -> StorageError {
    match verdict {
        Verdict::Storage(e) => e,
        Verdict::Reject(_, message) => StorageError::Backend(message),
    }
}

impl Writer {
    /// Resolves the identities of every customer the batch touched, in the order they arrived.
    pub(super) fn resolve_identities(&mut self, batch: &mut Batch) -> Result<(), StorageError> {
        let touched = std::mem::take(&mut batch.customers);
        let mut seen = HashSet::new();
        for (id, team) in touched {
            if seen.insert(id) {
                self.resolve(id, &team, batch)?;
            }
        }
        Ok(())
    }

    fn resolve(&mut self, id: DocId, team: &str, batch: &mut Batch) -> Result<(), StorageError> {
        let Some(customer) = self.customer(id)? else { return Ok(()) };
        let row = key_row(&customer, team);
        index(batch, row.clone());
        if let Some(target) = customer.merged_into {
            // An edit to a record already merged away: its canonical record takes it in too.
            let canonical = self.canonical_of(target)?;
            if canonical != id {
                self.unite(canonical, id, team, batch)?;
            }
            return Ok(());
        }
        let thresholds = self.effective_rules(team, SystemClock.now_ms(), batch)?.dedup_thresholds();
        let matches =
            find_matches(self.storage.as_ref(), &row, &batch.customer_rows, &thresholds, &mut batch.keys)?;
        for (candidate, verdict) in matches {
            match self.pair_status(team, id, candidate.doc_id, batch)? {
                Some(PairStatus::NotSame | PairStatus::Merged) => continue,
                Some(PairStatus::Pending) if verdict.decision == Decision::Possible => continue,
                _ => {}
            }
            if verdict.decision == Decision::Same {
                let canonical = self.merge(id, candidate.doc_id, team, &verdict, DecidedBy::Rule, batch)?;
                if canonical != Some(id) {
                    // This record was merged away: it no longer absorbs others.
                    break;
                }
            } else if worth_review(&verdict, &thresholds) {
                let (a, b) = ordered(id, candidate.doc_id);
                batch.push_pair(DedupPair {
                    team_id: team.to_owned(),
                    a,
                    b,
                    score: verdict.score,
                    reasons: reasons(&verdict),
                    status: PairStatus::Pending,
                    at: SystemClock.now_ms(),
                    decided_by: None,
                });
            }
        }
        Ok(())
    }

    /// Merges the customers `x` and `y` (or the records they were merged into). Returns the
    /// canonical record's id, or `None` when one of them is not a customer of this team.
    pub(super) fn merge(
        &mut self,
        x: DocId,
        y: DocId,
        team: &str,
        verdict: &DedupVerdict,
        decided_by: DecidedBy,
        batch: &mut Batch,
    ) -> Result<Option<DocId>, StorageError> {
        let (cx, cy) = (self.canonical_of(x)?, self.canonical_of(y)?);
        let (Some(first), Some(second)) = (self.customer(cx)?, self.customer(cy)?) else { return Ok(None) };
        let (a, b) = ordered(x, y);
        batch.push_pair(DedupPair {
            team_id: team.to_owned(),
            a,
            b,
            score: verdict.score,
            reasons: reasons(verdict),
            status: PairStatus::Merged,
            at: SystemClock.now_ms(),
            decided_by: match decided_by {
                DecidedBy::Rule => None,
                DecidedBy::Supervisor(user) => Some(user),
            },
        });
        if cx == cy {
            return Ok(Some(cx));
        }
        let (canonical, duplicate) = match fieldsync_core::dedup::canonical_order(&first, &second) {
            std::cmp::Ordering::Greater => (second, first),
            _ => (first, second),
        };
        tracing::info!(canonical = %canonical.id, duplicate = %duplicate.id, score = verdict.score, "merging customers");
        self.unite(canonical.id, duplicate.id, team, batch)?;
        let mut redirected = duplicate;
        redirected.merged_into = Some(canonical.id);
        self.author(&redirected, team, batch)?;
        self.merge_owners(canonical.id, redirected.id, team, batch)?;
        Ok(Some(canonical.id))
    }

    /// Writes the union of `duplicate` into `canonical` (if it adds anything) and records the
    /// scalars that differed.
    fn unite(
        &mut self,
        canonical: DocId,
        duplicate: DocId,
        team: &str,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let (Some(kept), Some(other)) = (self.customer(canonical)?, self.customer(duplicate)?) else {
            return Ok(());
        };
        let merge = merge_customers(&kept, &other);
        let now = SystemClock.now_ms();
        batch.conflicts.extend(merge.conflicts.into_iter().map(|c| MergeConflict {
            team_id: team.to_owned(),
            canonical,
            duplicate,
            field: c.field,
            kept: c.kept,
            other: c.other,
            at: now,
        }));
        if merge.merged != kept {
            self.author(&merge.merged, team, batch)?;
        }
        Ok(())
    }

    /// Makes a change as the relay's own actor so the document holds `record`, and queues it
    /// for the log like a pushed change.
    fn author(&mut self, record: &Customer, team: &str, batch: &mut Batch) -> Result<(), StorageError> {
        let id = record.id;
        record.validate().map_err(|e| StorageError::Backend(format!("merged customer {id}: {e}")))?;
        let actor = self.actor;
        let Some(cached) = self.cache.get_mut(&id) else {
            return Err(StorageError::Backend(format!("customer {id} left the cache during a merge")));
        };
        cached.doc.set_actor(ActorId::from(&actor[..]));
        let mut tx = cached.doc.transaction();
        fieldsync_core::model::write_record(&mut tx, record)
            .map_err(|e| StorageError::Backend(format!("merging customer {id}: {e}")))?;
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(SystemClock.now_ms()));
        let Some(hash) = hash else { return Ok(()) };
        let change = cached
            .doc
            .get_change_by_hash(&hash)
            .ok_or_else(|| StorageError::Backend(format!("the merge change of {id} is missing")))?;
        batch.entries.push(LogEntry {
            team_id: team.to_owned(),
            doc_id: id,
            hash: hash.0,
            actor,
            bytes: change.raw_bytes().to_vec(),
        });
        batch.hashes.insert(hash.0);
        batch.touch(id);
        index(batch, key_row(record, team));
        Ok(())
    }

    /// The customer a record resolves to through `merged_into`.
    fn canonical_of(&mut self, mut id: DocId) -> Result<DocId, StorageError> {
        for _ in 0..MAX_REDIRECTS {
            match self.customer(id)?.and_then(|c| c.merged_into) {
                Some(next) if next != id => id = next,
                _ => return Ok(id),
            }
        }
        tracing::warn!(%id, "merged_into chain too long; stopping there");
        Ok(id)
    }

    /// A customer as merged in memory, loaded into the cache if needed; `None` for another kind
    /// or a document that does not read as a customer.
    pub(super) fn customer(&mut self, id: DocId) -> Result<Option<Customer>, StorageError> {
        match self.document_meta(id).map_err(storage)? {
            Some(meta) if meta.kind == RecordKind::Customer => {}
            _ => return Ok(None),
        }
        Ok(self.cache.get(&id).and_then(|cached| fieldsync_core::model::read_record(&cached.doc).ok()))
    }

    fn pair_status(
        &self,
        team: &str,
        x: DocId,
        y: DocId,
        batch: &Batch,
    ) -> Result<Option<PairStatus>, StorageError> {
        let (a, b) = ordered(x, y);
        if let Some(pair) = batch.pair(team, a, b) {
            return Ok(Some(pair.status));
        }
        self.storage.pair_status(team, a, b)
    }
}

/// The customers `row` may duplicate, oldest first, with the rule's verdict on each (never
/// `Different`, never a record already merged away): candidates from the storage indexes plus
/// `pending` rows not stored yet (which replace their stored versions).
pub(crate) fn find_matches(
    storage: &dyn RelayStorage,
    row: &CustomerKeyRow,
    pending: &[CustomerKeyRow],
    thresholds: &DedupThresholds,
    keys: &mut KeyCache,
) -> Result<Vec<(CustomerKeyRow, DedupVerdict)>, StorageError> {
    let mut candidates = storage.customer_candidates(&row.team_id, &row.e164s, &row.grams)?;
    candidates.retain(|c| !pending.iter().any(|r| r.doc_id == c.doc_id));
    candidates.extend(
        pending
            .iter()
            .filter(|r| {
                r.team_id == row.team_id
                    && (r.e164s.iter().any(|p| row.e164s.contains(p))
                        || r.grams.iter().any(|g| row.grams.contains(g)))
            })
            .cloned(),
    );
    candidates.retain(|c| c.doc_id != row.doc_id && c.merged_into.is_none());
    candidates.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.doc_id.cmp(&b.doc_id)));
    let mut key = keys.key(row).clone();
    // A number many unrelated customers list (a park switchboard) is no evidence, as on the phone.
    // With fewer candidates than that rule needs, their keys are not gathered for it.
    if candidates.len() >= COMMON_NUMBER_UNRELATED_CUSTOMERS {
        let others: Vec<CustomerKey> = candidates.iter().map(|c| keys.key(c).clone()).collect();
        if let Some(reduced) = without_common_numbers(&key, &others, thresholds) {
            key = reduced;
        }
    }
    Ok(candidates
        .into_iter()
        .filter_map(|candidate| {
            let verdict = compare(&key, keys.key(&candidate), thresholds);
            (verdict.decision != Decision::Different).then_some((candidate, verdict))
        })
        .collect())
}

/// Whether a possible duplicate goes to the supervisors' queue: the field's rule, one of the two
/// signals — a shared number, or a name at the "same" bar. Looser look-alikes (a similar name
/// alone) are shown on the phone while the rep types, but would flood a queue in a team with a
/// million customers (see `fieldsync bench relay-dedup`).
fn worth_review(verdict: &DedupVerdict, thresholds: &DedupThresholds) -> bool {
    verdict.score >= thresholds.same_name
        || verdict.reasons.iter().any(|r| matches!(r, MatchReason::SharedPhone { .. }))
}

/// Adds or replaces a customer's row in the batch's index.
fn index(batch: &mut Batch, row: CustomerKeyRow) {
    batch.customer_rows.retain(|r| r.doc_id != row.doc_id);
    batch.customer_rows.push(row);
}

fn reasons(verdict: &DedupVerdict) -> String {
    verdict.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, phone: &str) -> CustomerKeyRow {
        CustomerKeyRow {
            doc_id: DocId::from_bytes([7; 16]),
            team_id: "t".into(),
            created_at: 0,
            name: name.into(),
            phones: vec![phone.into()],
            credit_code: None,
            merged_into: None,
            e164s: Vec::new(),
            grams: Vec::new(),
        }
    }

    #[test]
    fn a_cached_key_is_made_again_when_the_customer_changed() {
        let mut keys = KeyCache::default();
        let first = row("苏州第1机械有限公司", "13800000001");
        assert_eq!(*keys.key(&first), key_of(&first));
        assert_eq!(*keys.key(&first), key_of(&first), "served from the cache");
        let renamed = row("无锡第2机械有限公司", "13800000001");
        assert_eq!(*keys.key(&renamed), key_of(&renamed));
        assert_ne!(*keys.key(&renamed), key_of(&first));
        let new_phone = row("无锡第2机械有限公司", "13900000002");
        assert_eq!(*keys.key(&new_phone), key_of(&new_phone));
    }
}
