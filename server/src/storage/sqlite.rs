//! The embedded default backend: one SQLite file in the data directory, WAL mode, one writer
//! connection and a pool of readers.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use fieldsync_core::DocId;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    BatchWrite, ChangePage, DeviceScope, DocumentFlag, RelayStorage, Role, SnapshotPage, StorageError,
    StorageResult, StoredDocument,
};

const APPLICATION_ID: i32 = 0x4653_524C; // "FSRL"
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_relay.sql"),
    include_str!("../../migrations/0002_document_flags.sql"),
];
const IDLE_READERS: usize = 8;

/// SQLite relay storage.
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
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
        Ok(SqliteStorage { path, writer: Mutex::new(writer), readers: Mutex::new(Vec::new()) })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StorageResult<T>) -> StorageResult<T> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(Duration::from_secs(10))?;
                c
            }
        };
        let result = f(&conn);
        let mut readers = lock(&self.readers);
        if readers.len() < IDLE_READERS {
            readers.push(conn);
        }
        result
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
            let exists: bool =
                tx.query_row("SELECT count(*) FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))?;
            if !exists {
                return Err(StorageError::NotFound(format!("user {user_id}")));
            }
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
        let BatchWrite { entries, documents, flags } = batch;
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
            Ok(seq.max(0) as u64)
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
        max_bytes: usize,
    ) -> StorageResult<ChangePage> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?; // one consistent view of the log
            let head: i64 = tx
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM changes WHERE team_id = ?1")?
                .query_row([team_id], |r| r.get(0))?;
            let head = head.max(0) as u64;
            let mut page = ChangePage { changes: Vec::new(), through_seq: head.max(after_seq), more: false };
            let mut statement = tx.prepare_cached(
                "SELECT seq, doc_id, bytes, actor = ?3 FROM changes WHERE team_id = ?1 AND seq > ?2 AND seq <= ?4
                 ORDER BY seq",
            )?;
            let mut rows = statement.query(params![team_id, after_seq as i64, &exclude_actor[..], head as i64])?;
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
        max_bytes: usize,
    ) -> StorageResult<SnapshotPage> {
        self.read(|conn| {
            let after = after.map(|d| d.as_bytes().to_vec()).unwrap_or_default();
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, snapshot FROM documents WHERE team_id = ?1 AND doc_id > ?2 ORDER BY doc_id",
            )?;
            let mut rows = statement.query(params![team_id, after])?;
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
