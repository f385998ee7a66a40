//! The admin's repair of a team's change log: what a relay older than the intake checks of
//! `fieldsync_core::sync::intake` may have accepted, a phone cannot read. Such entries are
//! removed, and every document they touched is rebuilt from the entries that remain.

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, ReadDoc};
use fieldsync_core::DocId;
use fieldsync_core::model::check_document;
use fieldsync_core::sync::intake;
use serde::Serialize;

use super::Writer;
use crate::storage::{DocumentUpdate, StorageError};

/// Log entries read per storage call while scanning.
const PAGE: u32 = 2_000;

/// What a log repair found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Log entries read.
    pub entries_checked: u64,
    /// Entries removed because a phone could not read them (with why, per entry).
    pub removed: Vec<RemovedEntry>,
    /// Documents whose snapshot was rebuilt.
    pub documents_rebuilt: Vec<String>,
    /// Documents whose remaining entries no longer read as a record; their snapshot was kept.
    pub documents_unrepairable: Vec<String>,
}

/// One removed log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedEntry {
    /// Its log position.
    pub seq: u64,
    /// Its document.
    pub doc_id: String,
    /// Why it was removed.
    pub reason: String,
}

impl Writer {
    pub(super) fn repair_team_log(&mut self, team_id: &str) -> Result<RepairReport, StorageError> {
        let mut report = RepairReport::default();
        // Pass 1: which entries a phone would refuse, and which documents they belong to.
        let mut damaged: BTreeMap<DocId, Vec<u64>> = BTreeMap::new();
        self.each_log_entry(team_id, |seq, doc_id, bytes| {
            report.entries_checked += 1;
            if let Err(e) = intake::verify_change(&bytes) {
                damaged.entry(doc_id).or_default().push(seq);
                report.removed.push(RemovedEntry { seq, doc_id: doc_id.to_string(), reason: e.to_string() });
            }
        })?;
        if damaged.is_empty() {
            return Ok(report);
        }
        // Pass 2: rebuild each such document from its readable entries, in log order. An entry
        // that depended on a removed one can no longer apply and goes too.
        let mut entries: BTreeMap<DocId, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
        self.each_log_entry(team_id, |seq, doc_id, bytes| {
            if damaged.get(&doc_id).is_some_and(|bad| !bad.contains(&seq)) {
                entries.entry(doc_id).or_default().push((seq, bytes));
            }
        })?;
        let mut positions: Vec<u64> = damaged.values().flatten().copied().collect();
        let mut updates = Vec::new();
        for doc_id in damaged.keys() {
            let mut doc = Automerge::new();
            let mut orphans = Vec::new();
            for (seq, bytes) in entries.remove(doc_id).unwrap_or_default() {
                let applied = intake::verify_change(&bytes).and_then(|change| {
                    let missing: HashSet<_> =
                        change.deps().iter().filter(|d| doc.get_change_by_hash(d).is_none()).collect();
                    if missing.is_empty() {
                        intake::apply_change(&mut doc, change)
                    } else {
                        Err(intake::IntakeError::NotApplicable("it depended on a removed entry".into()))
                    }
                });
                if let Err(e) = applied {
                    orphans.push(seq);
                    report.removed.push(RemovedEntry {
                        seq,
                        doc_id: doc_id.to_string(),
                        reason: e.to_string(),
                    });
                    // A failed apply may have left the copy half-changed: rebuild it so far.
                    doc = rebuild(&doc)?;
                }
            }
            match check_document(&doc) {
                Ok(facts) => {
                    let Some(stored) = self.storage.load_document(*doc_id)? else { continue };
                    positions.extend(orphans);
                    updates.push(DocumentUpdate {
                        doc_id: *doc_id,
                        tenant_id: stored.tenant_id,
                        team_id: stored.team_id,
                        kind: facts.kind.as_str().to_owned(),
                        snapshot: doc.save(),
                        sealed: facts.sealed,
                    });
                    report.documents_rebuilt.push(doc_id.to_string());
                }
                Err(_) => {
                    // Removing the entries would leave no readable record: keep them and the
                    // snapshot, and say so.
                    report.removed.retain(|r| r.doc_id != doc_id.to_string());
                    positions.retain(|p| !damaged[doc_id].contains(p));
                    report.documents_unrepairable.push(doc_id.to_string());
                }
            }
        }
        self.storage.repair_log(team_id, &positions, &updates)?;
        for update in &updates {
            self.cache.remove(&update.doc_id);
        }
        tracing::warn!(
            team = team_id,
            removed = report.removed.len(),
            rebuilt = report.documents_rebuilt.len(),
            "repaired the team's change log"
        );
        Ok(report)
    }
}

impl Writer {
    /// Calls `f` with every entry of the team's log, in log order, a page at a time.
    fn each_log_entry(
        &self,
        team_id: &str,
        mut f: impl FnMut(u64, DocId, Vec<u8>),
    ) -> Result<(), StorageError> {
        let mut after = 0;
        loop {
            let page = self.storage.team_log(team_id, after, PAGE)?;
            let Some(&(last, _, _)) = page.last() else { return Ok(()) };
            after = last;
            for (seq, doc_id, bytes) in page {
                f(seq, doc_id, bytes);
            }
        }
    }
}

/// A fresh copy of `doc` from its own saved form (drops whatever a failed apply left behind).
fn rebuild(doc: &Automerge) -> Result<Automerge, StorageError> {
    intake::guarded(|| Automerge::load(&doc.save()))
        .map_err(StorageError::Backend)?
        .map_err(|e| StorageError::Backend(format!("rebuilding a document: {e}")))
}
