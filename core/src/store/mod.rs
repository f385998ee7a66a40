//! The offline store: every record as an Automerge document in SQLite (DESIGN §4 Store).
//!
//! - One writer connection (all writes queue on it) and a pool of readers, in WAL mode with
//!   `synchronous = FULL`: a call that returned `Ok` survives a crash or power loss.
//! - Each document is a snapshot plus the changes appended since, compacted every
//!   32 changes.
//! - Every local change also goes to the outbox until a relay acknowledges it.
//! - Projection tables are updated in the same transaction as the document they describe.

mod activities;
mod blobs;
mod capture;
mod db;
mod device_clock;
mod documents;
mod duplicates;
mod error;
mod exchange;
mod funnel;
mod heat;
mod kpi;
mod ownership;
mod projection;
mod query;
mod reminders;
mod schema;
mod secrets;

use std::path::Path;
use std::sync::Arc;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ChangeHash, ROOT, ReadDoc};
use rusqlite::{Connection, OptionalExtension, params};

pub use activities::{
    ActivityResult, ActivitySummary, CALL_SUMMARY_GRACE_MS, FollowUpTodo, MAX_TIMELINE_PAGE, TimelineCursor,
    TimelineEntry, TimelineKind, TimelinePage,
};
pub use capture::{CaptureContext, CheckIn, PhotoCapture, SlipSignature};
pub use duplicates::{CreateMode, CreateOutcome, DuplicateCandidate, ImportedCustomer};
pub use error::{Result, StoreError};
pub use exchange::{
    AppliedSync, DocumentToRepair, PendingBlob, PreparedSync, PushLimits, QuarantinedEntry, RejectedChange,
    SyncStatus,
};
pub use funnel::{AlertSubscription, FunnelReport, StageConversion, StageCount, StalledDeal};
pub use heat::MAX_HEAT_LIST;
pub use kpi::MyFigures;
pub use ownership::{ClaimStatus, MAX_POOL_PAGE, OwnershipView, PoolWarning};
pub use query::{CustomerSummary, OpportunitySummary, VisitSummary};
pub use reminders::{Reminder, ReminderKind};
pub use schema::SCHEMA_VERSION as STORE_SCHEMA_VERSION;
pub use secrets::{DEVICE_KEY_ENTRY, DeviceSecrets, RELAY_TOKEN_ENTRY};

use crate::clock::{Clock, SystemClock, UnixMillis};
use crate::device::DeviceIdentity;
use crate::ids::{DeviceId, DocId};
use crate::model::{Draft, Opportunity, Provenance, Record, RecordKind, SCHEMA_VERSION, Stage, StageChange};
use db::Database;
use documents::StoredDoc;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The wall clock used for timestamps.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { clock: Arc::new(SystemClock) }
    }
}

/// One local change waiting for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox; lower is older.
    pub seq: i64,
    /// The Automerge change hash (hex), the change's identity on the wire.
    pub change_hash: String,
    /// The document changed.
    pub doc_id: DocId,
    /// Its kind.
    pub kind: RecordKind,
    /// Size of the raw change in bytes.
    pub size_bytes: u64,
    /// When the change was made.
    pub created_at: UnixMillis,
}

/// The offline store of one device. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Store {
    db: Database,
    identity: DeviceIdentity,
    clock: Arc<dyn Clock>,
    alert_listeners: Arc<std::sync::Mutex<funnel::AlertListeners>>,
    /// The platform keystore holding the device key and relay token, when one was supplied.
    secrets: Option<Arc<dyn DeviceSecrets>>,
}

