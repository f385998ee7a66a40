//! The duplicate check on the phone (DESIGN §4 Duplicates): before a customer or lead card is
//! saved, find the customers it may be, from the projection indexes alone.
//!
//! Candidates come from indexes written with every customer (migration 0004):
//!
//! 1. **exact phone**: every customer listing one of the query's numbers (normalised E.164),
//!    and every customer with the query's (valid) credit code;
//! 2. **name n-grams**: the customers sharing the most *rare* grams with the query's name core.
//!    Gram counts are kept per gram, so the lookup reads the postings of the rarest grams first
//!    and never those of grams that half the customers carry (`机械`, `科技`); it stops after a
//!    fixed number of postings however large the store is.
//!
//! Each candidate's match key (name, normalised phones, credit code) is read from its
//! `customer_index` row and scored with [`compare`], the rule the relay uses too. A customer
//! merged into another is reported as the customer it was merged into.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{Result, StoreError};
use super::projection::{decode_phones, hydrate};
use super::query::CustomerSummary;
use super::{Store, documents};
use crate::clock::UnixMillis;
use crate::dedup::core_grams;
use crate::dedup::{
    CustomerKey, Decision, DedupThresholds, FieldConflict, MatchReason, compare, merge_customers,
    without_common_numbers,
};
use crate::ids::DocId;
use crate::model::{
    Customer, Draft, NewCustomer, NewLeadCard, Provenance, Record, RecordKind, TeamRules, ValidationError,
};

/// Customers read per phone number: a park switchboard can be listed by hundreds.
const MAX_ROWS_PER_PHONE: i64 = 64;
/// Grams carried by more customers than this are not read (unless no rarer gram is shared at
/// all): they are industry words and legal leftovers, and their postings would cost more than
/// they tell.
const MAX_POSTINGS_PER_GRAM: i64 = 1_000;
/// Postings read per lookup at most, over all grams.
const POSTINGS_BUDGET: i64 = 3_000;
/// Customers found through the name index that are scored, best-sharing first.
const NAME_CANDIDATES_SCORED: usize = 24;
/// Candidates returned at most.
const MAX_CANDIDATES: usize = 20;
/// Redirects followed from a merged-away customer before giving up (a cycle, or a chain).
const MAX_REDIRECTS: usize = 8;

/// A customer the new record may duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateCandidate {
    /// The existing customer (never one that was merged away: those resolve to the customer
    /// they were merged into).
    pub customer: CustomerSummary,
    /// The customer whose data matched; differs from `customer.id` when the match was a record
    /// since merged into `customer`.
    pub matched: DocId,
    /// Name similarity in [0, 1] (1 when equal credit codes decided).
    pub score: f64,
    /// [`Decision::Same`] or [`Decision::Possible`]; different customers are not candidates.
    pub decision: Decision,
    /// The evidence, strongest first (shared phone, similar name, different regions, …).
    pub reasons: Vec<MatchReason>,
    /// The candidate reaches the warning bar of the design (name similarity ≥ the team's
    /// `dedup_same_name`, or equal credit codes): the app offers "link to existing" before
    /// saving. Candidates below it are only worth showing.
    pub warning: bool,
}

/// What [`Store::create_customer_checked`] does when the new customer has likely duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// Save nothing when a candidate reaches the warning bar; return the candidates instead.
    WarnIfDuplicates,
    /// Save in any case (the rep saw the warning and chose "a new customer").
    CreateAnyway,
}

/// The result of [`Store::create_customer_checked`].
// One value per create, never held in bulk: boxing the record would only burden the caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// The customer was saved. `candidates` are the customers it may still duplicate (below
    /// the warning bar, or all of them with [`CreateMode::CreateAnyway`]), for review.
    Created {
        /// The new record.
        customer: Customer,
        /// Remaining candidates, best first.
        candidates: Vec<DuplicateCandidate>,
    },
    /// Nothing was saved: these candidates (best first, at least one with
    /// [`DuplicateCandidate::warning`]) look like the same company.
    Duplicates(Vec<DuplicateCandidate>),
}

