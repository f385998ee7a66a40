//! The device's half of a sync exchange, with no network in sight: build a request from the
//! outbox and cursor; apply the relay's response — acknowledgements, refusals, other devices'
//! documents and changes, and the new cursor — in one transaction, so a crash can never leave the
//! cursor ahead of the data it covers.

use automerge::{Automerge, ReadDoc};
use rusqlite::{Connection, OptionalExtension, params};

use super::documents::{self, StoredDoc};
use super::error::{Result, StoreError};
use super::{Store, projection};
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::RecordKind;
use crate::sync::wire::{DocumentBytes, MAX_CHANGES_PER_REQUEST, PushedChange, SyncRequest, SyncResponse};

/// How much one request may carry.
#[derive(Debug, Clone, Copy)]
pub struct PushLimits {
    /// At most this many changes; never more than the relay takes in one request
    /// ([`MAX_CHANGES_PER_REQUEST`](crate::sync::wire::MAX_CHANGES_PER_REQUEST)), whatever is set here.
    pub max_changes: u32,
    /// At most this many change bytes (one change larger than this still goes alone).
    pub max_bytes: usize,
    /// The largest response the device wants.
    pub max_response_bytes: u32,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits { max_changes: 2_000, max_bytes: 2 * 1024 * 1024, max_response_bytes: 8 * 1024 * 1024 }
    }
}

impl PushLimits {
    /// The changes one request carries at most: `max_changes` within the relay's cap (a request
    /// over it would be refused as a whole, every time, and the outbox would never drain).
    pub fn changes_per_request(&self) -> u32 {
        self.max_changes.min(MAX_CHANGES_PER_REQUEST)
    }
}

/// A request ready to send, and what it pushed (to match the response's indices).
#[derive(Debug, Clone)]
pub struct PreparedSync {
    /// The request to send.
    pub request: SyncRequest,
    pushed: Vec<PushedEntry>,
}

#[derive(Debug, Clone)]
struct PushedEntry {
    hash: Vec<u8>,
    kind: String,
}

/// What applying a response did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedSync {
    /// Local changes the relay acknowledged (removed from the outbox).
    pub acknowledged: u32,
    /// Local changes refused for good (moved to `rejected_changes`).
    pub rejected: u32,
    /// Local changes refused for now (kept in the outbox).
    pub deferred: u32,
    /// Documents created or changed by other devices' data.
    pub documents_changed: u32,
    /// Documents stored but not indexed because they do not read as their kind (from a newer
    /// app version, for example); they are indexed again by a projection rebuild.
    pub documents_unindexed: u32,
    /// The relay has more: sync again.
    pub more: bool,
    /// Alerts this exchange brought that the device did not have (supervisors' devices).
    pub new_alerts: Vec<DocId>,
}

/// A change the relay refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedChange {
    /// Change hash (hex).
    pub change_hash: String,
    /// The document.
    pub doc_id: DocId,
    /// Machine-readable reason.
    pub code: String,
    /// The relay's words.
    pub message: String,
}

/// A blob waiting in the upload queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBlob {
    /// SHA-256 (hex), the blob's name.
    pub sha256: String,
    /// Where the bytes are on the phone.
    pub path: std::path::PathBuf,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Bytes the relay was last known to have.
    pub uploaded: u64,
}

/// The device's position in the relay's log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Opaque relay cursor (empty before the first sync).
    pub cursor: Vec<u8>,
    /// When the last successful exchange finished, on this device's clock.
    pub last_synced_at: Option<UnixMillis>,
    /// The relay's clock at that exchange.
    pub relay_time_at: Option<UnixMillis>,
    /// Changes waiting to be pushed.
    pub outbox_len: u64,
}

impl Store {
    /// Builds the next sync request: the oldest outbox changes within `limits`, and the cursor.
    pub fn prepare_sync(&self, limits: PushLimits) -> Result<PreparedSync> {
        self.db.read(|conn| {
            let cursor: Vec<u8> = conn
                .query_row("SELECT cursor FROM sync_state WHERE singleton = 1", [], |r| r.get(0))
                .optional()?
                .flatten()
                .unwrap_or_default();
            let mut statement = conn.prepare_cached(
                "SELECT change_hash, doc_id, kind, bytes FROM outbox ORDER BY seq LIMIT ?1",
            )?;
            let mut rows = statement.query([limits.changes_per_request()])?;
            let mut changes = Vec::new();
            let mut pushed = Vec::new();
            let mut bytes_total = 0usize;
            while let Some(row) = rows.next()? {
                let bytes: Vec<u8> = row.get(3)?;
                if !changes.is_empty() && bytes_total + bytes.len() > limits.max_bytes {
                    break;
                }
                bytes_total += bytes.len();
                pushed.push(PushedEntry { hash: row.get(0)?, kind: row.get(2)? });
                changes.push(PushedChange { doc_id: row.get(1)?, bytes });
            }
            Ok(PreparedSync {
                request: SyncRequest { cursor, max_response_bytes: limits.max_response_bytes, changes },
                pushed,
            })
        })
    }