impl Store {
    /// Opens the store at `path`, creating it (and this device's identity) if the file does not
    /// exist, and upgrading an older schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Self::open_at_version(path.as_ref(), options, schema::SCHEMA_VERSION)
    }

    /// [`Store::open_with`], keeping the device key and the relay token in the platform's
    /// keystore instead of the file (a key already in the file moves there).
    pub fn open_with_secrets(
        path: impl AsRef<Path>,
        options: StoreOptions,
        secrets: Arc<dyn DeviceSecrets>,
    ) -> Result<Store> {
        let db = Database::open(path.as_ref(), schema::SCHEMA_VERSION)?;
        let clock = options.clock;
        let identity = db.write(|tx| {
            secrets::load_or_create_identity_in_keystore(tx, db.path(), clock.now_ms(), secrets.as_ref())
        })?;
        Ok(Store { db, identity, clock, alert_listeners: Default::default(), secrets: Some(secrets) })
    }

    fn open_at_version(path: &Path, options: StoreOptions, version: u32) -> Result<Store> {
        let db = Database::open(path, version)?;
        let clock = options.clock;
        let identity = db.write(|tx| load_or_create_identity(tx, db.path(), clock.now_ms()))?;
        Ok(Store { db, identity, clock, alert_listeners: Default::default(), secrets: None })
    }

    /// Closes the store: waits for a write in progress, closes every connection and releases the
    /// file lock. Every later call fails with [`StoreError::Closed`].
    pub fn close(&self) -> Result<()> {
        self.db.close()
    }

    /// Whether [`Store::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.db.is_closed()
    }

    /// The time on the store's clock (the system clock, or the one the app or a test supplied).
    pub fn now_ms(&self) -> UnixMillis {
        self.clock.now_ms()
    }

    /// This device's identity (id and signing key).
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// This device's id, the Automerge actor of its changes.
    pub fn device_id(&self) -> DeviceId {
        self.identity.device_id()
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<u32> {
        self.db.read(schema::version)
    }

    /// Creates a record from a draft, offline. Returns it with its new id.
    pub fn create<D: Draft>(&self, draft: D) -> Result<D::Record> {
        let mut created = self.create_batch(vec![draft])?;
        created.pop().ok_or_else(|| StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Creates several records in one transaction: all or none are stored.
    pub fn create_batch<D: Draft>(&self, drafts: Vec<D>) -> Result<Vec<D::Record>> {
        let now = self.clock.now_ms();
        let provenance = Provenance { created_at: now, created_by: self.device_id() };
        let records: Vec<D::Record> =
            drafts.into_iter().map(|draft| draft.into_record(DocId::generate(), provenance)).collect();
        for record in &records {
            record.validate()?;
        }
        self.db.write(|tx| {
            for record in &records {
                self.insert_record(tx, record, now)?;
            }
            Ok(())
        })?;
        Ok(records)
    }

    fn insert_record<R: Record>(&self, tx: &Connection, record: &R, now: UnixMillis) -> Result<()> {
        let id = record.id();
        let mut doc = Automerge::new().with_actor(self.device_id().actor_id());
        let mut am_tx = doc.transaction();
        let put = (|| {
            am_tx.put(ROOT, "kind", R::KIND.as_str())?;
            am_tx.put(ROOT, "schema", SCHEMA_VERSION)?;
            Ok::<_, automerge::AutomergeError>(())
        })();
        put.map_err(|e| StoreError::Document { id, reason: e.to_string() })?;
        autosurgeon::reconcile(&mut am_tx, record)
            .map_err(|e| StoreError::Document { id, reason: e.to_string() })?;
        let (hash, _) = am_tx.commit_with(CommitOptions::default().with_time(now));
        let change = hash
            .and_then(|h| doc.get_change_by_hash(&h))
            .ok_or_else(|| StoreError::Document { id, reason: "creating it produced no change".into() })?;
        documents::insert(tx, id, R::KIND, &doc, now)?;
        if record.is_sealed() {
            documents::seal(tx, id)?;
        }
        documents::enqueue_outbox(tx, id, R::KIND, &change, now)?;
        projection::project(tx, id, R::KIND, &doc)?;
        device_clock::note_save(tx, now, self.clock.uptime())?;
        Ok(())
    }

    /// Writes `record` over the stored record with the same id. Only fields that differ become
    /// part of the change, so concurrent edits to other fields on other phones survive a merge.
    /// Returns the record as stored.
    pub fn update<R: Record>(&self, record: &R) -> Result<R> {
        record.validate()?;
        let now = self.clock.now_ms();
        self.db.write(|tx| self.update_in(tx, record, now))
    }

    /// [`Store::update`] inside the write transaction `tx`, for a record already validated.
    fn update_in<R: Record>(&self, tx: &Connection, record: &R, now: UnixMillis) -> Result<R> {
        let id = record.id();
        if matches!(
            R::KIND,
            RecordKind::Ownership | RecordKind::Alert | RecordKind::Scoreboard | RecordKind::TeamTable
        ) {
            return Err(StoreError::RelayOnly { kind: R::KIND, field: "*" });
        }
        let mut stored = self.load_for_write::<R>(tx, id)?;
        let current: R = projection::hydrate(&stored.doc, id)?;
        if record.provenance() != current.provenance() {
            return Err(StoreError::Invalid(crate::model::ValidationError::new(
                R::KIND,
                "provenance",
                "is set when the record is created and cannot change",
            )));
        }
        ownership::check_local_edit(tx, &stored.doc, record)?;
        self.commit_change(tx, id, &mut stored, now, |am_tx| {
            crate::model::write_record(am_tx, record).map_err(|e| e.to_string())
        })?;
        let updated: R = projection::hydrate(&stored.doc, id)?;
        if updated.is_sealed() {
            documents::seal(tx, id)?;
        }
        Ok(updated)
    }

    /// Loads a document for a local change, refusing a missing, mistyped or sealed one.
    fn load_for_write<R: Record>(&self, tx: &Connection, id: DocId) -> Result<StoredDoc> {
        let mut stored = documents::load(tx, id)?.ok_or(StoreError::NotFound { kind: R::KIND, id })?;
        if stored.kind != R::KIND {
            return Err(StoreError::WrongKind { id, expected: R::KIND, actual: stored.kind });
        }
        if stored.sealed {
            return Err(StoreError::Sealed { kind: R::KIND, id });
        }
        stored.doc.set_actor(self.device_id().actor_id());
        Ok(stored)
    }

    /// Makes one local change to a loaded document and records it everywhere it must go.
    /// A change with no operations (the record already had these values) is dropped.
    fn commit_change(
        &self,
        tx: &Connection,
        id: DocId,
        stored: &mut StoredDoc,
        now: UnixMillis,
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let mut am_tx = stored.doc.transaction();
        edit(&mut am_tx).map_err(|reason| StoreError::Document { id, reason })?;
        let (hash, _) = am_tx.commit_with(CommitOptions::default().with_time(now));
        let Some(hash) = hash else {
            return Ok(());
        };
        let change = stored
            .doc
            .get_change_by_hash(&hash)
            .ok_or_else(|| StoreError::Document { id, reason: "the new change is missing".into() })?;
        documents::append_change(tx, id, stored, &change, now)?;
        documents::enqueue_outbox(tx, id, stored.kind, &change, now)?;
        projection::project(tx, id, stored.kind, &stored.doc)?;
        device_clock::note_save(tx, now, self.clock.uptime())?;
        Ok(())
    }

    /// Reads a record; [`StoreError::NotFound`] when there is none with this id.
    pub fn get<R: Record>(&self, id: DocId) -> Result<R> {
        self.find(id)?.ok_or(StoreError::NotFound { kind: R::KIND, id })
    }

    /// Reads a record, or `None` when there is none with this id.
    pub fn find<R: Record>(&self, id: DocId) -> Result<Option<R>> {
        self.db.read(|conn| find_in(conn, id))
    }

    /// Moves a deal to another stage (forward or backward) and records the move in its history.
    /// A forward move into a stage the team requires documents for is refused with
    /// [`StoreError::MissingEvidence`] until they are attached ([`Store::attach_deal_evidence`]).
    pub fn move_stage(&self, id: DocId, to: Stage, note: Option<String>) -> Result<Opportunity> {
        let now = self.clock.now_ms();
        let by = self.device_id();
        self.db.write(|tx| {
            let mut stored = self.load_for_write::<Opportunity>(tx, id)?;
            let mut opportunity: Opportunity = projection::hydrate(&stored.doc, id)?;
            if opportunity.stage == to {
                return Ok(opportunity);
            }
            let rules = funnel::effective_rules(tx)?;
            let missing = crate::funnel::missing_evidence(&opportunity, to, &rules);
            if !missing.is_empty() {
                return Err(StoreError::MissingEvidence { stage: to, missing });
            }
            opportunity.stage_history.push(StageChange {
                from: Some(opportunity.stage),
                to,
                at: now,
                by,
                note,
            });
            opportunity.stage = to;
            opportunity.stage_entered_at = now;
            opportunity.validate()?;
            self.commit_change(tx, id, &mut stored, now, |am_tx| {
                crate::model::write_record(am_tx, &opportunity).map_err(|e| e.to_string())
            })?;
            projection::hydrate(&stored.doc, id)
        })
    }

    /// Records a deal's gross margin (毛利), the figure the `gross_margin` KPI sums once it is
    /// won; `None` clears it.
    pub fn set_deal_margin(&self, id: DocId, margin: Option<crate::model::Money>) -> Result<Opportunity> {
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            let mut stored = self.load_for_write::<Opportunity>(tx, id)?;
            let mut opportunity: Opportunity = projection::hydrate(&stored.doc, id)?;
            if opportunity.margin == margin {
                return Ok(opportunity);
            }
            opportunity.margin = margin;
            opportunity.validate()?;
            self.commit_change(tx, id, &mut stored, now, |am_tx| {
                crate::model::write_record(am_tx, &opportunity).map_err(|e| e.to_string())
            })?;
            projection::hydrate(&stored.doc, id)
        })
    }

    /// The customer a record now stands for: itself, or the customer identity resolution
    /// merged it into (followed through at most 8 redirects). Visits, deals and lead cards keep
    /// the id they were made with and reach the surviving record through this.
    pub fn resolve_customer(&self, id: DocId) -> Result<crate::model::Customer> {
        let mut customer: crate::model::Customer = self.get(id)?;
        for _ in 0..8 {
            match customer.merged_into {
                Some(next) if next != customer.id => customer = self.get(next)?,
                _ => break,
            }
        }
        Ok(customer)
    }

    /// Customers whose name starts with `prefix` (customers merged into another are left out:
    /// they are found as the customer they were merged into). Each carries its heat now.
    pub fn customers_by_name_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<CustomerSummary>> {
        let now = self.clock.now_ms();
        self.db.read(|conn| {
            let mut found = query::customers_by_name_prefix(conn, prefix, limit)?;
            heat::add_heat(conn, &mut found, now)?;
            Ok(found)
        })
    }

    /// Customers with a phone number starting with `prefix` (country code and separators
    /// ignored), each with its heat now.
    pub fn customers_by_phone_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<CustomerSummary>> {
        let now = self.clock.now_ms();
        self.db.read(|conn| {
            let mut found = query::customers_by_phone_prefix(conn, prefix, limit)?;
            heat::add_heat(conn, &mut found, now)?;
            Ok(found)
        })
    }

    /// Customers within `radius_m` of a point (any datum), nearest first, each with its heat now.
    pub fn customers_near(
        &self,
        point: &crate::model::Location,
        radius_m: f64,
        limit: u32,
    ) -> Result<Vec<CustomerSummary>> {
        let (lat, lon) = point.to_wgs84().ok_or_else(|| {
            StoreError::Invalid(crate::model::ValidationError::new(
                RecordKind::Customer,
                "location",
                point.check().err().unwrap_or_else(|| "is not a position on the globe".into()),
            ))
        })?;
        let now = self.clock.now_ms();
        self.db.read(|conn| {
            let mut found = query::customers_near(conn, lat, lon, radius_m, limit)?;
            heat::add_heat(conn, &mut found, now)?;
            Ok(found)
        })
    }

    /// Visits that started (or are planned) between `from` and `to`.
    pub fn visits_between(&self, from: UnixMillis, to: UnixMillis) -> Result<Vec<VisitSummary>> {
        self.db.read(|conn| query::visits_between(conn, from, to))
    }

    /// Today's visits, for a phone whose local time is UTC + `utc_offset_minutes`.
    pub fn todays_visits(&self, utc_offset_minutes: i32) -> Result<Vec<VisitSummary>> {
        const DAY_MS: i64 = 86_400_000;
        let offset_ms = i64::from(utc_offset_minutes) * 60_000;
        let local_now = self.clock.now_ms() + offset_ms;
        let local_midnight = local_now - local_now.rem_euclid(DAY_MS);
        let start = local_midnight - offset_ms;
        self.visits_between(start, start + DAY_MS)
    }

    /// Deals in a stage, longest-waiting first.
    pub fn opportunities_in_stage(&self, stage: Stage, limit: u32) -> Result<Vec<OpportunitySummary>> {
        self.db.read(|conn| query::opportunities_in_stage(conn, stage, limit))
    }

    /// Open deals whose next action is due before `before`, most overdue first.
    pub fn opportunities_due_before(
        &self,
        before: UnixMillis,
        limit: u32,
    ) -> Result<Vec<OpportunitySummary>> {
        self.db.read(|conn| query::opportunities_due_before(conn, before, limit))
    }

    /// Local changes not yet acknowledged by a relay, oldest first.
    pub fn outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>> {
        self.db.read(|conn| {
            conn.prepare_cached(
                "SELECT seq, change_hash, doc_id, kind, length(bytes), created_at FROM outbox ORDER BY seq LIMIT ?1",
            )?
            .query_map([limit], |r| {
                let kind: String = r.get(3)?;
                Ok(OutboxEntry {
                    seq: r.get(0)?,
                    change_hash: hex::encode(r.get::<_, Vec<u8>>(1)?),
                    doc_id: r.get(2)?,
                    kind: kind.parse().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                    size_bytes: r.get::<_, i64>(4)?.unsigned_abs(),
                    created_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()
            .map_err(StoreError::from)
        })
    }

    /// How many changes wait in the outbox.
    pub fn outbox_len(&self) -> Result<u64> {
        self.db.read(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?.unsigned_abs())
        })
    }

    /// The raw bytes of outbox changes, oldest first, for the sync client to push.
    pub fn outbox_changes(&self, limit: u32) -> Result<Vec<(ChangeHash, DocId, Vec<u8>)>> {
        self.db.read(|conn| {
            let rows = conn
                .prepare_cached("SELECT change_hash, doc_id, bytes FROM outbox ORDER BY seq LIMIT ?1")?
                .query_map([limit], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, DocId>(1)?, r.get::<_, Vec<u8>>(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(hash, id, bytes)| {
                    let hash = documents::hash_from_bytes(&hash).ok_or_else(|| {
                        StoreError::CorruptDocument { id, reason: "outbox hash is not 32 bytes".into() }
                    })?;
                    Ok((hash, id, bytes))
                })
                .collect()
        })
    }

    /// Removes acknowledged changes from the outbox. Returns how many were removed; unknown
    /// hashes are ignored, so a replayed acknowledgement is harmless.
    pub fn acknowledge(&self, hashes: &[ChangeHash]) -> Result<usize> {
        self.db.write(|tx| {
            let mut removed = 0;
            let mut statement = tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?;
            for hash in hashes {
                removed += statement.execute([&hash.0[..]])?;
            }
            Ok(removed)
        })
    }

    /// Write transactions this handle has committed since it opened the store (each one
    /// fsync of the write-ahead log): what the sync benchmarks report.
    pub fn write_transactions(&self) -> u64 {
        self.db.commits()
    }

    /// Customers in the store.
    pub fn customer_count(&self) -> Result<u64> {
        self.document_count_of(RecordKind::Customer)
    }

    /// How many documents of `kind` the store holds.
    pub fn document_count_of(&self, kind: RecordKind) -> Result<u64> {
        self.db.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT count(*) FROM documents WHERE kind = ?1")?
                .query_row([kind.as_str()], |r| r.get::<_, i64>(0))?
                .unsigned_abs())
        })
    }

    /// How many documents the store holds.
    pub fn document_count(&self) -> Result<u64> {
        self.db.read(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))?.unsigned_abs())
        })
    }

    /// Rebuilds every projection table from the documents. Returns the documents read.
    pub fn rebuild_projections(&self) -> Result<u64> {
        self.db.write(|tx| projection::rebuild(tx))
    }
}

