//! The embedded default backend: one SQLite file in the data directory, WAL mode, one writer
//! connection and a pool of readers.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use fieldsync_core::DocId;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    BatchWrite, ChangePage, CustomerKeyRow, DedupPair, DeviceRow, DeviceScope, DocumentFlag, DocumentUpdate,
    KpiRowWrite, MergeConflict, OwnerRow, OwnerWrite, PairStatus, RelayStorage, Role, ScheduleRow,
    ScheduleWrite, SnapshotPage, StorageError, StorageResult, StoredDocument, SyncVisibility, TeamDeal,
    UserInfo,
};

mod console;
mod push;

const APPLICATION_ID: i32 = 0x4653_524C; // "FSRL"
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_relay.sql"),
    include_str!("../../migrations/0002_document_flags.sql"),
    include_str!("../../migrations/0003_identity.sql"),
    include_str!("../../migrations/0004_alerts.sql"),
    include_str!("../../migrations/0005_push.sql"),
    include_str!("../../migrations/0006_push_address_owner.sql"),
    include_str!("../../migrations/0007_ownership.sql"),
    include_str!("../../migrations/0008_document_customer.sql"),
    include_str!("../../migrations/0009_kpi_rows.sql"),
    include_str!("../../migrations/0010_console.sql"),
];

/// Customers read per phone number at most (a park switchboard can be listed by hundreds).
const MAX_ROWS_PER_PHONE: i64 = 64;
/// Grams carried by more customers than this are skipped: industry words, not names.
const MAX_POSTINGS_PER_GRAM: i64 = 2_000;
/// Postings read per lookup at most, over all grams.
const POSTINGS_BUDGET: i64 = 4_000;
/// Customers found by name that are returned for scoring, best-sharing first.
const NAME_CANDIDATES: usize = 24;
/// Read connections open at most. Every one is kept: a connection opened for one read and then
/// closed parsed the whole schema again on its first statement and prepared every statement
/// anew. Under 200 concurrent devices that was a quarter of the relay's CPU (issue 17). More
/// readers than this do not make two cores read faster; a read waits for a free one instead.
const MAX_READERS: usize = 16;
/// Prepared statements kept per connection (rusqlite's default of 16 is fewer than the relay's
/// pull and write paths use, so they evicted each other).
const STATEMENT_CACHE: usize = 128;

/// SQLite relay storage.
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    reader_freed: Condvar,
}

#[derive(Debug, Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    opened: usize,
}

/// A read connection lent out of the pool; it goes back on drop (also when the read panics).
struct Lease<'a> {
    storage: &'a SqliteStorage,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.storage.readers).idle.push(conn);
            self.storage.reader_freed.notify_one();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Writes KPI rows (a row without a rep removes the document's row) and slip → visit links.
fn write_kpi_rows(tx: &Connection, rows: &[KpiRowWrite], slips: &[(DocId, DocId)]) -> StorageResult<()> {
    for r in rows {
        match &r.rep {
            Some(rep) => tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO kpi_rows (doc_id, team_id, rep, lo, hi, is_deal, row)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![&r.doc_id.as_bytes()[..], r.team_id, rep, r.lo, r.hi, r.is_deal, r.row])?,
            None => tx
                .prepare_cached("DELETE FROM kpi_rows WHERE doc_id = ?1")?
                .execute([&r.doc_id.as_bytes()[..]])?,
        };
    }
    for (slip, visit) in slips {
        tx.prepare_cached("INSERT OR REPLACE INTO kpi_slips (slip_id, visit_id) VALUES (?1, ?2)")?
            .execute(params![&slip.as_bytes()[..], &visit.as_bytes()[..]])?;
    }
    Ok(())
}

/// `NotFound` unless `user_id` is a user.
pub(super) fn require_user(conn: &Connection, user_id: &str) -> StorageResult<()> {
    let exists: bool =
        conn.query_row("SELECT count(*) FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    if exists { Ok(()) } else { Err(StorageError::NotFound(format!("user {user_id}"))) }
}

fn doc_id_of(bytes: Vec<u8>) -> StorageResult<DocId> {
    bytes
        .try_into()
        .map(DocId::from_bytes)
        .map_err(|_| StorageError::Backend("a stored document id is not 16 bytes".into()))
}

fn read_customer_key(conn: &Connection, doc_id: &[u8]) -> StorageResult<Option<CustomerKeyRow>> {
    let row = conn
        .prepare_cached(
            "SELECT team_id, created_at, name, phones, credit_code, merged_into FROM customer_keys WHERE doc_id = ?1",
        )?
        .query_row([doc_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
            ))
        })
        .optional()?;
    let Some((team_id, created_at, name, phones, credit_code, merged_into)) = row else { return Ok(None) };
    Ok(Some(CustomerKeyRow {
        doc_id: doc_id_of(doc_id.to_vec())?,
        team_id,
        created_at,
        name,
        phones: phones.lines().map(str::to_owned).collect(),
        credit_code,
        merged_into: merged_into.map(doc_id_of).transpose()?,
        e164s: Vec::new(),
        grams: Vec::new(),
    }))
}

/// Replaces a customer's key row and its phone and gram postings, keeping the gram counts.
fn write_customer_key(tx: &Connection, row: &CustomerKeyRow) -> StorageResult<()> {
    let id = &row.doc_id.as_bytes()[..];
    let old_grams: Vec<String> = tx
        .prepare_cached("SELECT gram FROM customer_key_grams WHERE doc_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut decrement =
        tx.prepare_cached("UPDATE customer_gram_counts SET n = n - 1 WHERE team_id = ?1 AND gram = ?2")?;
    for gram in &old_grams {
        decrement.execute(params![row.team_id, gram])?;
    }
    tx.prepare_cached("DELETE FROM customer_key_grams WHERE doc_id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM customer_key_phones WHERE doc_id = ?1")?.execute([id])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO customer_keys (doc_id, team_id, created_at, name, phones, credit_code, merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        row.team_id,
        row.created_at,
        row.name,
        row.phones.join("\n"),
        row.credit_code,
        row.merged_into.map(|m| m.as_bytes().to_vec())
    ])?;
    let mut phone = tx.prepare_cached(
        "INSERT OR IGNORE INTO customer_key_phones (team_id, e164, doc_id) VALUES (?1, ?2, ?3)",
    )?;
    for e164 in &row.e164s {
        phone.execute(params![row.team_id, e164, id])?;
    }
    let mut gram = tx.prepare_cached(
        "INSERT OR IGNORE INTO customer_key_grams (team_id, gram, doc_id) VALUES (?1, ?2, ?3)",
    )?;
    let mut increment = tx.prepare_cached(
        "INSERT INTO customer_gram_counts (team_id, gram, n) VALUES (?1, ?2, 1)
         ON CONFLICT (team_id, gram) DO UPDATE SET n = n + 1",
    )?;
    for g in &row.grams {
        if gram.execute(params![row.team_id, g, id])? > 0 {
            increment.execute(params![row.team_id, g])?;
        }
    }
    Ok(())
}