    /// Applies the relay's response to `prepared` atomically. On error nothing changes, so the
    /// same exchange can simply be retried.
    pub fn apply_sync(&self, prepared: &PreparedSync, response: &SyncResponse) -> Result<AppliedSync> {
        let pushed = prepared.pushed.len();
        let answered = response.accepted as usize + response.rejected.len();
        if answered != pushed || response.rejected.iter().any(|r| r.index as usize >= pushed) {
            return Err(StoreError::Protocol(format!(
                "the relay answered for {answered} changes (accepted {} + rejected {}) but {pushed} were pushed",
                response.accepted,
                response.rejected.len()
            )));
        }
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            let mut applied = AppliedSync { more: response.more, ..Default::default() };
            let mut refused = vec![None; pushed];
            for rejection in &response.rejected {
                refused[rejection.index as usize] = Some(rejection);
            }
            for (index, entry) in prepared.pushed.iter().enumerate() {
                match refused[index] {
                    None => {
                        tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?.execute([&entry.hash])?;
                        applied.acknowledged += 1;
                    }
                    Some(rejection) if rejection.code.is_retryable() => applied.deferred += 1,
                    Some(rejection) => {
                        let change = &prepared.request.changes[index];
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO rejected_changes
                             (change_hash, doc_id, kind, bytes, code, message, rejected_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )?
                        .execute(params![
                            entry.hash,
                            change.doc_id,
                            entry.kind,
                            change.bytes,
                            rejection.code.as_str(),
                            rejection.message,
                            now
                        ])?;
                        tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?.execute([&entry.hash])?;
                        applied.rejected += 1;
                    }
                }
            }
            for (id, items) in by_document(response.snapshots.iter().chain(&response.changes)) {
                merge_remote(tx, id, &items, now, &mut applied)?;
            }
            tx.prepare_cached(
                "INSERT INTO sync_state (singleton, cursor, last_synced_at, relay_time_at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (singleton) DO UPDATE SET cursor = ?1, last_synced_at = ?2, relay_time_at = ?3",
            )?
            .execute(params![response.cursor, now, i64::try_from(response.server_time_ms).unwrap_or(i64::MAX)])?;
            Ok(applied)
        })
        .inspect(|applied| self.notify_alerts(&applied.new_alerts))
    }

    /// Where this device stands with the relay.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let outbox_len = self.outbox_len()?;
        self.db.read(|conn| {
            let row = conn
                .query_row(
                    "SELECT cursor, last_synced_at, relay_time_at FROM sync_state WHERE singleton = 1",
                    [],
                    |r| Ok((r.get::<_, Option<Vec<u8>>>(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (cursor, last_synced_at, relay_time_at) = row.unwrap_or_default();
            Ok(SyncStatus { cursor: cursor.unwrap_or_default(), last_synced_at, relay_time_at, outbox_len })
        })
    }

    /// Remembers the relay this device enrolled with.
    pub fn set_relay(&self, url: &str, token: &str) -> Result<()> {
        // With a keystore the token goes there and the file keeps only the URL.
        let token = match &self.secrets {
            Some(secrets) => {
                super::secrets::save_relay_token(secrets.as_ref(), self.db.path(), token)?;
                None
            }
            None => Some(token),
        };
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO sync_state (singleton, relay_url, relay_token) VALUES (1, ?1, ?2)
                 ON CONFLICT (singleton) DO UPDATE SET relay_url = ?1, relay_token = ?2",
                params![url, token],
            )?;
            Ok(())
        })
    }

    /// The relay URL and token this device enrolled with, if any.
    pub fn relay(&self) -> Result<Option<(String, String)>> {
        let row = self.db.read(|conn| {
            Ok(conn
                .query_row("SELECT relay_url, relay_token FROM sync_state WHERE singleton = 1", [], |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .optional()?)
        })?;
        let Some((url, in_file)) = row else { return Ok(None) };
        // A token enrolled before the keystore was supplied stays readable from the file.
        let token = match &self.secrets {
            Some(secrets) => super::secrets::load_relay_token(secrets.as_ref(), self.db.path())?.or(in_file),
            None => in_file,
        };
        Ok(url.zip(token))
    }

    /// Queues a blob (photo, thumbnail, signature) for upload. Queuing the same hash twice is
    /// harmless.
    pub fn queue_blob(&self, sha256: &str, path: &std::path::Path, size_bytes: u64) -> Result<()> {
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO blob_queue (sha256, path, size_bytes, queued_at) VALUES (?1, ?2, ?3, ?4)",
                params![sha256, path.to_string_lossy(), size_bytes as i64, now],
            )?;
            Ok(())
        })
    }

    /// Blobs waiting for upload: `(sha256, path, size, bytes the relay is known to have)`.
    pub fn pending_blobs(&self) -> Result<Vec<PendingBlob>> {
        self.db.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT sha256, path, size_bytes, uploaded FROM blob_queue ORDER BY queued_at",
                )?
                .query_map([], |r| {
                    Ok(PendingBlob {
                        sha256: r.get(0)?,
                        path: std::path::PathBuf::from(r.get::<_, String>(1)?),
                        size_bytes: r.get::<_, i64>(2)?.max(0) as u64,
                        uploaded: r.get::<_, i64>(3)?.max(0) as u64,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Records upload progress of a blob; `done` removes it from the queue.
    pub fn record_blob_progress(
        &self,
        sha256: &str,
        uploaded: u64,
        done: bool,
        error: Option<&str>,
    ) -> Result<()> {
        self.db.write(|tx| {
            if done {
                tx.execute("DELETE FROM blob_queue WHERE sha256 = ?1", [sha256])?;
            } else {
                tx.execute(
                    "UPDATE blob_queue SET uploaded = ?2, attempts = attempts + ?3, last_error = ?4 WHERE sha256 = ?1",
                    params![sha256, uploaded as i64, i64::from(error.is_some()), error],
                )?;
            }
            Ok(())
        })
    }

    /// Changes the relay refused for good, newest first.
    pub fn rejected_changes(&self, limit: u32) -> Result<Vec<RejectedChange>> {
        self.db.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT change_hash, doc_id, code, message FROM rejected_changes
                     ORDER BY rejected_at DESC LIMIT ?1",
                )?
                .query_map([limit], |r| {
                    Ok(RejectedChange {
                        change_hash: hex::encode(r.get::<_, Vec<u8>>(0)?),
                        doc_id: r.get(1)?,
                        code: r.get(2)?,
                        message: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }
}

/// Merges a document or change from the relay into the local copy (creating it if new).
/// Groups the relay's documents and changes by document, keeping the log order within each,
/// so every document is loaded, saved and indexed once per page however many changes it got.
fn by_document<'a>(items: impl Iterator<Item = &'a DocumentBytes>) -> Vec<(DocId, Vec<&'a [u8]>)> {
    let mut groups: Vec<(DocId, Vec<&[u8]>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for item in items {
        let slot = *index.entry(item.doc_id).or_insert_with(|| {
            groups.push((item.doc_id, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(&item.bytes);
    }
    groups
}

/// Merges one document's snapshots and changes from the relay into the local copy (creating it
/// if new).
fn merge_remote(
    conn: &Connection,
    id: DocId,
    items: &[&[u8]],
    now: UnixMillis,
    applied: &mut AppliedSync,
) -> Result<()> {
    let corrupt = |reason: String| StoreError::Protocol(format!("document {id} from the relay: {reason}"));
    // (kind, sealed, heads) of the local copy, if there is one.
    let (mut doc, local) = match documents::load(conn, id)? {
        Some(stored) => {
            let heads = stored.doc.get_heads();
            (stored.doc, Some((stored.kind, stored.sealed, heads)))
        }
        None => (Automerge::new(), None),
    };
    for bytes in items {
        doc.load_incremental(bytes).map_err(|e| corrupt(e.to_string()))?;
    }
    check_complete(&doc).map_err(corrupt)?;
    if local.as_ref().is_some_and(|(_, _, heads)| *heads == doc.get_heads()) {
        return Ok(()); // already had all of it (our own change echoed, or a replayed page)
    }
    let kind = documents::kind_of(&doc, id)?;
    let had_local = local.is_some();
    let stored = match local {
        Some((local_kind, _, _)) if local_kind != kind => {
            return Err(corrupt(format!("it changed kind from {local_kind} to {kind}")));
        }
        // Remote items may be whole snapshots: store the merged state as a new snapshot rather
        // than appending them as changes.
        Some((_, sealed, _)) => {
            documents::replace_snapshot(conn, id, &doc, now)?;
            StoredDoc { kind, doc, pending_changes: 0, sealed }
        }
        None => {
            documents::insert(conn, id, kind, &doc, now)?;
            StoredDoc { kind, doc, pending_changes: 0, sealed: false }
        }
    };
    project_remote(conn, id, &stored, applied)?;
    if stored.kind == RecordKind::Alert && !had_local {
        applied.new_alerts.push(id);
    }
    applied.documents_changed += 1;
    Ok(())
}

/// A change whose dependencies are missing would sit in Automerge's queue and vanish on save.
fn check_complete(doc: &Automerge) -> std::result::Result<(), String> {
    let missing = doc.get_missing_deps(&[]);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{} dependencies are missing; the relay sent changes out of order", missing.len()))
    }
}

fn project_remote(conn: &Connection, id: DocId, stored: &StoredDoc, applied: &mut AppliedSync) -> Result<()> {
    match projection::project(conn, id, stored.kind, &stored.doc) {
        Ok(()) => Ok(()),
        // A document that does not read as its kind (a newer schema) is kept, just not indexed.
        Err(StoreError::CorruptDocument { .. }) => {
            applied.documents_unindexed += 1;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
