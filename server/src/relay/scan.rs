//! Reading every stored document of a team, page by page: the relay's derived views (heat tags,
//! KPIs) are computed from the documents when asked, not from the writer's cache, so no sync job
//! waits behind them. A document that does not load or declare its kind is left out, as the
//! phones leave it out of their projections.

use automerge::Automerge;
use fieldsync_core::DocId;
use fieldsync_core::model::{RecordKind, declared_kind};

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
        let page =
            storage.snapshots_after(team_id, after, SyncVisibility::WithoutAlerts, None, PAGE_BYTES)?;
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
