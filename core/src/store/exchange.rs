//! The device's half of a sync exchange, with no network in sight: build a request from the
//! outbox and cursor; apply the relay's response — acknowledgements, refusals, other devices'
//! documents and changes, and the new cursor — in one transaction, so a crash can never leave the
//! cursor ahead of the data it covers.

use automerge::{Automerge, ReadDoc};
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::documents::{self, StoredDoc};
use super::error::{Result, StoreError};
use super::projection::{self, Projected};
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{RecordKind, check_readable};
use crate::sync::intake::{self, ChunkKind};
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
    /// Snapshots and changes from the relay that could not be applied: kept in
    /// `quarantined_entries`, their documents marked for repair ([`Store::documents_to_repair`]).
    pub quarantined: u32,
}

/// A document whose local copy may lack what the relay has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentToRepair {
    /// The document.
    pub doc_id: DocId,
    /// Why it was marked.
    pub reason: String,
    /// When it was first marked.
    pub since: UnixMillis,
    /// Repairs tried so far.
    pub attempts: u32,
}

/// Something the relay sent that this device could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedEntry {
    /// The document it was for.
    pub doc_id: DocId,
    /// Its size in bytes.
    pub bytes: u64,
    /// Why it was not applied.
    pub reason: String,
    /// When it arrived.
    pub received_at: UnixMillis,
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
        // Read with the relay's time, so later captures can carry it forward on the monotonic clock.
        let uptime = self.clock.uptime();
        let groups = by_document(response.snapshots.iter().chain(&response.changes));
        // New documents, read before the write transaction and on every core.
        let mut ready = read_new_documents(&groups);
        self.db
            .write(|tx| {
                let mut applied = AppliedSync { more: response.more, ..Default::default() };
                let mut refused = vec![None; pushed];
                for rejection in &response.rejected {
                    refused[rejection.index as usize] = Some(rejection);
                }
                for (index, entry) in prepared.pushed.iter().enumerate() {
                    match refused[index] {
                        None => {
                            tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?
                                .execute([&entry.hash])?;
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
                            tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?
                                .execute([&entry.hash])?;
                            applied.rejected += 1;
                        }
                    }
                }
                for ((id, items), ready) in groups.iter().zip(&mut ready) {
                    merge_remote(tx, *id, items, ready.take(), now, &mut applied)?;
                }
                super::device_clock::note_relay_time(
                    tx,
                    &response.cursor,
                    now,
                    i64::try_from(response.server_time_ms).unwrap_or(i64::MAX),
                    uptime,
                )?;
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

    /// Documents marked for repair (something the relay sent for them was quarantined), oldest
    /// first, that have been tried fewer than `max_attempts` times.
    pub fn documents_to_repair(&self, max_attempts: u32) -> Result<Vec<DocumentToRepair>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, reason, since, attempts FROM documents_to_repair
                 WHERE attempts < ?1 ORDER BY since, doc_id",
            )?;
            let rows = statement.query_map([max_attempts], |r| {
                Ok(DocumentToRepair {
                    doc_id: r.get(0)?,
                    reason: r.get(1)?,
                    since: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Merges the relay's snapshot of a document marked for repair into the local copy (or
    /// replaces a local copy that no longer loads, keeping this device's unsent changes) and
    /// clears the mark. When the snapshot cannot be applied either, the document stays marked,
    /// one attempt more, and the reason is returned as `Ok(Some(reason))`.
    pub fn repair_document(&self, id: DocId, snapshot: &[u8]) -> Result<Option<String>> {
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            let attempt = |reason: String| -> Result<Option<String>> {
                count_repair_attempt(tx, id, &reason)?;
                Ok(Some(reason))
            };
            let mut local_loads = true;
            let local = match documents::load(tx, id) {
                Ok(local) => local,
                // The local copy is beyond repair: start from the relay's, then this device's
                // changes the relay has not acknowledged yet.
                Err(StoreError::CorruptDocument { .. }) => {
                    local_loads = false;
                    None
                }
                Err(e) => return Err(e),
            };
            let local_kind = local.as_ref().map(|l| l.kind);
            // A repair must not trade a readable record (or none) for an unreadable one.
            let local_reads = local_loads && local.as_ref().is_none_or(|l| check_readable(&l.doc).is_ok());
            let sealed = local.as_ref().is_some_and(|l| l.sealed);
            let mut doc = local.map(|l| l.doc).unwrap_or_default();
            if let Err(reason) = apply_remote(&mut doc, snapshot) {
                return attempt(format!("the relay's snapshot does not apply: {reason}"));
            }
            let mut outbox = tx.prepare_cached("SELECT bytes FROM outbox WHERE doc_id = ?1 ORDER BY seq")?;
            for bytes in outbox.query_map([id], |r| r.get::<_, Vec<u8>>(0))? {
                if let Err(reason) = apply_remote(&mut doc, &bytes?) {
                    return attempt(format!("this device's own unsent change does not apply: {reason}"));
                }
            }
            if let Err(reason) = check_complete(&doc) {
                return attempt(reason);
            }
            if let Err(why) = check_readable(&doc)
                && local_reads
            {
                return attempt(format!("the relay's copy does not read: {why}"));
            }
            let kind = match documents::kind_of(&doc, id) {
                Ok(kind) => kind,
                Err(e) => return attempt(e.to_string()),
            };
            if local_kind.is_some_and(|k| k != kind) {
                return attempt(format!("the relay's copy is a {kind}, the local one is not"));
            }
            if local_kind.is_some()
                || tx
                    .query_row("SELECT 1 FROM documents WHERE doc_id = ?1", [id], |_| Ok(()))
                    .optional()?
                    .is_some()
            {
                documents::replace_snapshot(tx, id, &doc, now)?;
            } else {
                documents::insert(tx, id, kind, &doc, now)?;
            }
            let stored = StoredDoc { kind, doc, pending_changes: 0, sealed };
            project_remote(tx, id, &stored, &mut AppliedSync::default())?;
            tx.prepare_cached("DELETE FROM documents_to_repair WHERE doc_id = ?1")?.execute([id])?;
            Ok(None)
        })
    }

    /// Marks documents to fetch from the relay on the next repair pass (a new entry each, or
    /// the existing one kept), with why: a customer gained brings its follow-ups and cards.
    pub fn mark_for_repair(&self, ids: &[DocId], reason: &str) -> Result<()> {
        let now = self.clock.now_ms();
        self.db.write(|tx| ids.iter().try_for_each(|id| mark_to_fetch(tx, *id, reason, now)))
    }

    /// Records a repair that could not be done this time (the relay does not have the document,
    /// or refused it): one attempt more, with the reason.
    pub fn repair_failed(&self, id: DocId, reason: &str) -> Result<()> {
        self.db.write(|tx| count_repair_attempt(tx, id, reason))
    }

    /// What the relay sent that could not be applied, newest first.
    pub fn quarantined_entries(&self, limit: u32) -> Result<Vec<QuarantinedEntry>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, length(bytes), reason, received_at FROM quarantined_entries
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([limit], |r| {
                Ok(QuarantinedEntry {
                    doc_id: r.get(0)?,
                    bytes: r.get::<_, i64>(1)?.max(0) as u64,
                    reason: r.get(2)?,
                    received_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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

/// A document the relay sent as one snapshot, loaded and read as its record before the write
/// transaction (its checksum verified, complete, readable): what [`merge_remote`] needs of it
/// if the phone has no copy yet.
struct ReadyDocument {
    kind: RecordKind,
    record: Projected,
}

/// Groups smaller than this are read on the calling thread alone.
const PARALLEL_READ_FROM: usize = 64;

/// Loads each group that is a single snapshot and reads its record, spread over the device's
/// cores: for a fresh phone that is nearly all of a page, and the Automerge work is most of the
/// apply (issue 17). A group that fails any step gets `None` and goes the careful way in
/// [`merge_remote`], which also decides again whether the phone has a copy already.
fn read_new_documents(groups: &[(DocId, Vec<&[u8]>)]) -> Vec<Option<ReadyDocument>> {
    let read_one = |(id, items): &(DocId, Vec<&[u8]>)| -> Option<ReadyDocument> {
        let [bytes] = items.as_slice() else { return None };
        if intake::chunk_kind(bytes) != Ok(ChunkKind::Document) {
            return None;
        }
        let mut doc = Automerge::new();
        apply_remote(&mut doc, bytes).ok()?;
        check_complete(&doc).ok()?;
        let kind = documents::kind_of(&doc, *id).ok()?;
        // Reading a record is automerge work too, and hostile bytes may reach a panic in it.
        let record = intake::guarded(|| Projected::read(*id, kind, &doc)).ok()?.ok()?;
        Some(ReadyDocument { kind, record })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if groups.len() < PARALLEL_READ_FROM || threads < 2 {
        return groups.iter().map(read_one).collect();
    }
    let chunk = groups.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = groups
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read_one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            // A worker that panicked (it cannot: each read is guarded) leaves its part to the
            // careful path.
            .zip(groups.chunks(chunk))
            .flat_map(|(worker, part)| worker.join().unwrap_or_else(|_| part.iter().map(|_| None).collect()))
            .collect()
    })
}

/// Merges one document's snapshots and changes from the relay into the local copy (creating it
/// if new). Whatever of it cannot be applied is quarantined and the document marked for repair
/// (STYLE §16): only a storage failure fails the exchange, so one bad log entry can never keep
/// the cursor from moving or the rest of the page from being applied.
fn merge_remote(
    conn: &Connection,
    id: DocId,
    items: &[&[u8]],
    ready: Option<ReadyDocument>,
    now: UnixMillis,
    applied: &mut AppliedSync,
) -> Result<()> {
    // (kind, sealed, heads) of the local copy, if there is one.
    let (mut doc, local) = match documents::load(conn, id) {
        Ok(Some(stored)) => {
            let heads = stored.doc.get_heads();
            (stored.doc, Some((stored.kind, stored.sealed, heads)))
        }
        Ok(None) => match (ready, items) {
            // New here, loaded and read already: stored as the relay saved it (saving it again
            // would re-encode the same state), with its rows.
            (Some(ready), [saved]) => {
                documents::insert_saved(conn, id, ready.kind, saved, now)?;
                ready.record.write(conn)?;
                if ready.kind == RecordKind::Alert {
                    applied.new_alerts.push(id);
                }
                applied.documents_changed += 1;
                return Ok(());
            }
            _ => (Automerge::new(), None),
        },
        Err(StoreError::CorruptDocument { reason, .. }) => {
            let reason = format!("the local copy does not load ({reason})");
            return quarantine(conn, id, items, &reason, now, applied);
        }
        Err(e) => return Err(e),
    };
    let mut good: Vec<&[u8]> = Vec::with_capacity(items.len());
    let mut bad: Vec<(&[u8], String)> = Vec::new();
    for bytes in items {
        match apply_remote(&mut doc, bytes) {
            Ok(()) => good.push(bytes),
            Err(reason) => {
                bad.push((bytes, reason));
                // A failed apply may leave the document half-changed: start again from the
                // stored copy and what did apply.
                doc = match documents::load(conn, id)? {
                    Some(stored) => stored.doc,
                    None => Automerge::new(),
                };
                for bytes in &good {
                    if let Err(reason) = apply_remote(&mut doc, bytes) {
                        return quarantine(conn, id, items, &reason, now, applied);
                    }
                }
            }
        }
    }
    for (bytes, reason) in &bad {
        quarantine(conn, id, &[bytes], reason, now, applied)?;
    }
    if let Err(reason) = check_complete(&doc) {
        return quarantine(conn, id, &good, &reason, now, applied);
    }
    if local.as_ref().is_some_and(|(_, _, heads)| *heads == doc.get_heads()) {
        return Ok(()); // already had all of it (our own change echoed, or a replayed page)
    }
    let kind = match documents::kind_of(&doc, id) {
        Ok(kind) => kind,
        Err(e) => return quarantine(conn, id, &good, &e.to_string(), now, applied),
    };
    if let Some((local_kind, _, _)) = local
        && local_kind != kind
    {
        let reason = format!("it would change the document's kind from {local_kind} to {kind}");
        return quarantine(conn, id, &good, &reason, now, applied);
    }
    // A remote change must never leave a record this device cannot read (another Automerge
    // writer's map where a string belongs, an enum spelling nobody knows): what did that is
    // kept aside, and the record stays as it was. A local copy that was already unreadable
    // (from before this check) is merged as before, so the relay's fix can still arrive.
    // Reading the record for its projection rows is the check: one read per merged document.
    let projected = project_if_readable(conn, id, kind, &doc)?;
    if !projected {
        let stored_reads = match documents::load(conn, id)? {
            Some(stored) => check_readable(&stored.doc).is_ok(),
            None => true,
        };
        if stored_reads {
            doc = apply_while_readable(conn, id, &good, now, applied)?;
            let unchanged = match &local {
                Some((_, _, heads)) => *heads == doc.get_heads(),
                None => check_readable(&doc).is_err(),
            };
            if unchanged {
                return Ok(());
            }
        }
    }
    let had_local = local.is_some();
    let stored = match local {
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
    if !projected {
        project_remote(conn, id, &stored, applied)?;
    }
    if stored.kind == RecordKind::Alert && !had_local {
        applied.new_alerts.push(id);
    }
    applied.documents_changed += 1;
    Ok(())
}

/// Writes the projection rows of a merged document, which reads it as its kind; `Ok(false)`, with
/// nothing written, when it does not read. Slips and rules have no rows and are only read.
fn project_if_readable(conn: &Connection, id: DocId, kind: RecordKind, doc: &Automerge) -> Result<bool> {
    match kind {
        RecordKind::ServiceSlip | RecordKind::TeamRules => Ok(check_readable(doc).is_ok()),
        _ => match projection::project(conn, id, kind, doc) {
            Ok(()) => Ok(true),
            Err(StoreError::CorruptDocument { .. }) => Ok(false),
            Err(e) => Err(e),
        },
    }
}

/// Applies `items` one at a time to the stored copy of the document (or an empty one), and
/// quarantines each that would turn a readable document unreadable; the document is returned
/// with the rest. An item applied to a document that does not read yet (a new record arriving in
/// several changes) is kept: only the end state is judged there, by the caller.
fn apply_while_readable(
    conn: &Connection,
    id: DocId,
    items: &[&[u8]],
    now: UnixMillis,
    applied: &mut AppliedSync,
) -> Result<Automerge> {
    let mut doc = documents::load(conn, id)?.map(|stored| stored.doc).unwrap_or_default();
    let mut reads = check_readable(&doc).is_ok();
    let mut kept = Vec::with_capacity(items.len());
    for bytes in items {
        let mut next = doc.clone();
        let outcome = apply_remote(&mut next, bytes).and_then(|()| check_complete(&next)).and_then(|()| {
            match check_readable(&next) {
                Ok(_) => Ok(true),
                Err(why) if reads => Err(format!("it would leave the record unreadable: {why}")),
                Err(_) => Ok(false),
            }
        });
        match outcome {
            Ok(now_reads) => {
                doc = next;
                reads = now_reads;
                kept.push(*bytes);
            }
            Err(reason) => quarantine(conn, id, &[bytes], &reason, now, applied)?,
        }
    }
    if !reads {
        // A new record whose changes never made it readable: none of it is kept.
        let reason = match check_readable(&doc) {
            Err(why) => format!("the record does not read: {why}"),
            Ok(_) => "the record does not read".to_owned(),
        };
        quarantine(conn, id, &kept, &reason, now, applied)?;
    }
    Ok(doc)
}

/// Applies one snapshot or change from the relay, with the relay's own intake checks: the
/// checksum (which `load_incremental` into a non-empty document would silently skip), decoding,
/// and a guard against panics inside automerge.
fn apply_remote(doc: &mut Automerge, bytes: &[u8]) -> std::result::Result<(), String> {
    match intake::chunk_kind(bytes)? {
        ChunkKind::Document => {
            intake::verify_document_checksum(bytes).map_err(|e| e.to_string())?;
            intake::load_incremental(doc, bytes).map_err(|e| e.to_string())
        }
        ChunkKind::Change | ChunkKind::CompressedChange => {
            let change = intake::verify_change(bytes).map_err(|e| e.to_string())?;
            intake::apply_change(doc, change).map_err(|e| e.to_string())
        }
    }
}

/// Marks document `id` to fetch from the relay on the next repair pass, unless it is marked
/// already (a quarantine's reason and attempts stay).
pub(super) fn mark_to_fetch(conn: &Connection, id: DocId, reason: &str, since: UnixMillis) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO documents_to_repair (doc_id, reason, since) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![id, reason, since])?;
    Ok(())
}

fn count_repair_attempt(conn: &Connection, id: DocId, reason: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE documents_to_repair SET attempts = attempts + 1, reason = ?2 WHERE doc_id = ?1",
    )?
    .execute(params![id, reason])?;
    Ok(())
}

/// Keeps `items` of document `id` out of the store's documents, with the reason, and marks the
/// document for repair from the relay's snapshot.
fn quarantine(
    conn: &Connection,
    id: DocId,
    items: &[&[u8]],
    reason: &str,
    now: UnixMillis,
    applied: &mut AppliedSync,
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO quarantined_entries (doc_id, bytes, reason, received_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for bytes in items {
        insert.execute(params![id, bytes, reason, now])?;
    }
    conn.prepare_cached(
        "INSERT INTO documents_to_repair (doc_id, reason, since) VALUES (?1, ?2, ?3)
         ON CONFLICT (doc_id) DO UPDATE SET reason = ?2",
    )?
    .execute(params![id, reason, now])?;
    applied.quarantined += items.len() as u32;
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