impl SqliteStorage {
    /// Opens (or creates) `relay.sqlite` in `data_dir`, upgrading its schema.
    pub fn open(data_dir: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StorageError::Backend(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join("relay.sqlite");
        let mut writer = Connection::open(&path)?;
        writer.busy_timeout(Duration::from_secs(10))?;
        let (app_id, version, objects): (i32, i64, i64) = (
            writer.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| {
                StorageError::Incompatible(format!("{} is not a relay database: {e}", path.display()))
            })?,
            writer.pragma_query_value(None, "user_version", |r| r.get(0))?,
            writer.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?,
        );
        if objects > 0 && app_id != APPLICATION_ID {
            return Err(StorageError::Incompatible(format!(
                "{} belongs to another application (application id {app_id:#x})",
                path.display()
            )));
        }
        let version = version.max(0) as usize;
        if version > MIGRATIONS.len() {
            return Err(StorageError::Incompatible(format!(
                "{} has schema version {version}; this relay reads up to {}: upgrade the relay",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        writer.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        // FULL: a device deletes a change from its outbox once the relay acknowledged it, so an
        // acknowledged change must survive a power cut here.
        writer.pragma_update(None, "synchronous", "FULL")?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = writer.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(ReaderPool::default()),
            reader_freed: Condvar::new(),
        })
    }

    /// Runs `f` on a read connection of the pool: an idle one, a new one while fewer than
    /// [`MAX_READERS`] are open, else the next one given back.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StorageResult<T>) -> StorageResult<T> {
        let idle = {
            let mut pool = lock(&self.readers);
            loop {
                if let Some(conn) = pool.idle.pop() {
                    break Some(conn);
                }
                if pool.opened < MAX_READERS {
                    pool.opened += 1;
                    break None;
                }
                pool = self.reader_freed.wait(pool).unwrap_or_else(|p| p.into_inner());
            }
        };
        let conn = match idle {
            Some(conn) => conn,
            None => match self.open_reader() {
                Ok(conn) => conn,
                Err(e) => {
                    lock(&self.readers).opened -= 1;
                    self.reader_freed.notify_one();
                    return Err(e);
                }
            },
        };
        let lease = Lease { storage: self, conn: Some(conn) };
        f(lease.conn.as_ref().expect("a lease holds its connection until dropped"))
    }

    fn open_reader(&self) -> StorageResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> StorageResult<T>) -> StorageResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn scope_of(conn: &Connection, device_id: [u8; 16]) -> StorageResult<DeviceScope> {
    conn.query_row(
        "SELECT u.user_id, u.role, u.tenant_id, u.team_id FROM devices d JOIN users u ON u.user_id = d.user_id
         WHERE d.device_id = ?1",
        [&device_id[..]],
        |r| {
            let role: String = r.get(1)?;
            Ok(DeviceScope {
                device_id,
                user_id: r.get(0)?,
                role: Role::parse(&role).unwrap_or(Role::Rep),
                tenant_id: r.get(2)?,
                team_id: r.get(3)?,
            })
        },
    )
    .map_err(StorageError::from)
}

impl RelayStorage for SqliteStorage {
    fn create_tenant(&self, name: &str, now: i64) -> StorageResult<String> {
        let id = new_id();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tenants (tenant_id, name, created_at) VALUES (?1, ?2, ?3)",
                params![id, name, now],
            )?;
            Ok(id.clone())
        })
    }

    fn create_team(&self, tenant_id: &str, name: &str, now: i64) -> StorageResult<String> {
        let id = new_id();
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT count(*) FROM tenants WHERE tenant_id = ?1", [tenant_id], |r| r.get(0))?;
            if !exists {
                return Err(StorageError::NotFound(format!("tenant {tenant_id}")));
            }
            tx.execute(
                "INSERT INTO teams (team_id, tenant_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, tenant_id, name, now],
            )?;
            Ok(id.clone())
        })
    }

    fn create_user(&self, team_id: &str, name: &str, role: Role, now: i64) -> StorageResult<String> {
        let id = new_id();
        self.write(|tx| {
            let tenant: Option<String> = tx
                .query_row("SELECT tenant_id FROM teams WHERE team_id = ?1", [team_id], |r| r.get(0))
                .optional()?;
            let tenant = tenant.ok_or_else(|| StorageError::NotFound(format!("team {team_id}")))?;
            tx.execute(
                "INSERT INTO users (user_id, tenant_id, team_id, name, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, tenant, team_id, name, role.as_str(), now],
            )?;
            Ok(id.clone())
        })
    }

    fn add_enrollment_code(&self, user_id: &str, code_hash: [u8; 32], expires_at: i64) -> StorageResult<()> {
        self.write(|tx| {
            require_user(tx, user_id)?;
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![&code_hash[..], user_id, expires_at],
            )?;
            Ok(())
        })
    }

    fn enroll_device(
        &self,
        code_hash: [u8; 32],
        device_id: [u8; 16],
        public_key: [u8; 32],
        name: &str,
        token_hash: [u8; 32],
        now: i64,
    ) -> StorageResult<DeviceScope> {
        self.write(|tx| {
            let code: Option<(String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT user_id, expires_at, used_at FROM enrollment_codes WHERE code_hash = ?1",
                    [&code_hash[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (user_id, expires_at, used_at) =
                code.ok_or_else(|| StorageError::NotFound("enrollment code".into()))?;
            if used_at.is_some() {
                return Err(StorageError::Conflict("this enrollment code was already used".into()));
            }
            if expires_at < now {
                return Err(StorageError::Conflict("this enrollment code has expired; ask an admin for a new one".into()));
            }
            let existing: Option<(String, Option<i64>)> = tx
                .query_row("SELECT user_id, revoked_at FROM devices WHERE device_id = ?1", [&device_id[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match existing {
                Some((_, Some(_))) => {
                    return Err(StorageError::Conflict("this device was revoked and cannot enroll again".into()));
                }
                Some((owner, None)) if owner != user_id => {
                    return Err(StorageError::Conflict("this device is enrolled for another user".into()));
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE devices SET token_hash = ?2, name = ?3, enrolled_at = ?4 WHERE device_id = ?1",
                        params![&device_id[..], &token_hash[..], name, now],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO devices (device_id, public_key, user_id, name, token_hash, enrolled_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![&device_id[..], &public_key[..], user_id, name, &token_hash[..], now],
                    )?;
                }
            }
            tx.execute("UPDATE enrollment_codes SET used_at = ?2 WHERE code_hash = ?1", params![&code_hash[..], now])?;
            scope_of(tx, device_id)
        })
    }

    fn device_by_token(&self, token_hash: [u8; 32]) -> StorageResult<Option<DeviceScope>> {
        self.read(|conn| {
            let device: Option<Vec<u8>> = conn
                .prepare_cached("SELECT device_id FROM devices WHERE token_hash = ?1 AND revoked_at IS NULL")?
                .query_row([&token_hash[..]], |r| r.get(0))
                .optional()?;
            match device.and_then(|d| <[u8; 16]>::try_from(d).ok()) {
                Some(device_id) => scope_of(conn, device_id).map(Some),
                None => Ok(None),
            }
        })
    }

    fn revoke_device(&self, device_id: [u8; 16], now: i64) -> StorageResult<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
                params![&device_id[..], now],
            )?;
            if n == 0 {
                return Err(StorageError::NotFound(format!("active device {}", hex::encode(device_id))));
            }
            Ok(())
        })
    }

    fn touch_device(&self, device_id: [u8; 16], now: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE devices SET last_sync_at = ?2 WHERE device_id = ?1",
                params![&device_id[..], now],
            )?;
            // Alerts held for this rep's unsynced work are looked at again now that they synced.
            tx.prepare_cached(
                "UPDATE opportunity_schedule SET held = 0, next_due_at = ?2
                 WHERE held = 1 AND rep_user_id = (SELECT user_id FROM devices WHERE device_id = ?1)",
            )?
            .execute(params![&device_id[..], now])?;
            Ok(())
        })
    }

    fn load_document(&self, doc_id: DocId) -> StorageResult<Option<StoredDocument>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT tenant_id, team_id, kind, snapshot, sealed FROM documents WHERE doc_id = ?1",
                )?
                .query_row([&doc_id.as_bytes()[..]], |r| {
                    Ok(StoredDocument {
                        tenant_id: r.get(0)?,
                        team_id: r.get(1)?,
                        kind: r.get(2)?,
                        snapshot: r.get(3)?,
                        sealed: r.get(4)?,
                    })
                })
                .optional()?)
        })
    }

    fn known_changes(&self, hashes: &[[u8; 32]]) -> StorageResult<Vec<[u8; 32]>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT 1 FROM changes WHERE change_hash = ?1")?;
            let mut known = Vec::new();
            for hash in hashes {
                if statement.exists([&hash[..]])? {
                    known.push(*hash);
                }
            }
            Ok(known)
        })
    }

    fn commit_batch(&self, batch: BatchWrite<'_>, now: i64) -> StorageResult<u64> {
        let BatchWrite {
            entries,
            documents,
            flags,
            customers,
            pairs,
            conflicts,
            schedule,
            alerts,
            owners,
            document_customers,
            kpi_rows,
            kpi_slips,
        } = batch;
        self.write(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO changes (team_id, doc_id, change_hash, actor, bytes, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in entries {
                insert.execute(params![
                    e.team_id,
                    &e.doc_id.as_bytes()[..],
                    &e.hash[..],
                    &e.actor[..],
                    e.bytes,
                    now
                ])?;
            }
            let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO documents (doc_id, tenant_id, team_id, kind, snapshot, sealed, updated_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (doc_id) DO UPDATE SET snapshot = ?5, sealed = ?6, updated_seq = ?7",
            )?;
            for d in documents {
                upsert.execute(params![
                    &d.doc_id.as_bytes()[..],
                    d.tenant_id,
                    d.team_id,
                    d.kind,
                    d.snapshot,
                    d.sealed,
                    seq
                ])?;
            }
            let mut flag = tx.prepare_cached(
                "INSERT OR IGNORE INTO document_flags
                 (tenant_id, team_id, doc_id, kind, code, message, device_id, flagged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for f in flags {
                flag.execute(params![
                    f.tenant_id,
                    f.team_id,
                    &f.doc_id.as_bytes()[..],
                    f.kind,
                    f.code,
                    f.message,
                    &f.device_id[..],
                    f.flagged_at
                ])?;
            }
            for row in customers {
                write_customer_key(tx, row)?;
            }
            let mut pair = tx.prepare_cached(
                "INSERT INTO dedup_pairs (team_id, a, b, score, reasons, status, created_at, decided_at, decided_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?6 = 'pending' THEN NULL ELSE ?7 END, ?8)
                 ON CONFLICT (team_id, a, b) DO UPDATE SET
                    status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by
                 WHERE excluded.status <> 'pending'",
            )?;
            for p in pairs {
                pair.execute(params![
                    p.team_id,
                    &p.a.as_bytes()[..],
                    &p.b.as_bytes()[..],
                    p.score,
                    p.reasons,
                    p.status.as_str(),
                    p.at,
                    p.decided_by
                ])?;
            }
            let mut conflict = tx.prepare_cached(
                "INSERT OR IGNORE INTO merge_conflicts (team_id, canonical, duplicate, field, kept, other, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for c in conflicts {
                conflict.execute(params![
                    c.team_id,
                    &c.canonical.as_bytes()[..],
                    &c.duplicate.as_bytes()[..],
                    c.field,
                    c.kept,
                    c.other,
                    c.at
                ])?;
            }
            for write in schedule {
                write_schedule(tx, write)?;
            }
            let mut alert = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts (alert_id, key, team_id, opportunity_id, level, payload, raised_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut alert_key = tx.prepare_cached("INSERT OR IGNORE INTO alert_keys (key, alert_id) VALUES (?1, ?2)")?;
            for a in alerts {
                alert.execute(params![
                    &a.alert_id.as_bytes()[..],
                    a.key,
                    a.team_id,
                    &a.opportunity_id.as_bytes()[..],
                    a.level,
                    a.payload,
                    a.raised_at
                ])?;
                for key in &a.trigger_keys {
                    alert_key.execute(params![key, &a.alert_id.as_bytes()[..]])?;
                }
            }
            for write in owners {
                write_owner(tx, write)?;
            }
            write_kpi_rows(tx, kpi_rows, kpi_slips)?;
            for (doc_id, team_id, customer_id) in document_customers {
                match customer_id {
                    Some(customer_id) => tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO document_customer (doc_id, team_id, customer_id)
                             VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![&doc_id.as_bytes()[..], team_id, &customer_id.as_bytes()[..]])?,
                    None => tx
                        .prepare_cached("DELETE FROM document_customer WHERE doc_id = ?1")?
                        .execute([&doc_id.as_bytes()[..]])?,
                };
            }
            Ok(seq.max(0) as u64)
        })
    }

    fn relay_actor(&self) -> StorageResult<[u8; 16]> {
        self.write(|tx| {
            let existing: Option<Vec<u8>> = tx
                .query_row("SELECT actor FROM relay_identity WHERE singleton = 1", [], |r| r.get(0))
                .optional()?;
            if let Some(actor) = existing {
                return actor
                    .try_into()
                    .map_err(|_| StorageError::Backend("the relay's actor id is not 16 bytes".into()));
            }
            let actor = *uuid::Uuid::now_v7().as_bytes();
            tx.execute("INSERT INTO relay_identity (singleton, actor) VALUES (1, ?1)", [&actor[..]])?;
            Ok(actor)
        })
    }

    fn customer_candidates(
        &self,
        team_id: &str,
        e164s: &[String],
        grams: &[String],
    ) -> StorageResult<Vec<CustomerKeyRow>> {
        self.read(|conn| {
            let mut ids: Vec<Vec<u8>> = Vec::new();
            let mut by_phone = conn.prepare_cached(
                "SELECT doc_id FROM customer_key_phones WHERE team_id = ?1 AND e164 = ?2 LIMIT ?3",
            )?;
            for e164 in e164s {
                for id in by_phone.query_map(params![team_id, e164, MAX_ROWS_PER_PHONE], |r| r.get(0))? {
                    ids.push(id?);
                }
            }
            // The rarest grams first, skipping those most customers carry.
            let mut count =
                conn.prepare_cached("SELECT n FROM customer_gram_counts WHERE team_id = ?1 AND gram = ?2")?;
            let mut counted: Vec<(i64, &String)> = Vec::with_capacity(grams.len());
            for gram in grams {
                let n: i64 = count.query_row(params![team_id, gram], |r| r.get(0)).optional()?.unwrap_or(0);
                if n > 0 && n <= MAX_POSTINGS_PER_GRAM {
                    counted.push((n, gram));
                }
            }
            counted.sort();
            let mut shared: std::collections::HashMap<Vec<u8>, u32> = std::collections::HashMap::new();
            let mut budget = POSTINGS_BUDGET;
            let mut postings = conn.prepare_cached(
                "SELECT doc_id FROM customer_key_grams WHERE team_id = ?1 AND gram = ?2 LIMIT ?3",
            )?;
            for (n, gram) in counted {
                if budget <= 0 {
                    break;
                }
                for id in postings.query_map(params![team_id, gram, budget.min(n)], |r| r.get(0))? {
                    *shared.entry(id?).or_default() += 1;
                }
                budget -= n;
            }
            let mut ranked: Vec<(u32, Vec<u8>)> = shared.into_iter().map(|(id, n)| (n, id)).collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            ids.extend(ranked.into_iter().take(NAME_CANDIDATES).map(|(_, id)| id));
            ids.sort();
            ids.dedup();
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(row) = read_customer_key(conn, &id)? {
                    rows.push(row);
                }
            }
            Ok(rows)
        })
    }

    fn customer_key(&self, doc_id: DocId) -> StorageResult<Option<CustomerKeyRow>> {
        self.read(|conn| read_customer_key(conn, doc_id.as_bytes()))
    }

    fn pair_status(&self, team_id: &str, a: DocId, b: DocId) -> StorageResult<Option<PairStatus>> {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        self.read(|conn| {
            let status: Option<String> = conn
                .prepare_cached("SELECT status FROM dedup_pairs WHERE team_id = ?1 AND a = ?2 AND b = ?3")?
                .query_row(params![team_id, &a.as_bytes()[..], &b.as_bytes()[..]], |r| r.get(0))
                .optional()?;
            Ok(status.as_deref().and_then(PairStatus::parse))
        })
    }

    fn pairs(&self, team_id: &str, status: PairStatus, limit: u32) -> StorageResult<Vec<DedupPair>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT a, b, score, reasons, created_at, decided_at, decided_by FROM dedup_pairs
                     WHERE team_id = ?1 AND status = ?2 ORDER BY created_at, a, b LIMIT ?3",
                )?
                .query_map(params![team_id, status.as_str(), limit], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, f64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(a, b, score, reasons, created_at, decided_at, decided_by)| {
                    Ok(DedupPair {
                        team_id: team_id.to_owned(),
                        a: doc_id_of(a)?,
                        b: doc_id_of(b)?,
                        score,
                        reasons,
                        status,
                        at: decided_at.unwrap_or(created_at),
                        decided_by,
                    })
                })
                .collect()
        })
    }

    fn merge_conflicts(&self, team_id: &str, limit: u32) -> StorageResult<Vec<MergeConflict>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT canonical, duplicate, field, kept, other, created_at FROM merge_conflicts
                     WHERE team_id = ?1 ORDER BY created_at DESC LIMIT ?2",
                )?
                .query_map(params![team_id, limit], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(canonical, duplicate, field, kept, other, at)| {
                    Ok(MergeConflict {
                        team_id: team_id.to_owned(),
                        canonical: doc_id_of(canonical)?,
                        duplicate: doc_id_of(duplicate)?,
                        field,
                        kept,
                        other,
                        at,
                    })
                })
                .collect()
        })
    }

    fn team_tenant(&self, team_id: &str) -> StorageResult<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT tenant_id FROM teams WHERE team_id = ?1")?
                .query_row([team_id], |r| r.get(0))
                .optional()?)
        })
    }

    fn kpi_rows(&self, team_id: &str, lo: i64, hi: i64) -> StorageResult<Vec<(String, String)>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT rep, row FROM kpi_rows WHERE team_id = ?1 AND (is_deal = 1 OR (hi >= ?2 AND lo < ?3))",
                )?
                .query_map(params![team_id, lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn kpi_slips_for(&self, visits: &[DocId]) -> StorageResult<Vec<(DocId, DocId)>> {
        self.read(|conn| {
            let mut links = Vec::new();
            for chunk in visits.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!("SELECT slip_id, visit_id FROM kpi_slips WHERE visit_id IN ({marks})");
                let keys: Vec<&[u8]> = chunk.iter().map(|v| &v.as_bytes()[..]).collect();
                let rows: Vec<(Vec<u8>, Vec<u8>)> = conn
                    .prepare_cached(&sql)?
                    .query_map(rusqlite::params_from_iter(keys), |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (slip, visit) in rows {
                    links.push((doc_id_of(slip)?, doc_id_of(visit)?));
                }
            }
            Ok(links)
        })
    }

    fn kpi_team_rebuilt(&self, team_id: &str) -> StorageResult<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM kpi_teams WHERE team_id = ?1")?
                .query_row([team_id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn kpi_rebuild(
        &self,
        team_id: &str,
        rows: &[KpiRowWrite],
        slips: &[(DocId, DocId)],
        now: i64,
    ) -> StorageResult<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM kpi_rows WHERE team_id = ?1")?.execute([team_id])?;
            write_kpi_rows(tx, rows, slips)?;
            tx.prepare_cached("INSERT OR REPLACE INTO kpi_teams (team_id, rebuilt_at) VALUES (?1, ?2)")?
                .execute(params![team_id, now])?;
            Ok(())
        })
    }

    fn teams(&self) -> StorageResult<Vec<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT team_id FROM teams ORDER BY team_id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn due_deals(&self, now: i64, limit: u32) -> StorageResult<Vec<ScheduleRow>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, team_id, rep_user_id, customer_id, owner, title, stage, stage_entered_at,
                        doc_activity_at, next_due_at, held
                 FROM opportunity_schedule WHERE next_due_at <= ?1 ORDER BY next_due_at LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now, limit], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                    r.get::<_, bool>(10)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (doc, team_id, rep_user_id, customer, owner, title, stage, entered, activity, next, held) = row?;
                out.push(ScheduleRow {
                    doc_id: doc_id_of(doc)?,
                    team_id,
                    rep_user_id,
                    customer_id: doc_id_of(customer)?,
                    owner,
                    title,
                    stage,
                    stage_entered_at: entered,
                    doc_activity_at: activity,
                    next_due_at: next,
                    held,
                });
            }
            Ok(out)
        })
    }

    fn last_visit(&self, opportunity_id: DocId) -> StorageResult<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT last_visit_at FROM opportunity_visits WHERE opportunity_id = ?1")?
                .query_row([&opportunity_id.as_bytes()[..]], |r| r.get(0))
                .optional()?)
        })
    }

    fn raised_keys(&self, keys: &[String]) -> StorageResult<Vec<String>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT 1 FROM alert_keys WHERE key = ?1")?;
            let mut raised = Vec::new();
            for key in keys {
                if statement.exists([key])? {
                    raised.push(key.clone());
                }
            }
            Ok(raised)
        })
    }

    fn deal_rep(&self, team_id: &str, owner: &str, creator: [u8; 16]) -> StorageResult<Option<String>> {
        self.read(|conn| {
            let by_owner: Option<String> = conn
                .prepare_cached("SELECT user_id FROM users WHERE team_id = ?1 AND user_id = ?2")?
                .query_row(params![team_id, owner], |r| r.get(0))
                .optional()?;
            if by_owner.is_some() {
                return Ok(by_owner);
            }
            Ok(conn
                .prepare_cached(
                    "SELECT d.user_id FROM devices d JOIN users u ON u.user_id = d.user_id
                     WHERE d.device_id = ?1 AND u.team_id = ?2",
                )?
                .query_row(params![&creator[..], team_id], |r| r.get(0))
                .optional()?)
        })
    }

    fn user_info(&self, user_id: &str) -> StorageResult<Option<UserInfo>> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT user_id, tenant_id, team_id, name, role FROM users WHERE user_id = ?1",
                )?
                .query_row([user_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?))
                })
                .optional()?;
            Ok(row.and_then(|(user_id, tenant_id, team_id, name, role)| {
                Some(UserInfo { user_id, tenant_id, team_id, name, role: Role::parse(&role)? })
            }))
        })
    }

    fn device_user(&self, team_id: &str, device_id: [u8; 16]) -> StorageResult<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT d.user_id FROM devices d JOIN users u ON u.user_id = d.user_id
                     WHERE d.device_id = ?1 AND u.team_id = ?2",
                )?
                .query_row(params![&device_id[..], team_id], |r| r.get(0))
                .optional()?)
        })
    }

    fn owner_row(&self, customer_id: DocId) -> StorageResult<Option<OwnerRow>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {OWNER_COLUMNS} FROM customer_owner WHERE customer_id = ?1"
                ))?
                .query_row([&customer_id.as_bytes()[..]], owner_row)
                .optional()?)
        })
    }

    fn owned_count(&self, team_id: &str, user_id: &str) -> StorageResult<u32> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM customer_owner
                     WHERE owner_user_id = ?2 AND team_id = ?1 AND merged_into IS NULL",
                )?
                .query_row(params![team_id, user_id], |r| r.get(0))?;
            Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
        })
    }

    fn owned_customers(&self, team_id: &str, user_id: &str) -> StorageResult<Vec<DocId>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT customer_id FROM customer_owner
                     WHERE owner_user_id = ?2 AND team_id = ?1 AND merged_into IS NULL
                     ORDER BY customer_id",
                )?
                .query_map(params![team_id, user_id], |r| r.get::<_, Vec<u8>>(0))?
                .map(|r| {
                    r.map_err(StorageError::from).and_then(|b| {
                        <[u8; 16]>::try_from(b)
                            .map(DocId::from_bytes)
                            .map_err(|_| StorageError::Backend("a stored customer id is not 16 bytes".into()))
                    })
                })
                .collect::<StorageResult<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn due_owner_rows(&self, now: i64, limit: u32) -> StorageResult<Vec<OwnerRow>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {OWNER_COLUMNS} FROM customer_owner
                     WHERE return_due_at IS NOT NULL AND return_due_at <= ?1
                     ORDER BY return_due_at LIMIT ?2"
                ))?
                .query_map(params![now, limit], owner_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn customer_documents(
        &self,
        customer_id: DocId,
        after: Option<DocId>,
        limit: u32,
    ) -> StorageResult<Vec<DocId>> {
        self.read(|conn| {
            let after = after.map(|d| d.as_bytes().to_vec()).unwrap_or_default();
            let rows = conn
                .prepare_cached(
                    "SELECT doc_id FROM document_customer
                     WHERE doc_id > ?2
                       AND (customer_id = ?1
                            OR customer_id IN (SELECT customer_id FROM customer_owner WHERE merged_into = ?1))
                     ORDER BY doc_id LIMIT ?3",
                )?
                .query_map(params![&customer_id.as_bytes()[..], after, limit.clamp(1, 10_000)], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?
                .map(|r| {
                    r.map_err(StorageError::from).and_then(|b| {
                        <[u8; 16]>::try_from(b)
                            .map(DocId::from_bytes)
                            .map_err(|_| StorageError::Backend("a stored document id is not 16 bytes".into()))
                    })
                })
                .collect::<StorageResult<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn rep_may_pull(&self, doc_id: DocId, rep_user: &str) -> StorageResult<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {}", rep_sees("?1", "?2")))?
                .query_row(params![&doc_id.as_bytes()[..], rep_user], |r| r.get(0))?)
        })
    }

    fn open_deals_of(&self, team_id: &str, user_id: &str) -> StorageResult<Vec<DocId>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT doc_id FROM opportunity_schedule
                     WHERE team_id = ?1 AND rep_user_id = ?2 AND stage NOT IN ('Won', 'Lost')
                     ORDER BY doc_id",
                )?
                .query_map(params![team_id, user_id], |r| r.get::<_, Vec<u8>>(0))?
                .map(|r| {
                    r.map_err(StorageError::from).and_then(|b| {
                        <[u8; 16]>::try_from(b)
                            .map(DocId::from_bytes)
                            .map_err(|_| StorageError::Backend("a stored deal id is not 16 bytes".into()))
                    })
                })
                .collect::<StorageResult<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn team_deals(&self, team_id: &str) -> StorageResult<Vec<TeamDeal>> {
        self.read(|conn| {
            let id = |b: Vec<u8>| {
                <[u8; 16]>::try_from(b)
                    .map(DocId::from_bytes)
                    .map_err(|_| StorageError::Backend("a stored deal id is not 16 bytes".into()))
            };
            let mut statement = conn.prepare_cached(
                "SELECT s.doc_id, s.customer_id, s.rep_user_id, u.name, s.owner, s.title, s.stage,
                        s.stage_entered_at, coalesce(json_extract(k.row, '$.amount_fen'), 0)
                 FROM opportunity_schedule s
                 LEFT JOIN users u ON u.user_id = s.rep_user_id
                 LEFT JOIN kpi_rows k ON k.doc_id = s.doc_id
                 WHERE s.team_id = ?1",
            )?;
            let mut rows = statement.query([team_id])?;
            let mut deals = Vec::new();
            while let Some(r) = rows.next()? {
                deals.push(TeamDeal {
                    doc_id: id(r.get(0)?)?,
                    customer_id: id(r.get(1)?)?,
                    rep_user_id: r.get(2)?,
                    rep_name: r.get(3)?,
                    owner: r.get(4)?,
                    title: r.get(5)?,
                    stage: r.get(6)?,
                    stage_entered_at: r.get(7)?,
                    amount_fen: r.get(8)?,
                });
            }
            let order = |stage: &str| {
                fieldsync_core::model::Stage::ALL
                    .iter()
                    .position(|s| s.as_str() == stage)
                    .unwrap_or(usize::MAX)
            };
            deals.sort_by(|a, b| {
                order(&a.stage)
                    .cmp(&order(&b.stage))
                    .then(b.amount_fen.cmp(&a.amount_fen))
                    .then(a.doc_id.cmp(&b.doc_id))
            });
            Ok(deals)
        })
    }

    fn team_funnel(&self, team_id: &str, rep: Option<&str>) -> StorageResult<Vec<(String, u32, i64)>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT s.stage, count(*), coalesce(sum(json_extract(k.row, '$.amount_fen')), 0)
                 FROM opportunity_schedule s
                 LEFT JOIN kpi_rows k ON k.doc_id = s.doc_id
                 WHERE s.team_id = ?1 AND (?2 IS NULL OR s.rep_user_id = ?2)
                 GROUP BY s.stage",
            )?;
            let rows = statement
                .query_map(params![team_id, rep], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u32, r.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn team_visits(&self, team_id: &str, lo: i64, hi: i64) -> StorageResult<Vec<(DocId, String)>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, rep FROM kpi_rows
                 WHERE team_id = ?1 AND lo >= ?2 AND lo < ?3 AND is_deal = 0
                   AND json_extract(row, '$.row') = 'visit'
                 ORDER BY lo, doc_id",
            )?;
            let mut rows = statement.query(params![team_id, lo, hi])?;
            let mut visits = Vec::new();
            while let Some(r) = rows.next()? {
                let id: Vec<u8> = r.get(0)?;
                visits.push((doc_id_of(id)?, r.get(1)?));
            }
            Ok(visits)
        })
    }

    fn team_devices(&self, team_id: &str) -> StorageResult<Vec<DeviceRow>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT d.device_id, d.user_id, d.name, d.enrolled_at, d.revoked_at, d.last_sync_at
                 FROM devices d JOIN users u ON u.user_id = d.user_id
                 WHERE u.team_id = ?1 ORDER BY d.enrolled_at DESC, d.device_id",
            )?;
            let mut rows = statement.query([team_id])?;
            let mut devices = Vec::new();
            while let Some(r) = rows.next()? {
                let id: Vec<u8> = r.get(0)?;
                devices.push(DeviceRow {
                    device_id: id
                        .try_into()
                        .map_err(|_| StorageError::Backend("a stored device id is not 16 bytes".into()))?,
                    user_id: r.get(1)?,
                    name: r.get(2)?,
                    enrolled_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_sync_at: r.get(5)?,
                });
            }
            Ok(devices)
        })
    }

    fn team_users(&self, team_id: &str) -> StorageResult<Vec<(String, String, Role)>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT user_id, name, role FROM users WHERE team_id = ?1 ORDER BY name, user_id",
            )?;
            let mut rows = statement.query([team_id])?;
            let mut users = Vec::new();
            while let Some(r) = rows.next()? {
                let role: String = r.get(2)?;
                let role = Role::parse(&role)
                    .ok_or_else(|| StorageError::Backend(format!("a stored role {role:?} is unknown")))?;
                users.push((r.get(0)?, r.get(1)?, role));
            }
            Ok(users)
        })
    }

    fn user_last_sync(&self, user_id: &str) -> StorageResult<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT max(last_sync_at) FROM devices WHERE user_id = ?1")?
                .query_row([user_id], |r| r.get(0))?)
        })
    }

    fn team_alerts(&self, team_id: &str, briefs: bool, limit: u32) -> StorageResult<Vec<(DocId, Vec<u8>)>> {
        self.read(|conn| {
            // Weekly briefs share the alerts' table (their delivery) under keys `brief/…`.
            let mut statement = conn.prepare_cached(
                "SELECT alert_id, payload FROM alerts WHERE team_id = ?1 AND (key LIKE 'brief/%') = ?3
                 ORDER BY raised_at DESC, alert_id LIMIT ?2",
            )?;
            let rows = statement
                .query_map(params![team_id, limit, briefs], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, payload) = row?;
                out.push((doc_id_of(id)?, payload));
            }
            Ok(out)
        })
    }

    fn team_rules_document(&self, team_id: &str) -> StorageResult<Option<DocId>> {
        self.read(|conn| {
            let id: Option<Vec<u8>> = conn
                .prepare_cached(
                    "SELECT doc_id FROM documents WHERE team_id = ?1 AND kind = 'team_rules'
                     ORDER BY updated_seq DESC LIMIT 1",
                )?
                .query_row([team_id], |r| r.get(0))
                .optional()?;
            id.map(doc_id_of).transpose()
        })
    }

    fn document_flags(&self, team_id: &str, limit: u32) -> StorageResult<Vec<DocumentFlag>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT tenant_id, team_id, doc_id, kind, code, message, device_id, flagged_at
                     FROM document_flags WHERE team_id = ?1 ORDER BY flagged_at DESC, flag_id DESC LIMIT ?2",
                )?
                .query_map(params![team_id, limit], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(tenant_id, team_id, doc_id, kind, code, message, device_id, flagged_at)| {
                    let corrupt = || StorageError::Backend("a document flag row has a malformed id".into());
                    Ok(DocumentFlag {
                        tenant_id,
                        team_id,
                        doc_id: DocId::from_bytes(doc_id.try_into().map_err(|_| corrupt())?),
                        kind,
                        code,
                        message,
                        device_id: device_id.try_into().map_err(|_| corrupt())?,
                        flagged_at,
                    })
                })
                .collect()
        })
    }

    fn team_log(
        &self,
        team_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> StorageResult<Vec<(u64, DocId, Vec<u8>)>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, doc_id, bytes FROM changes WHERE team_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = statement.query_map(params![team_id, after_seq as i64, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, id, bytes) = row?;
                let id: [u8; 16] = id
                    .try_into()
                    .map_err(|_| StorageError::Backend("a log entry's document id is not 16 bytes".into()))?;
                out.push((seq.max(0) as u64, DocId::from_bytes(id), bytes));
            }
            Ok(out)
        })
    }

    fn repair_log(
        &self,
        team_id: &str,
        positions: &[u64],
        documents: &[DocumentUpdate],
    ) -> StorageResult<()> {
        self.write(|tx| {
            let mut delete = tx.prepare_cached("DELETE FROM changes WHERE team_id = ?1 AND seq = ?2")?;
            for seq in positions {
                delete.execute(params![team_id, *seq as i64])?;
            }
            let mut update = tx.prepare_cached(
                "UPDATE documents SET snapshot = ?2, sealed = ?3, kind = ?4 WHERE doc_id = ?1 AND team_id = ?5",
            )?;
            for d in documents {
                update.execute(params![&d.doc_id.as_bytes()[..], d.snapshot, d.sealed, d.kind, team_id])?;
            }
            Ok(())
        })
    }

    fn head_seq(&self, team_id: &str) -> StorageResult<u64> {
        self.read(|conn| {
            let head: i64 = conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM changes WHERE team_id = ?1")?
                .query_row([team_id], |r| r.get(0))?;
            Ok(head.max(0) as u64)
        })
    }

    fn changes_after(
        &self,
        team_id: &str,
        after_seq: u64,
        exclude_actor: [u8; 16],
        visibility: SyncVisibility,
        rep_user: Option<&str>,
        max_bytes: usize,
    ) -> StorageResult<ChangePage> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?; // one consistent view of the log
            let head: i64 = tx
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM changes WHERE team_id = ?1")?
                .query_row([team_id], |r| r.get(0))?;
            let head = head.max(0) as u64;
            let mut page = ChangePage { changes: Vec::new(), through_seq: head.max(after_seq), more: false };
            // Hidden entries are filtered out by the query, so they never count against the
            // budget; `through_seq` reaches the head (past them) whenever nothing visible is left.
            // One statement for every visibility: `?5` and `?7` are the hidden kinds, `?5` NULL for
            // none. Only the relay's own actor writes alerts and team tables (devices' writes to
            // them are refused), so the
            // document's kind is looked up only for the relay's changes (merges and alerts, a small
            // share of the log); the actor subquery runs once per statement. A change whose
            // document has no stored row (none is expected) stays visible.
            let mut statement = tx.prepare_cached(&format!(
                "SELECT c.seq, c.doc_id, c.bytes, c.actor = ?3 FROM changes c
                 WHERE c.team_id = ?1 AND c.seq > ?2 AND c.seq <= ?4
                   AND (?5 IS NULL
                        OR c.actor <> coalesce((SELECT actor FROM relay_identity WHERE singleton = 1), x'')
                        OR NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id AND d.kind IN (?5, ?7)))
                   AND (?6 IS NULL OR ({rep_sees}))
                 ORDER BY c.seq",
                rep_sees = rep_sees("c.doc_id", "?6")
            ))?;
            let mut rows = statement.query(params![
                team_id,
                after_seq as i64,
                &exclude_actor[..],
                head as i64,
                visibility.hidden_kinds()[0],
                rep_user,
                visibility.hidden_kinds()[1]
            ])?;
            let mut bytes = 0usize;
            while let Some(row) = rows.next()? {
                let seq = row.get::<_, i64>(0)?.max(0) as u64;
                let own: bool = row.get(3)?;
                if own {
                    page.through_seq = seq;
                    continue;
                }
                let change: Vec<u8> = row.get(2)?;
                if !page.changes.is_empty() && bytes + change.len() > max_bytes {
                    page.more = true;
                    break;
                }
                bytes += change.len();
                let doc: Vec<u8> = row.get(1)?;
                let doc = <[u8; 16]>::try_from(doc)
                    .map_err(|_| StorageError::Backend("a stored document id is not 16 bytes".into()))?;
                page.changes.push((DocId::from_bytes(doc), change));
                page.through_seq = seq;
            }
            if !page.more {
                page.through_seq = head.max(after_seq);
            }
            Ok(page)
        })
    }

    fn snapshots_after(
        &self,
        team_id: &str,
        after: Option<DocId>,
        visibility: SyncVisibility,
        rep_user: Option<&str>,
        max_bytes: usize,
    ) -> StorageResult<SnapshotPage> {
        self.read(|conn| {
            let after = after.map(|d| d.as_bytes().to_vec()).unwrap_or_default();
            // `kind IS NOT NULL` holds for every row: no hidden kind hides nothing.
            let mut statement = conn.prepare_cached(&format!(
                "SELECT doc_id, snapshot FROM documents d WHERE team_id = ?1 AND doc_id > ?2
                   AND kind IS NOT ?3 AND kind IS NOT ?5
                   AND (?4 IS NULL OR ({rep_sees}))
                 ORDER BY doc_id",
                rep_sees = rep_sees("d.doc_id", "?4")
            ))?;
            let [hidden, also_hidden] = visibility.hidden_kinds();
            let mut rows = statement.query(params![team_id, after, hidden, rep_user, also_hidden])?;
            let mut page = SnapshotPage::default();
            let mut bytes = 0usize;
            while let Some(row) = rows.next()? {
                let snapshot: Vec<u8> = row.get(1)?;
                if !page.documents.is_empty() && bytes + snapshot.len() > max_bytes {
                    page.more = true;
                    break;
                }
                bytes += snapshot.len();
                let doc: Vec<u8> = row.get(0)?;
                let doc = <[u8; 16]>::try_from(doc)
                    .map_err(|_| StorageError::Backend("a stored document id is not 16 bytes".into()))?;
                page.documents.push((DocId::from_bytes(doc), snapshot));
            }
            Ok(page)
        })
    }

    fn document_count(&self) -> StorageResult<u64> {
        self.read(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))?.max(0) as u64)
        })
    }
}