/// What [`Store::import_customers`] did with one draft.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportedCustomer {
    /// Saved as a new customer. Non-empty `candidates` are possible duplicates to review.
    Created {
        /// The new customer's id.
        id: DocId,
        /// Possible duplicates (decision [`Decision::Possible`]), best first.
        candidates: Vec<DuplicateCandidate>,
    },
    /// The same company as an existing customer (decision [`Decision::Same`]): its data was
    /// merged into that customer with [`merge_customers`] and no new record was made.
    Merged {
        /// The customer it was merged into.
        into: DocId,
        /// Why it is the same.
        candidate: DuplicateCandidate,
        /// Fields where the existing customer and the draft disagreed; the existing value was
        /// kept.
        conflicts: Vec<FieldConflict>,
    },
    /// Not saved: the draft, or the merged record it would have made, breaks a rule.
    Refused(ValidationError),
}

impl Store {
    /// The team's duplicate thresholds: those of the newest team rules document, or the
    /// defaults (0.8 / 0.6) when the store holds none or its thresholds are not valid.
    pub fn dedup_thresholds(&self) -> Result<DedupThresholds> {
        self.db.read(team_thresholds)
    }

    /// Customers the new customer may duplicate, best first (`Same`, then a shared phone, then
    /// the name score), at most 20, found
    /// through the phone and name indexes with the team's thresholds. Saves nothing; the app
    /// calls it while the rep types, or uses [`Store::create_customer_checked`].
    pub fn duplicate_candidates(&self, customer: &NewCustomer) -> Result<Vec<DuplicateCandidate>> {
        let key = draft_key(customer);
        self.db.read(|conn| find_candidates(conn, &key, &team_thresholds(conn)?))
    }

    /// Customers a scanned lead card may belong to: its company name and phones against the
    /// customers, as [`Store::duplicate_candidates`]. A card without a company is matched on
    /// its phones alone.
    pub fn lead_card_duplicate_candidates(&self, card: &NewLeadCard) -> Result<Vec<DuplicateCandidate>> {
        let phones: Vec<&str> = card.phones.iter().map(String::as_str).collect();
        let key = CustomerKey::new(card.company.as_deref().unwrap_or(""), &phones, None);
        self.db.read(|conn| find_candidates(conn, &key, &team_thresholds(conn)?))
    }

    /// [`Store::duplicate_candidates`] for a key and thresholds the caller chose.
    pub fn duplicate_candidates_for_key(
        &self,
        key: &CustomerKey,
        thresholds: &DedupThresholds,
    ) -> Result<Vec<DuplicateCandidate>> {
        self.db.read(|conn| find_candidates(conn, key, thresholds))
    }

    /// Creates a customer unless it looks like one already stored.
    ///
    /// The check and the write are one transaction, so a customer saved meanwhile (a sync)
    /// cannot slip between them. With [`CreateMode::WarnIfDuplicates`] and a candidate at the
    /// warning bar nothing is saved and the candidates come back; the app shows them and calls
    /// again with [`CreateMode::CreateAnyway`] if the rep insists.
    pub fn create_customer_checked(&self, customer: NewCustomer, mode: CreateMode) -> Result<CreateOutcome> {
        let now = self.clock.now_ms();
        let key = draft_key(&customer);
        let record = customer.into_record(DocId::generate(), self.provenance(now));
        record.validate()?;
        self.db.write(|tx| {
            let candidates = find_candidates(tx, &key, &team_thresholds(tx)?)?;
            if mode == CreateMode::WarnIfDuplicates && candidates.iter().any(|c| c.warning) {
                return Ok(CreateOutcome::Duplicates(candidates));
            }
            self.insert_record(tx, &record, now)?;
            Ok(CreateOutcome::Created { customer: record, candidates })
        })
    }

