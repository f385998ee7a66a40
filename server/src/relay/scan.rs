//! Reading every stored document of a team, page by page, and its rules: the relay's derived views (heat tags,
//! KPIs) are computed from the documents when asked, not from the writer's cache, so no sync job
//! waits behind them. A document that does not load or declare its kind is left out, as the
//! phones leave it out of their projections.

use automerge::Automerge;
use fieldsync_core::DocId;
use fieldsync_core::model::{Record, RecordKind, TeamRules, declared_kind, read_record};

use crate::storage::{RelayStorage, StorageError, SyncVisibility};

/// Snapshot bytes read per storage call.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// Calls `each` with every readable document of `team_id` but the relay's alerts, in id order.
pub fn each_team_document(
    storage: &dyn RelayStorage,
    team_id: &str,
    mut each: impl FnMut(DocId, RecordKind, &Automerge) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut after = None;
    loop {
        let page = storage.snapshots_after(team_id, after, SyncVisibility::ForReps, None, PAGE_BYTES)?;
        for (id, snapshot) in &page.documents {
            let Ok(doc) = Automerge::load(snapshot) else { continue };
            let Ok(kind) = declared_kind(&doc) else { continue };
            each(*id, kind, &doc)?;
        }
        after = page.documents.last().map(|(id, _)| *id);
        if !page.more || after.is_none() {
            return Ok(());
        }
    }
}

/// The team's rules as the derived views read them: its rules document when it reads and
/// validates, the defaults otherwise (as on the phones, which keep working on the defaults).
pub fn team_rules(storage: &dyn RelayStorage, team_id: &str) -> Result<TeamRules, StorageError> {
    let Some(id) = storage.team_rules_document(team_id)? else { return Ok(TeamRules::defaults()) };
    let Some(stored) = storage.load_document(id)? else { return Ok(TeamRules::defaults()) };
    Ok(Automerge::load(&stored.snapshot)
        .ok()
        .and_then(|doc| read_record::<TeamRules>(&doc).ok())
        .filter(|rules| rules.validate().is_ok())
        .unwrap_or_else(TeamRules::defaults))
}

/// The record in `doc` when it reads as `R` and carries the id it is stored under.
pub(super) fn read<R: Record>(doc: &Automerge, id: DocId) -> Option<R> {
    read_record::<R>(doc).ok().filter(|r| r.id() == id)
}