/// The SQL condition under which a rep (`user`, a parameter) may pull document `doc`: it is no
/// customer owned by someone else or in the pool, and no follow-up or lead card about one. A
/// record merged away counts as the customer it was merged into. Rows that do not exist (data
/// from before ownership) hide nothing.
fn rep_sees(doc: &str, user: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM customer_owner o WHERE o.customer_id = {doc} AND o.owner_user_id IS NOT {user})
         AND NOT EXISTS (SELECT 1 FROM document_customer dc JOIN customer_owner o ON o.customer_id = dc.customer_id
                         WHERE dc.doc_id = {doc} AND {owner} IS NOT {user})",
        owner = effective_owner("o")
    )
}

/// The owner of the customer of ownership row `o` for visibility: its own, or, merged away, that
/// of the record it was merged into (a merge only marks rows when both records have one).
fn effective_owner(o: &str) -> String {
    format!(
        "CASE WHEN {o}.merged_into IS NULL THEN {o}.owner_user_id
              ELSE (SELECT m.owner_user_id FROM customer_owner m WHERE m.customer_id = {o}.merged_into)
         END"
    )
}

/// Applies one ownership write inside a batch's transaction.
fn write_owner(tx: &rusqlite::Transaction<'_>, write: &OwnerWrite) -> StorageResult<()> {
    match write {
        OwnerWrite::Row(row) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO customer_owner
                 (customer_id, team_id, owner_user_id, owned_since, last_effective_at, last_won_at,
                  return_due_at, merged_into)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                &row.customer_id.as_bytes()[..],
                row.team_id,
                row.owner_user_id,
                row.owned_since,
                row.last_effective_at,
                row.last_won_at,
                row.return_due_at,
                row.merged_into.map(|m| m.as_bytes().to_vec())
            ])?;
        }
        OwnerWrite::TeamDue { team_id, at } => {
            tx.prepare_cached(
                "UPDATE customer_owner SET return_due_at = ?2
                 WHERE team_id = ?1 AND owner_user_id IS NOT NULL AND merged_into IS NULL",
            )?
            .execute(params![team_id, at])?;
        }
    }
    Ok(())
}

