//! How Automerge documents live in SQLite: a compacted snapshot per document plus the changes
//! appended since, folded back into the snapshot every [`COMPACT_AFTER_CHANGES`] changes.

use automerge::{Automerge, Change, ChangeHash};
use rusqlite::{Connection, OptionalExtension, params};

use super::error::{Result, StoreError};
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{RecordKind, declared_kind};

/// Fold incremental changes into a new snapshot after this many.
pub(crate) const COMPACT_AFTER_CHANGES: i64 = 32;

/// A document as loaded from the store.
#[derive(Debug)]
pub(crate) struct StoredDoc {
    pub(crate) kind: RecordKind,
    pub(crate) doc: Automerge,
    pub(crate) pending_changes: i64,
    pub(crate) sealed: bool,
}

fn corrupt(id: DocId, reason: impl ToString) -> StoreError {
    StoreError::CorruptDocument { id, reason: reason.to_string() }
}

/// Loads a document, or `None` when no document has this id.
pub(crate) fn load(conn: &Connection, id: DocId) -> Result<Option<StoredDoc>> {
    let row = conn
        .prepare_cached("SELECT kind, snapshot, pending_changes, sealed FROM documents WHERE doc_id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?, r.get::<_, bool>(3)?))
        })
        .optional()?;
    let Some((kind, snapshot, pending_changes, sealed)) = row else {
        return Ok(None);
    };
    let kind: RecordKind = kind.parse().map_err(|e| corrupt(id, e))?;
    let mut doc = Automerge::load(&snapshot).map_err(|e| corrupt(id, e))?;
    if pending_changes > 0 {
        let mut statement =
            conn.prepare_cached("SELECT bytes FROM document_changes WHERE doc_id = ?1 ORDER BY seq")?;
        let mut rows = statement.query([id.to_string()])?;
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            doc.load_incremental(&bytes).map_err(|e| corrupt(id, e))?;
        }
    }
    check_kind_field(&doc, id, kind)?;
    Ok(Some(StoredDoc { kind, doc, pending_changes, sealed }))
}

/// The kind a document declares in its `kind` field.
pub(crate) fn kind_of(doc: &Automerge, id: DocId) -> Result<RecordKind> {
    declared_kind(doc).map_err(|reason| corrupt(id, reason))
}

/// Replaces a document's snapshot with its current state and drops the appended changes.
pub(crate) fn replace_snapshot(conn: &Connection, id: DocId, doc: &Automerge, now: UnixMillis) -> Result<()> {
    conn.prepare_cached("DELETE FROM document_changes WHERE doc_id = ?1")?.execute([id.to_string()])?;
    conn.prepare_cached(
        "UPDATE documents SET snapshot = ?2, pending_changes = 0, pending_bytes = 0, updated_at = ?3
         WHERE doc_id = ?1",
    )?
    .execute(params![id.to_string(), doc.save(), now])?;
    Ok(())
}

/// The document's own `kind` field must agree with the row; a mismatch means tampering or a bug.
fn check_kind_field(doc: &Automerge, id: DocId, kind: RecordKind) -> Result<()> {
    match kind_of(doc, id)? {
        declared if declared == kind => Ok(()),
        declared => {
            Err(corrupt(id, format!("it declares itself a {declared}, but the store lists it as a {kind}")))
        }
    }
}

/// Inserts a brand-new document as a snapshot.
pub(crate) fn insert(
    conn: &Connection,
    id: DocId,
    kind: RecordKind,
    doc: &Automerge,
    now: UnixMillis,
) -> Result<()> {
    insert_saved(conn, id, kind, &doc.save(), now)
}

/// Inserts a brand-new document given as its saved bytes (`Automerge::save`), which the caller
/// has loaded successfully.
pub(crate) fn insert_saved(
    conn: &Connection,
    id: DocId,
    kind: RecordKind,
    saved: &[u8],
    now: UnixMillis,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO documents (doc_id, kind, snapshot, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![id.to_string(), kind.as_str(), saved, now])?;
    Ok(())
}

/// Records a change already applied to `stored.doc`: appended, or folded into a new snapshot.
pub(crate) fn append_change(
    conn: &Connection,
    id: DocId,
    stored: &StoredDoc,
    change: &Change,
    now: UnixMillis,
) -> Result<()> {
    if stored.pending_changes + 1 >= COMPACT_AFTER_CHANGES {
        conn.prepare_cached("DELETE FROM document_changes WHERE doc_id = ?1")?.execute([id.to_string()])?;
        conn.prepare_cached(
            "UPDATE documents SET snapshot = ?2, pending_changes = 0, pending_bytes = 0,
             updated_at = ?3 WHERE doc_id = ?1",
        )?
        .execute(params![id.to_string(), stored.doc.save(), now])?;
        return Ok(());
    }
    let bytes = change.raw_bytes();
    conn.prepare_cached(
        "INSERT INTO document_changes (doc_id, seq, change_hash, bytes)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM document_changes WHERE doc_id = ?1), ?2, ?3)",
    )?
    .execute(params![id.to_string(), &change.hash().0[..], bytes])?;
    conn.prepare_cached(
        "UPDATE documents SET pending_changes = pending_changes + 1,
         pending_bytes = pending_bytes + ?2, updated_at = ?3 WHERE doc_id = ?1",
    )?
    .execute(params![id.to_string(), bytes.len() as i64, now])?;
    Ok(())
}

/// Marks a document sealed: the write path refuses further local changes to it.
pub(crate) fn seal(conn: &Connection, id: DocId) -> Result<()> {
    conn.prepare_cached("UPDATE documents SET sealed = 1 WHERE doc_id = ?1")?.execute([id.to_string()])?;
    Ok(())
}

/// Queues a local change for the relay.
pub(crate) fn enqueue_outbox(
    conn: &Connection,
    id: DocId,
    kind: RecordKind,
    change: &Change,
    now: UnixMillis,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox (change_hash, doc_id, kind, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![&change.hash().0[..], id.to_string(), kind.as_str(), change.raw_bytes(), now])?;
    Ok(())
}

/// The hash of a change as stored in the outbox and on the wire.
pub(crate) fn hash_from_bytes(bytes: &[u8]) -> Option<ChangeHash> {
    ChangeHash::try_from(bytes).ok()
}
