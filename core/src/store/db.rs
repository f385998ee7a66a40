//! Connections to one store file: a single writer, a small pool of readers, and an OS file lock
//! that keeps a second process (or a second handle) from writing at the same time.
//!
//! Why the lock: SQLite itself would serialise two writers safely, but two writers would both
//! make Automerge changes as the same device actor, and two changes with one (actor, seq) pair
//! corrupt a document's history. So a store has exactly one writer, enforced.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::error::{Result, StoreError};
use super::schema;

/// Readers kept open between reads; more are opened on demand and closed after use.
const IDLE_READERS: usize = 4;

/// How long a statement waits for SQLite's own locks (checkpoints, readers) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The open database file.
#[derive(Debug)]
pub(crate) struct Database {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    closed: AtomicBool,
    lock: Mutex<Option<File>>,
    /// Write transactions committed since the store was opened (each one fsync of the WAL, as
    /// `synchronous = FULL`).
    commits: AtomicU64,
}

/// A poisoned mutex only means a panic happened while it was held; SQLite rolled back whatever
/// transaction was open, so the connection is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Database {
    /// Opens (or creates) the store at `path` and upgrades its schema to `target_version`.
    pub(crate) fn open(path: &Path, target_version: u32) -> Result<Self> {
        let lock_path = lock_path(path);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Io { path: lock_path.clone(), source })?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::AlreadyOpen { path: path.to_owned() });
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io { path: lock_path, source });
            }
        }
        check_header(path)?;

        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        // Validate before anything writes (journal_mode=WAL writes the header).
        schema::prepare_up_to(&mut writer, path, 0)?;
        configure_writer(&writer)?;
        schema::prepare_up_to(&mut writer, path, target_version)?;

        Ok(Database {
            path: path.to_owned(),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            lock: Mutex::new(Some(lock_file)),
            commits: AtomicU64::new(0),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in an immediate write transaction; commits when it returns `Ok`, rolls back
    /// otherwise. Writers queue on one connection.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(value)
    }

    /// Write transactions committed since the store was opened.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `f` on a read-only connection; sees every write that returned before it started.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        let mut readers = lock(&self.readers);
        if readers.len() < IDLE_READERS && !self.closed.load(Ordering::Acquire) {
            readers.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    /// Closes every connection and releases the lock. Waits for a write in progress to finish.
    /// Later calls fail with [`StoreError::Closed`]. Closing twice is harmless.
    pub(crate) fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        let writer = lock(&self.writer).take();
        lock(&self.readers).clear();
        if let Some(writer) = writer {
            // Fold the WAL back into the main file so a closed store is one self-contained file.
            let _ = writer.pragma_update(None, "wal_checkpoint", "TRUNCATE");
            writer.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        }
        if let Some(file) = lock(&self.lock).take() {
            let _ = file.unlock();
        }
        Ok(())
    }

    /// Whether [`Database::close`] has been called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The lock file that sits next to the database.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

fn configure_writer(conn: &Connection) -> Result<()> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}; the store needs WAL"
        ))));
    }
    // FULL: a write that returned Ok survives power loss, not only a process crash (DESIGN §4).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Refuses a non-empty file that does not start with SQLite's magic string, before SQLite opens
/// it: SQLite would report the problem too, but only after the first query.
fn check_header(path: &Path) -> Result<()> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StoreError::Io { path: path.to_owned(), source }),
    };
    let mut magic = [0u8; 16];
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => return Err(StoreError::Io { path: path.to_owned(), source }),
        }
    }
    if read == 0 {
        return Ok(());
    }
    if read < magic.len() || &magic != b"SQLite format 3\0" {
        return Err(StoreError::NotADatabase { path: path.to_owned() });
    }
    Ok(())
}
