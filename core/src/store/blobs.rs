//! The phone's blob files: photos, thumbnails and signatures, stored next to the database under
//! their SHA-256 and queued for upload in the same transaction as the record that names them.
//!
//! A blob file is written (to a temporary name, synced, renamed, directory synced) before the
//! transaction that refers to it commits, so a record never names a blob that a crash lost. A
//! crash in between leaves at most an unreferenced file, which is harmless.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::error::{Result, StoreError};
use crate::clock::UnixMillis;

/// The blob directory of a store file: `<file>.blobs` beside it.
pub(crate) fn dir_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".blobs");
    PathBuf::from(name)
}

/// A blob written to disk, not yet queued.
#[derive(Debug, Clone)]
pub(crate) struct WrittenBlob {
    pub sha256: String,
    pub path: PathBuf,
    pub size_bytes: u64,
}

/// Writes `bytes` under their hash in `dir`, durably. Writing a blob that exists is a no-op.
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> Result<WrittenBlob> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let sha256 = hex::encode(Sha256::digest(bytes));
    let path = dir.join(&sha256);
    let blob = WrittenBlob { sha256, path: path.clone(), size_bytes: bytes.len() as u64 };
    if fs::metadata(&path).map(|m| m.len() == blob.size_bytes).unwrap_or(false) {
        return Ok(blob);
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let temp = dir.join(format!(".{}.{}.tmp", blob.sha256, std::process::id()));
    let mut file = File::create(&temp).map_err(io(&temp))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(&temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(io(&path))?;
    // Make the rename itself durable (POSIX: sync the directory).
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(blob)
}

/// Queues a written blob for upload inside the caller's transaction.
pub(crate) fn queue(tx: &Connection, blob: &WrittenBlob, now: UnixMillis) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO blob_queue (sha256, path, size_bytes, queued_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![blob.sha256, blob.path.to_string_lossy(), blob.size_bytes as i64, now])?;
    Ok(())
}
