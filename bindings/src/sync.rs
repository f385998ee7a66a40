//! Enrollment and sync as async calls. They run on a Tokio runtime this library owns (one per
//! process, built on first use), never on the caller's threads: the foreign side awaits the
//! result (a Kotlin `suspend fun`, a Python coroutine, a Swift `async` function) and needs no
//! runtime of its own. A panic on the runtime comes back as `FfiError::Internal`.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use fieldsync_core::Store;
use fieldsync_core::sync::client::{Enrollment, RelayClient, SyncError};

use crate::FfiError;
use crate::capture::invalid;
use crate::error::panicked;
use crate::store::FieldStore;

/// Blob upload chunk size: a photo in a few requests, resumable at each chunk on a bad network.
const BLOB_CHUNK_BYTES: usize = 1024 * 1024;

/// The part of a sync in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Local changes going to the relay (`done` acknowledged of `total` waiting at the start).
    Pushing,
    /// Other devices' changes coming in (`done` documents applied; no total is known).
    Pulling,
    /// Photos and signatures uploading (`done` of `total` blobs).
    Blobs,
}

/// One progress report.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiSyncProgress {
    /// Which part.
    pub phase: SyncPhase,
    /// Items done so far in this phase.
    pub done: u64,
    /// Items in this phase, when known.
    pub total: Option<u64>,
}

/// Receives progress while `sync` runs; called on a library thread, so post to the UI thread.
#[uniffi::export(foreign)]
pub trait SyncProgressListener: Send + Sync {
    /// Where the sync stands.
    fn on_progress(&self, progress: FfiSyncProgress);
}

/// What a finished sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiSyncReport {
    /// Request/response exchanges with the relay.
    pub exchanges: u32,
    /// Local changes the relay acknowledged.
    pub pushed: u32,
    /// Documents received from other devices and applied.
    pub received: u32,
    /// Local changes the relay refused for good.
    pub rejected: u32,
    /// Local changes the relay could not take yet (they stay in the outbox).
    pub deferred: u32,
    /// Changes still waiting.
    pub outbox_remaining: u64,
    /// Photos and signatures uploaded.
    pub blobs_uploaded: u32,
    /// Request bytes sent (sync exchanges).
    pub bytes_up: u64,
    /// Response bytes received (sync exchanges).
    pub bytes_down: u64,
}

/// Who the relay says this device is, after enrolling.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiEnrollment {
    /// Device id (hex).
    pub device_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// User.
    pub user_id: String,
    /// `rep`, `supervisor` or `admin`.
    pub role: String,
}

impl From<Enrollment> for FfiEnrollment {
    fn from(e: Enrollment) -> Self {
        FfiEnrollment {
            device_id: e.device_id,
            tenant_id: e.tenant_id,
            team_id: e.team_id,
            user_id: e.user_id,
            role: e.role,
        }
    }
}

/// The library's runtime: built once, on first use, and kept for the life of the process.
fn runtime() -> Result<&'static tokio::runtime::Runtime, FfiError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fieldsync-sync")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| FfiError::Internal { message: format!("cannot start the sync runtime: {e}") })
}

/// Runs `work` on the library's runtime and waits for it from whatever executor polls this.
pub(crate) async fn on_runtime<T: Send + 'static>(
    work: impl Future<Output = Result<T, FfiError>> + Send + 'static,
) -> Result<T, FfiError> {
    match runtime()?.spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(panicked(e.into_panic().as_ref())),
        Err(e) => Err(FfiError::Internal { message: format!("the sync task was stopped: {e}") }),
    }
}

/// A client for the relay this store is enrolled with; `Unauthorized` before enrolling.
pub(crate) fn enrolled_client(store: &Store) -> Result<RelayClient, FfiError> {
    let (url, _) = store.relay()?.ok_or(SyncError::NotEnrolled)?;
    Ok(RelayClient::new(&url)?)
}

fn relay_url(text: &str) -> Result<&str, FfiError> {
    let url = text.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len() {
        return Err(invalid(format!(
            "{text:?} is not a relay address; give http://host:port or https://host"
        )));
    }
    Ok(url)
}

#[uniffi::export]
impl FieldStore {
    /// Enrolls this device with the relay at `relay_url`, using a one-time code from an admin
    /// (`fieldsync admin …`); keeps the relay address and token (in the key storage when one
    /// was given). `Unauthorized` for an unknown or used code, `Network` when unreachable.
    pub async fn enroll(
        &self,
        relay_url: String,
        code: String,
        device_name: String,
    ) -> Result<FfiEnrollment, FfiError> {
        let url = self::relay_url(&relay_url)?.to_owned();
        if code.trim().is_empty() {
            return Err(invalid("the enrollment code is empty; ask an admin for one"));
        }
        let store = self.shared();
        on_runtime(async move {
            let client = RelayClient::new(&url)?;
            Ok(client.enroll(&store, &code, &device_name).await?.into())
        })
        .await
    }

    /// Pushes local changes, pulls other devices' changes and uploads queued photos and
    /// signatures, reporting progress to `listener`. Safe to call again after any error: each
    /// step resumes where the last stopped. `Unauthorized` before enrolling.
    pub async fn sync(
        &self,
        listener: Option<Arc<dyn SyncProgressListener>>,
    ) -> Result<FfiSyncReport, FfiError> {
        let store = self.shared();
        on_runtime(async move {
            let notify = |phase, done, total| {
                if let Some(listener) = &listener {
                    listener.on_progress(FfiSyncProgress { phase, done, total });
                }
            };
            let client = enrolled_client(&store)?;
            let waiting = store.outbox_len()?;
            notify(SyncPhase::Pushing, 0, Some(waiting));
            let report = client
                .sync(&store, |p| {
                    notify(SyncPhase::Pushing, u64::from(p.acknowledged), Some(waiting));
                    notify(SyncPhase::Pulling, u64::from(p.documents_received), None);
                })
                .await?;
            let blobs = store.pending_blobs()?.len() as u64;
            notify(SyncPhase::Blobs, 0, Some(blobs));
            let uploaded = client.upload_blobs(&store, BLOB_CHUNK_BYTES).await?;
            notify(SyncPhase::Blobs, u64::from(uploaded), Some(blobs));
            Ok(FfiSyncReport {
                exchanges: report.progress.requests,
                pushed: report.progress.acknowledged,
                received: report.progress.documents_received,
                rejected: report.rejected,
                deferred: report.deferred,
                outbox_remaining: report.progress.outbox_remaining,
                blobs_uploaded: uploaded,
                bytes_up: report.progress.bytes_up,
                bytes_down: report.progress.bytes_down,
            })
        })
        .await
    }

    /// The relay this device is enrolled with, or null before enrolling.
    pub fn relay_url(&self) -> Result<Option<String>, FfiError> {
        crate::error::guard(|| Ok(self.core().relay()?.map(|(url, _)| url)))
    }
}