fn owner_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OwnerRow> {
    let id = |bytes: Vec<u8>| {
        <[u8; 16]>::try_from(bytes).map(DocId::from_bytes).map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                "not a 16-byte id".into(),
            )
        })
    };
    Ok(OwnerRow {
        customer_id: id(row.get(0)?)?,
        team_id: row.get(1)?,
        owner_user_id: row.get(2)?,
        owned_since: row.get(3)?,
        last_effective_at: row.get(4)?,
        last_won_at: row.get(5)?,
        return_due_at: row.get(6)?,
        merged_into: row.get::<_, Option<Vec<u8>>>(7)?.map(id).transpose()?,
    })
}

const OWNER_COLUMNS: &str =
    "customer_id, team_id, owner_user_id, owned_since, last_effective_at, last_won_at,
     return_due_at, merged_into";

/// Applies one scheduler write inside a batch's transaction.
fn write_schedule(tx: &rusqlite::Transaction<'_>, write: &ScheduleWrite) -> StorageResult<()> {
    match write {
        ScheduleWrite::Deal(row) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO opportunity_schedule
                 (doc_id, team_id, rep_user_id, customer_id, owner, title, stage, stage_entered_at,
                  doc_activity_at, next_due_at, held)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                &row.doc_id.as_bytes()[..],
                row.team_id,
                row.rep_user_id,
                &row.customer_id.as_bytes()[..],
                row.owner,
                row.title,
                row.stage,
                row.stage_entered_at,
                row.doc_activity_at,
                row.next_due_at,
                row.held
            ])?;
        }
        ScheduleWrite::DealActivity { opportunity_id, at } => {
            tx.prepare_cached(
                "INSERT INTO opportunity_visits (opportunity_id, last_visit_at) VALUES (?1, ?2)
                 ON CONFLICT (opportunity_id) DO UPDATE SET last_visit_at = max(last_visit_at, excluded.last_visit_at)",
            )?
            .execute(params![&opportunity_id.as_bytes()[..], at])?;
        }
        ScheduleWrite::Team { team_id, at } => {
            tx.prepare_cached(
                "UPDATE opportunity_schedule SET next_due_at = ?2, held = 0
                 WHERE team_id = ?1 AND stage NOT IN ('Won', 'Lost')",
            )?
            .execute(params![team_id, at])?;
        }
        ScheduleWrite::Evaluated { doc_id, next_due_at, held } => {
            tx.prepare_cached(
                "UPDATE opportunity_schedule SET next_due_at = ?2, held = ?3 WHERE doc_id = ?1",
            )?
            .execute(params![&doc_id.as_bytes()[..], next_due_at, held])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_share_a_bounded_pool_of_connections_that_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let storage = std::sync::Arc::new(SqliteStorage::open(dir.path()).unwrap());
        // Four times as many concurrent readers as connections: every read completes, and no
        // more than MAX_READERS connections are ever opened.
        let threads: Vec<_> = (0..MAX_READERS * 4)
            .map(|_| {
                let storage = storage.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        assert_eq!(storage.head_seq("team").unwrap(), 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let pool = lock(&storage.readers);
        assert!(pool.opened <= MAX_READERS, "{} readers opened", pool.opened);
        assert_eq!(pool.idle.len(), pool.opened, "every connection came back to the pool");
    }

    #[test]
    fn a_read_that_panics_gives_its_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: StorageResult<()> = storage.read(|_| panic!("a bug inside a read"));
        }));
        assert!(outcome.is_err());
        let pool = lock(&storage.readers);
        assert_eq!((pool.opened, pool.idle.len()), (1, 1));
    }
}