fn load_or_create_identity(tx: &Connection, path: &Path, now: UnixMillis) -> Result<DeviceIdentity> {
    let row: Option<(Vec<u8>, Vec<u8>)> = tx
        .query_row("SELECT secret_key, device_id FROM device_identity WHERE singleton = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((secret, device_id)) = row {
        let damaged =
            |reason: &str| StoreError::CorruptIdentity { path: path.to_owned(), reason: reason.to_owned() };
        secrets::refuse_key_in_keystore(path, &secret)?;
        let secret: [u8; 32] = secret.try_into().map_err(|_| damaged("the key is not 32 bytes"))?;
        let identity = DeviceIdentity::from_secret(secret);
        if identity.device_id().as_bytes()[..] != device_id[..] {
            return Err(damaged("the stored device id does not belong to the stored key"));
        }
        return Ok(identity);
    }
    let identity = DeviceIdentity::generate()
        .map_err(|e| StoreError::CorruptIdentity { path: path.to_owned(), reason: e.to_string() })?;
    tx.execute(
        "INSERT INTO device_identity (singleton, secret_key, device_id, created_at) VALUES (1, ?1, ?2, ?3)",
        params![&identity.secret()[..], &identity.device_id().as_bytes()[..], now],
    )?;
    Ok(identity)
}

/// Reads a record inside a transaction: `None` when there is none with this id,
/// [`StoreError::WrongKind`] when the id holds another kind.
pub(crate) fn find_in<R: Record>(conn: &Connection, id: DocId) -> Result<Option<R>> {
    let Some(stored) = documents::load(conn, id)? else {
        return Ok(None);
    };
    if stored.kind != R::KIND {
        return Err(StoreError::WrongKind { id, expected: R::KIND, actual: stored.kind });
    }
    projection::hydrate(&stored.doc, id).map(Some)
}

#[cfg(test)]
mod tests;