    /// Creates customers in bulk (a spreadsheet import), each checked against the store and
    /// against the drafts before it: a draft that is the same company as a stored customer
    /// ([`Decision::Same`]) is merged into it with [`merge_customers`]; anything else is
    /// created, with its possible duplicates reported.
    ///
    /// One transaction: either every draft is applied or, on a store error, none is. A draft
    /// that breaks a record rule is [`ImportedCustomer::Refused`] and skipped; the others go on.
    /// `progress` is called with the number of drafts done after each one.
    pub fn import_customers(
        &self,
        drafts: Vec<NewCustomer>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<ImportedCustomer>> {
        let now = self.clock.now_ms();
        let provenance = self.provenance(now);
        self.db.write(|tx| {
            let thresholds = team_thresholds(tx)?;
            let mut outcomes = Vec::with_capacity(drafts.len());
            for (done, draft) in drafts.into_iter().enumerate() {
                let key = draft_key(&draft);
                let record = draft.into_record(DocId::generate(), provenance);
                let outcome = match record.validate() {
                    Err(invalid) => ImportedCustomer::Refused(invalid),
                    Ok(()) => {
                        let candidates = find_candidates(tx, &key, &thresholds)?;
                        match candidates.iter().position(|c| c.decision == Decision::Same) {
                            Some(same) => self.merge_into(tx, &record, candidates[same].clone(), now)?,
                            None => {
                                self.insert_record(tx, &record, now)?;
                                ImportedCustomer::Created { id: record.id, candidates }
                            }
                        }
                    }
                };
                outcomes.push(outcome);
                progress(done + 1);
            }
            Ok(outcomes)
        })
    }

    fn provenance(&self, now: UnixMillis) -> Provenance {
        Provenance { created_at: now, created_by: self.device_id() }
    }

    /// Merges a draft record into the existing customer of `candidate`, in the write
    /// transaction `tx`.
    fn merge_into(
        &self,
        tx: &Connection,
        draft: &Customer,
        candidate: DuplicateCandidate,
        now: UnixMillis,
    ) -> Result<ImportedCustomer> {
        let id = candidate.customer.id;
        let stored =
            documents::load(tx, id)?.ok_or(StoreError::NotFound { kind: RecordKind::Customer, id })?;
        let existing: Customer = hydrate(&stored.doc, id)?;
        let merge = merge_customers(&existing, draft);
        if let Err(invalid) = merge.merged.validate() {
            return Ok(ImportedCustomer::Refused(invalid));
        }
        self.update_in(tx, &merge.merged, now)?;
        Ok(ImportedCustomer::Merged { into: id, candidate, conflicts: merge.conflicts })
    }
}

/// The duplicate-check key of a draft: as [`super::projection::customer_key`] for a stored one.
fn draft_key(customer: &NewCustomer) -> CustomerKey {
    let phones: Vec<&str> = customer
        .phones
        .iter()
        .chain(customer.contacts.iter().flat_map(|c| c.phones.iter()))
        .map(String::as_str)
        .collect();
    CustomerKey::new(&customer.company_name, &phones, customer.credit_code.as_deref())
}

fn team_thresholds(conn: &Connection) -> Result<DedupThresholds> {
    // UUIDv7 ids sort by creation time: the last one is the newest rules document.
    let newest: Option<DocId> = conn
        .prepare_cached("SELECT doc_id FROM documents WHERE kind = ?1 ORDER BY doc_id DESC LIMIT 1")?
        .query_row([RecordKind::TeamRules.as_str()], |r| r.get(0))
        .optional()?;
    let Some(id) = newest else {
        return Ok(DedupThresholds::default());
    };
    let Some(stored) = documents::load(conn, id)? else {
        return Ok(DedupThresholds::default());
    };
    let rules: TeamRules = hydrate(&stored.doc, id)?;
    // Rules arrive from the relay too; bad thresholds there must not disable the check.
    Ok(if rules.validate().is_ok() { rules.dedup_thresholds() } else { DedupThresholds::default() })
}

/// One `customer_index` row as the check needs it.
struct CandidateRow {
    summary: CustomerSummary,
    key: CustomerKey,
    created_at: UnixMillis,
}

fn candidate_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(CustomerSummary, String, Option<String>, UnixMillis)> {
    Ok((
        CustomerSummary {
            id: row.get(0)?,
            company_name: row.get(1)?,
            first_phone: row.get(2)?,
            merged_into: row.get(3)?,
            distance_m: None,
            heat: None,
        },
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

const CANDIDATE_COLUMNS: &str =
    "doc_id, company_name, first_phone, merged_into, dedup_phones, credit_code, created_at";

fn read_row(conn: &Connection, sql: &str, param: &dyn rusqlite::ToSql) -> Result<Option<CandidateRow>> {
    let row = conn.prepare_cached(sql)?.query_row([param], candidate_row).optional()?;
    Ok(row.map(|(summary, phones, credit_code, created_at)| {
        let key = CustomerKey {
            name: crate::dedup::normalize_company_name(&summary.company_name),
            phones: decode_phones(&phones),
            credit_code,
        };
        CandidateRow { summary, key, created_at }
    }))
}

fn row_by_row_id(conn: &Connection, row_id: i64) -> Result<Option<CandidateRow>> {
    read_row(conn, &format!("SELECT {CANDIDATE_COLUMNS} FROM customer_index WHERE row_id = ?1"), &row_id)
}

fn row_by_doc_id(conn: &Connection, id: DocId) -> Result<Option<CandidateRow>> {
    read_row(conn, &format!("SELECT {CANDIDATE_COLUMNS} FROM customer_index WHERE doc_id = ?1"), &id)
}

/// The customer a merged-away customer now lives in, following up to [`MAX_REDIRECTS`]
/// redirects; `None` when the chain ends at a customer this device does not hold (yet) or
/// loops.
fn resolve_redirects(conn: &Connection, mut row: CandidateRow) -> Result<Option<CandidateRow>> {
    for _ in 0..MAX_REDIRECTS {
        let Some(target) = row.summary.merged_into else {
            return Ok(Some(row));
        };
        match row_by_doc_id(conn, target)? {
            Some(next) => row = next,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Row ids of customers with the same credit code or sharing a phone number with `key`.
fn identity_hits(conn: &Connection, key: &CustomerKey) -> Result<Vec<i64>> {
    let mut rows = Vec::new();
    if let Some(code) = &key.credit_code {
        rows.extend(
            conn.prepare_cached(
                "SELECT row_id FROM customer_index WHERE credit_code = ?1 ORDER BY row_id LIMIT ?2",
            )?
            .query_map(params![code, MAX_ROWS_PER_PHONE], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    let mut statement = conn
        .prepare_cached("SELECT row_id FROM customer_e164_index WHERE e164 = ?1 ORDER BY row_id LIMIT ?2")?;
    for phone in &key.phones {
        let found = statement
            .query_map(params![phone.e164, MAX_ROWS_PER_PHONE], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.extend(found);
    }
    Ok(rows)
}

/// Row ids of the customers sharing the most rare name grams with `key`, best first.
///
/// Each shared gram counts `ln(1 + customers / carriers)`: a gram few customers carry says
/// more than one every machinery maker carries.
fn name_hits(conn: &Connection, key: &CustomerKey) -> Result<Vec<i64>> {
    let grams = core_grams(&key.name.core);
    if grams.is_empty() {
        return Ok(Vec::new());
    }
    let mut counted = Vec::with_capacity(grams.len());
    {
        let mut count =
            conn.prepare_cached("SELECT customers FROM customer_name_gram_counts WHERE gram = ?1")?;
        for gram in grams {
            if let Some(carriers) = count.query_row([&gram], |r| r.get::<_, i64>(0)).optional()?
                && carriers > 0
            {
                counted.push((carriers, gram));
            }
        }
    }
    counted.sort();
    // max(row_id) stands in for the number of customers: an index lookup instead of a count.
    let customers: i64 =
        conn.query_row("SELECT coalesce(max(row_id), 0) FROM customer_index", [], |r| r.get(0))?;

    let mut scores: HashMap<i64, f64> = HashMap::new();
    let mut read = 0;
    let mut postings =
        conn.prepare_cached("SELECT row_id FROM customer_name_grams WHERE gram = ?1 LIMIT ?2")?;
    for (carriers, gram) in &counted {
        if read > 0 && (*carriers > MAX_POSTINGS_PER_GRAM || read + carriers > POSTINGS_BUDGET) {
            break;
        }
        let weight = (1.0 + customers.max(1) as f64 / *carriers as f64).ln();
        let mut rows = postings.query(params![gram, MAX_POSTINGS_PER_GRAM])?;
        while let Some(row) = rows.next()? {
            *scores.entry(row.get(0)?).or_default() += weight;
            read += 1;
        }
    }
    let mut ranked: Vec<(i64, f64)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(NAME_CANDIDATES_SCORED);
    Ok(ranked.into_iter().map(|(row_id, _)| row_id).collect())
}

/// The candidates for `key`: phone and name hits scored with [`compare`], redirected past
/// merges, one per customer (the best verdict), best first.
pub(crate) fn find_candidates(
    conn: &Connection,
    key: &CustomerKey,
    thresholds: &DedupThresholds,
) -> Result<Vec<DuplicateCandidate>> {
    let mut row_ids = identity_hits(conn, key)?;
    row_ids.extend(name_hits(conn, key)?);
    let mut seen = std::collections::HashSet::new();
    row_ids.retain(|id| seen.insert(*id));
    let mut rows = Vec::with_capacity(row_ids.len());
    for row_id in row_ids {
        rows.extend(row_by_row_id(conn, row_id)?);
    }
    // A number many unrelated customers list says nothing about which company this is: it is
    // left out of the comparison (an extension on it still counts: it reaches one desk).
    let reduced = without_common_numbers(key, rows.iter().map(|r| &r.key), thresholds);
    let key = reduced.as_ref().unwrap_or(key);

    let mut best: HashMap<DocId, (DuplicateCandidate, UnixMillis)> = HashMap::new();
    for row in rows {
        let verdict = compare(key, &row.key, thresholds);
        if verdict.decision == Decision::Different {
            continue;
        }
        let matched = row.summary.id;
        let Some(canonical) = resolve_redirects(conn, row)? else {
            continue;
        };
        let warning =
            verdict.score >= thresholds.same_name || verdict.reasons.contains(&MatchReason::CreditCodeMatch);
        let candidate = DuplicateCandidate {
            customer: canonical.summary,
            matched,
            score: verdict.score,
            decision: verdict.decision,
            reasons: verdict.reasons,
            warning,
        };
        match best.get(&candidate.customer.id) {
            Some((kept, _)) if rank(kept) <= rank(&candidate) => {}
            _ => {
                best.insert(candidate.customer.id, (candidate, canonical.created_at));
            }
        }
    }
    let mut candidates: Vec<(DuplicateCandidate, UnixMillis)> = best.into_values().collect();
    candidates.sort_by(|(a, a_created), (b, b_created)| {
        rank(a)
            .partial_cmp(&rank(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a_created.cmp(b_created))
            .then(a.customer.id.cmp(&b.customer.id))
    });
    candidates.truncate(MAX_CANDIDATES);
    Ok(candidates.into_iter().map(|(c, _)| c).collect())
}

/// Sort key: `Same` first; then candidates sharing a phone or credit code (evidence about the
/// company itself, not only its name); then the higher name score.
fn rank(candidate: &DuplicateCandidate) -> (u8, u8, f64) {
    let decision = match candidate.decision {
        Decision::Same => 0,
        Decision::Possible => 1,
        Decision::Different => 2,
    };
    let identity_evidence = candidate.reasons.iter().any(|r| {
        matches!(
            r,
            MatchReason::SharedPhone { .. }
                | MatchReason::SharedSwitchboard { .. }
                | MatchReason::CreditCodeMatch
        )
    });
    (decision, u8::from(!identity_evidence), -candidate.score)
}
