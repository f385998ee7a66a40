//! The HTTP side of sync: carries the store's requests to a relay and its responses back, with
//! retries and progress. All decisions stay in the store ([`Store::prepare_sync`],
//! [`Store::apply_sync`]); this file only moves bytes.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::wire::{CONTENT_TYPE, SyncResponse, WireError};
use crate::ids::DocId;
use crate::store::{PendingBlob, PushLimits, Store, StoreError};

mod push;

pub use push::{PushRegistration, RelayPushInfo};

/// Why a sync or an enrollment failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The relay could not be reached (after retries).
    #[error("cannot reach the relay: {0}")]
    Network(String),
    /// The relay answered with an error.
    #[error("the relay refused: {message} ({code}, HTTP {status})")]
    Relay {
        /// HTTP status.
        status: u16,
        /// Machine-readable code, e.g. `invalid_token`.
        code: String,
        /// The relay's words.
        message: String,
    },
    /// The relay asks the device to wait before it tries again (HTTP 429, or a 503 with
    /// `Retry-After`: a rate limit, a connection cap). The client's retries wait at least that
    /// long; a wait longer than [`RetryPolicy::longest_wait`] ends the sync with this error, for
    /// the app to schedule the next one after `retry_after`.
    #[error("the relay asks to wait {} s before trying again: {message} ({code}, HTTP {status})", retry_after.as_secs())]
    RetryLater {
        /// HTTP status.
        status: u16,
        /// Machine-readable code, e.g. `rate_limited`.
        code: String,
        /// The relay's words.
        message: String,
        /// How long the relay asks to wait.
        retry_after: Duration,
    },
    /// The device has no relay credentials yet.
    #[error("this device is not enrolled with a relay; enroll it with a code from an admin")]
    NotEnrolled,
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay's answer is not a valid sync message.
    #[error("the relay's answer is malformed: {0}")]
    Wire(#[from] WireError),
    /// An argument was refused before anything was sent.
    #[error("{0}")]
    Invalid(String),
}

impl SyncError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Network(_) | SyncError::RetryLater { .. } => true,
            // A 429 is always `RetryLater` (see `relay_error`).
            SyncError::Relay { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

/// How hard to retry a failed request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub initial_backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// Longest `Retry-After` the client waits out within one call; the relay asking for more
    /// ends the call with [`SyncError::RetryLater`].
    pub longest_wait: Duration,
}

impl RetryPolicy {
    /// How long to wait before trying again after `error`: the doubling backoff, or what the
    /// relay asked for if that is longer; `None` when the relay asked for more than
    /// [`RetryPolicy::longest_wait`].
    fn wait_after(&self, error: &SyncError, backoff: Duration) -> Option<Duration> {
        match error {
            SyncError::RetryLater { retry_after, .. } if *retry_after > self.longest_wait => None,
            SyncError::RetryLater { retry_after, .. } => Some(jittered(backoff).max(*retry_after)),
            _ => Some(jittered(backoff)),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(20),
            longest_wait: Duration::from_secs(60),
        }
    }
}

/// Where a sync stands, for the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Exchanges so far.
    pub requests: u32,
    /// Local changes acknowledged so far.
    pub acknowledged: u32,
    /// Documents received and applied so far.
    pub documents_received: u32,
    /// Request body bytes sent.
    pub bytes_up: u64,
    /// Response body bytes received.
    pub bytes_down: u64,
    /// Changes still waiting to be pushed.
    pub outbox_remaining: u64,
}

/// What a finished sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Final progress figures.
    pub progress: SyncProgress,
    /// Changes refused for good (see [`Store::rejected_changes`]).
    pub rejected: u32,
    /// Changes the relay could not take yet; they stay in the outbox.
    pub deferred: u32,
    /// Entries from the relay that could not be applied and were quarantined
    /// ([`Store::quarantined_entries`]); the rest of each page was applied.
    pub quarantined: u32,
    /// Documents repaired from the relay's snapshot after a quarantined entry.
    pub repaired: u32,
}

/// The relay's answer to an enrollment.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Enrollment {
    /// Device id (hex).
    pub device_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// User.
    pub user_id: String,
    /// Role: rep, supervisor or admin.
    pub role: String,
}

#[derive(Deserialize)]
struct EnrollAnswer {
    token: String,
    #[serde(flatten)]
    enrollment: Enrollment,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// A client for one relay.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base: String,
    retry: RetryPolicy,
    limits: PushLimits,
}

impl RelayClient {
    /// A client for the relay at `base_url` (`http://…` or `https://…`).
    pub fn new(base_url: &str) -> Result<Self, SyncError> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SyncError::Network(format!("\"{base_url}\" is not an http:// or https:// URL")));
        }
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| SyncError::Network(format!("TLS setup failed: {e}")))?
                .with_root_certificates(rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                })
                .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SyncError::Network(format!("HTTP client setup failed: {e}")))?;
        Ok(RelayClient { http, base, retry: RetryPolicy::default(), limits: PushLimits::default() })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the per-request limits.
    pub fn with_limits(mut self, limits: PushLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The relay's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Enrolls the store's device with a one-time code, proving it holds its key, and keeps
    /// the relay URL and token in the store.
    pub async fn enroll(
        &self,
        store: &Store,
        code: &str,
        device_name: &str,
    ) -> Result<Enrollment, SyncError> {
        let answer = self.enroll_request(store.identity(), code, device_name).await?;
        store.set_relay(&self.base, &answer.token)?;
        store.set_user(&answer.enrollment.user_id, &answer.enrollment.role)?;
        Ok(answer.enrollment)
    }

    /// Pushes the outbox and pulls what others did, round after round, until the relay has
    /// nothing more. Each round is applied atomically, so an interrupted sync resumes where it
    /// stopped.
    pub async fn sync(
        &self,
        store: &Store,
        mut progress: impl FnMut(&SyncProgress),
    ) -> Result<SyncReport, SyncError> {
        let token = relay_token(store)?;
        let mut report = SyncReport::default();
        // A hard stop so a misbehaving relay cannot keep a phone busy forever.
        for _ in 0..100_000 {
            let prepared = store.prepare_sync(self.limits)?;
            let body = prepared.request.encode();
            let pushed = prepared.request.changes.len();
            report.progress.bytes_up += body.len() as u64;
            let answer = self.post_sync(&token, body).await?;
            report.progress.bytes_down += answer.len() as u64;
            report.progress.requests += 1;
            let response = SyncResponse::decode(&answer)?;
            let applied = store.apply_sync(&prepared, &response)?;
            report.progress.acknowledged += applied.acknowledged;
            report.progress.documents_received += applied.documents_changed;
            report.rejected += applied.rejected;
            report.deferred = applied.deferred;
            report.quarantined += applied.quarantined;
            report.progress.outbox_remaining = store.outbox_len()?;
            progress(&report.progress);
            let pushed_everything = pushed == 0 || report.progress.outbox_remaining == 0;
            let made_progress = applied.acknowledged + applied.rejected > 0;
            if !applied.more && (pushed_everything || !made_progress) {
                report.repaired = self.repair_documents(store, &token).await?;
                return Ok(report);
            }
        }
        Err(SyncError::Network(
            "the relay kept answering that more is waiting; stopped after 100000 rounds".into(),
        ))
    }

    /// Fetches the relay's snapshot of every document marked for repair (something the relay
    /// sent for it was quarantined) and merges it. A snapshot the relay no longer has, or one
    /// that does not apply either, leaves the document marked for a later sync, a few times at
    /// most; returns how many were repaired. Repairs are best effort after a sync that already
    /// succeeded: a lost network ends them for now (the documents stay marked, no attempt is
    /// counted) instead of failing the sync; only a store failure is an error.
    ///
    /// A customer this phone's user was given (a claim granted, a transfer, a merge won) brings
    /// its follow-ups and lead cards, which the relay left out of this phone's pulls while
    /// someone else owned it: their ids are listed by `GET /v1/customers/{id}/documents` and
    /// fetched in the same pass (docs/ownership.md).
    async fn repair_documents(&self, store: &Store, token: &str) -> Result<u32, SyncError> {
        let mut repaired = 0;
        // Two rounds: the records first, then the documents about the customers gained.
        for _round in 0..2 {
            let mut gained = Vec::new();
            for doc in store.documents_to_repair(REPAIR_ATTEMPTS)? {
                let path = format!("/v1/documents/{}", doc.doc_id);
                let outcome = match self.send(reqwest::Method::GET, &path, token, None).await {
                    Ok(snapshot) => store.repair_document(doc.doc_id, &snapshot)?,
                    Err(e) if e.is_retryable() => return Ok(repaired),
                    Err(SyncError::Relay { message, .. }) => {
                        store.repair_failed(doc.doc_id, &message)?;
                        Some(message)
                    }
                    Err(_) => return Ok(repaired),
                };
                if outcome.is_none() {
                    repaired += 1;
                    if store.ownership(doc.doc_id)?.is_some_and(|o| o.mine) {
                        gained.push(doc.doc_id);
                    }
                }
            }
            if gained.is_empty() {
                break;
            }
            for customer in gained {
                match self.customer_documents(token, customer).await {
                    Ok(ids) => store.mark_for_repair(&ids, "about a customer this phone's user was given")?,
                    Err(e) if e.is_retryable() => return Ok(repaired),
                    // A relay without the listing, or one that no longer gives the customer to
                    // this user: nothing more to fetch.
                    Err(_) => {}
                }
            }
        }
        Ok(repaired)
    }

    /// Every follow-up and lead card the relay lists for `customer`, page by page.
    async fn customer_documents(&self, token: &str, customer: DocId) -> Result<Vec<DocId>, SyncError> {
        #[derive(serde::Deserialize)]
        struct Page {
            documents: Vec<String>,
            more: bool,
        }
        let mut ids: Vec<DocId> = Vec::new();
        for _ in 0..MAX_CUSTOMER_DOCUMENT_PAGES {
            let path = match ids.last() {
                Some(last) => format!("/v1/customers/{customer}/documents?after={last}"),
                None => format!("/v1/customers/{customer}/documents"),
            };
            let body = self.send(reqwest::Method::GET, &path, token, None).await?;
            let malformed =
                |message: String| SyncError::Relay { status: 200, code: "malformed_answer".into(), message };
            let page: Page = serde_json::from_slice(&body)
                .map_err(|e| malformed(format!("the relay's list of a customer's documents: {e}")))?;
            let before = ids.len();
            for id in page.documents {
                ids.push(id.parse().map_err(|e| {
                    malformed(format!("the relay listed {id:?}, which is not a document id: {e}"))
                })?);
            }
            if !page.more || ids.len() == before {
                break;
            }
        }
        Ok(ids)
    }

    /// Uploads every queued blob, resuming each from the offset the relay reports, and removes
    /// it from the queue once the relay verified its hash. Returns how many were completed.
    /// A blob that fails for good (its file is gone or does not match its name, say) does not
    /// stop the others: they are uploaded, then the first such error is returned.
    pub async fn upload_blobs(&self, store: &Store, chunk_bytes: usize) -> Result<u32, SyncError> {
        let token = relay_token(store)?;
        let mut done = 0;
        let mut first_failure = None;
        for blob in store.pending_blobs()? {
            let mut attempt = 1;
            let mut backoff = self.retry.initial_backoff;
            loop {
                match self.upload_blob(store, &token, &blob, chunk_bytes).await {
                    Ok(()) => {
                        store.record_blob_progress(&blob.sha256, blob.size_bytes, true, None)?;
                        done += 1;
                        break;
                    }
                    Err(e) if e.is_retryable() && attempt < self.retry.max_attempts => {
                        store.record_blob_progress(&blob.sha256, 0, false, Some(&e.to_string()))?;
                        let Some(wait) = self.retry.wait_after(&e, backoff) else { return Err(e) };
                        tokio::time::sleep(wait).await;
                        backoff = (backoff * 2).min(self.retry.max_backoff);
                        attempt += 1;
                    }
                    // The relay wants this device to slow down: the other blobs must wait too.
                    Err(e @ SyncError::RetryLater { .. }) => return Err(e),
                    // Without the network (or the store) the next blob fares no better.
                    Err(e @ (SyncError::Network(_) | SyncError::Store(_) | SyncError::NotEnrolled)) => {
                        return Err(e);
                    }
                    Err(e) => {
                        store.record_blob_progress(&blob.sha256, 0, false, Some(&e.to_string()))?;
                        first_failure.get_or_insert(e);
                        break;
                    }
                }
            }
        }
        match first_failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// One attempt: ask the relay where it stands, then send the rest in chunks, recovering from
    /// every conflict the relay answers (docs/protocol.md, "Blobs"):
    /// - `offset_mismatch` (409): continue from the relay's `Upload-Offset`;
    /// - `upload_in_progress` (409): an earlier request of this phone still runs on the relay
    ///   (its connection died but the relay has not noticed yet): wait, then send the chunk again;
    /// - `length_mismatch` (409): an earlier attempt declared another length: start over from 0,
    ///   which replaces it;
    /// - `hash_mismatch` (422): the relay's copy was corrupt and is gone: start over from 0, once
    ///   (a second mismatch means the file on the phone does not match its name);
    /// - `body_too_large` (413): the relay takes smaller chunks: halve them and continue from
    ///   the relay's `Upload-Offset`.
    async fn upload_blob(
        &self,
        store: &Store,
        token: &str,
        blob: &PendingBlob,
        chunk_bytes: usize,
    ) -> Result<(), SyncError> {
        let url = format!("{}/v1/blobs/{}", self.base, blob.sha256);
        let head = self
            .http
            .head(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| SyncError::Network(e.to_string()))?;
        let mut offset = match head.status() {
            StatusCode::NOT_FOUND => 0,
            s if s.is_success() => {
                if header(&head, "upload-complete") == Some("true") {
                    return Ok(());
                }
                header(&head, "upload-offset").and_then(|v| v.parse().ok()).unwrap_or(0)
            }
            s => return Err(relay_error(s, head.headers(), b"")),
        };
        let bytes = std::fs::read(&blob.path)
            .map_err(|e| SyncError::Store(StoreError::Io { path: blob.path.clone(), source: e }))?;
        let total = bytes.len() as u64;
        if total == 0 {
            return Err(SyncError::Relay {
                status: 0,
                code: "empty_blob".into(),
                message: "the blob file is empty".into(),
            });
        }
        let mut chunk_bytes = chunk_bytes.max(1) as u64;
        let mut restarted_after_hash_mismatch = false;
        let mut restarted_after_length_mismatch = false;
        let mut waits = 0;
        let mut backoff = self.retry.initial_backoff;
        // A restart from 0 when the relay's offset is past the end of our file (a longer
        // earlier attempt) is the same recovery as for a length mismatch.
        if offset > total {
            offset = 0;
        }
        while offset < total {
            let end = (offset + chunk_bytes).min(total) - 1;
            let chunk = bytes[offset as usize..=end as usize].to_vec();
            let response = self
                .http
                .put(&url)
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_RANGE, format!("bytes {offset}-{end}/{total}"))
                .body(chunk)
                .send()
                .await
                .map_err(|e| SyncError::Network(e.to_string()))?;
            let status = response.status();
            let reported = header(&response, "upload-offset").and_then(|v| v.parse::<u64>().ok());
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| SyncError::Network(e.to_string()))?;
            let refusal = || relay_error(status, &headers, &body);
            let code = match refusal() {
                SyncError::Relay { code, .. } => code,
                _ => String::new(),
            };
            match (status, code.as_str(), reported) {
                (s, _, Some(at)) if s.is_success() => offset = at,
                (StatusCode::CONFLICT, "offset_mismatch", Some(at)) if at <= total => offset = at,
                (StatusCode::CONFLICT, "upload_in_progress", _) if waits + 1 < self.retry.max_attempts => {
                    waits += 1;
                    tokio::time::sleep(jittered(backoff)).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
                (StatusCode::CONFLICT, "length_mismatch", _) if !restarted_after_length_mismatch => {
                    restarted_after_length_mismatch = true;
                    offset = 0;
                }
                (StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch", _) if !restarted_after_hash_mismatch => {
                    restarted_after_hash_mismatch = true;
                    offset = 0;
                }
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", Some(at))
                    if chunk_bytes > 1024 && at <= total =>
                {
                    chunk_bytes /= 2;
                    offset = at;
                }
                _ => return Err(refusal()),
            }
            store.record_blob_progress(&blob.sha256, offset, false, None)?;
        }
        Ok(())
    }

    /// One sync exchange without a store, for tools that simulate devices (benchmarks, load
    /// tests). Retries like [`RelayClient::sync`].
    pub async fn exchange(
        &self,
        token: &str,
        request: &super::wire::SyncRequest,
    ) -> Result<SyncResponse, SyncError> {
        let answer = self.post_sync(token, request.encode()).await?;
        Ok(SyncResponse::decode(&answer)?)
    }

    /// Enrolls a device identity that has no store (simulated devices); returns the token.
    pub async fn enroll_identity(
        &self,
        identity: &crate::DeviceIdentity,
        code: &str,
        device_name: &str,
    ) -> Result<(Enrollment, String), SyncError> {
        let answer = self.enroll_request(identity, code, device_name).await?;
        Ok((answer.enrollment, answer.token))
    }

    async fn enroll_request(
        &self,
        identity: &crate::DeviceIdentity,
        code: &str,
        device_name: &str,
    ) -> Result<EnrollAnswer, SyncError> {
        let public_key = identity.public_key();
        let message = super::enrollment_message(code, &public_key);
        let body = serde_json_body(code.trim(), &public_key, &identity.sign(&message), device_name);
        let response = self
            .http
            .post(format!("{}/v1/enroll", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| SyncError::Network(e.to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| SyncError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(relay_error(status, &headers, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| SyncError::Relay {
            status: status.as_u16(),
            code: "malformed".into(),
            message: e.to_string(),
        })
    }

    async fn post_sync(&self, token: &str, body: Vec<u8>) -> Result<Vec<u8>, SyncError> {
        self.send(reqwest::Method::POST, "/v1/sync", token, Some((CONTENT_TYPE, body))).await
    }

    /// One authenticated request to `path`, retried under the retry policy while the failure is
    /// retryable (no network, 5xx, 429, 408); returns the body of a 2xx answer. Only for requests
    /// that are safe to repeat: sync exchanges are idempotent by change hash, push registrations
    /// by endpoint.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Vec<u8>, SyncError> {
        let url = format!("{}{path}", self.base);
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let result = async {
                let mut request = self.http.request(method.clone(), &url).bearer_auth(token);
                if let Some((content_type, bytes)) = &body {
                    request =
                        request.header(reqwest::header::CONTENT_TYPE, *content_type).body(bytes.clone());
                }
                let response = request.send().await.map_err(|e| SyncError::Network(e.to_string()))?;
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = response.bytes().await.map_err(|e| SyncError::Network(e.to_string()))?;
                if status.is_success() {
                    Ok(bytes.to_vec())
                } else {
                    Err(relay_error(status, &headers, &bytes))
                }
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && attempt < self.retry.max_attempts => {
                    let Some(wait) = self.retry.wait_after(&e, backoff) else { return Err(e) };
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Pages of a gained customer's documents read at most (1,000 ids each).
const MAX_CUSTOMER_DOCUMENT_PAGES: usize = 100;

/// How often a document marked for repair is tried before it waits for an admin.
const REPAIR_ATTEMPTS: u32 = 5;

/// The token this store was enrolled with; `NotEnrolled` before enrolling.
fn relay_token(store: &Store) -> Result<String, SyncError> {
    Ok(store.relay()?.ok_or(SyncError::NotEnrolled)?.1)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn serde_json_body(code: &str, public_key: &[u8; 32], signature: &[u8; 64], device_name: &str) -> String {
    serde_json::json!({
        "code": code,
        "public_key": hex::encode(public_key),
        "signature": hex::encode(signature),
        "device_name": device_name,
    })
    .to_string()
}

/// The error for a refusal: [`SyncError::RetryLater`] for a 429 (waiting `Retry-After`, or a
/// second when it is missing or unreadable) and for a 503 that says how long to wait, else
/// [`SyncError::Relay`] with the relay's code and message.
fn relay_error(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &[u8]) -> SyncError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => ("http".to_owned(), String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()),
    };
    let retry_after = retry_after(headers);
    match (status, retry_after) {
        (StatusCode::TOO_MANY_REQUESTS, wait) => SyncError::RetryLater {
            status: status.as_u16(),
            code,
            message,
            retry_after: wait.unwrap_or(Duration::from_secs(1)),
        },
        (StatusCode::SERVICE_UNAVAILABLE, Some(wait)) => {
            SyncError::RetryLater { status: status.as_u16(), code, message, retry_after: wait }
        }
        _ => SyncError::Relay { status: status.as_u16(), code, message },
    }
}

/// `Retry-After` as delay-seconds (RFC 9110 §10.2.3; the relay sends no dates). Anything else
/// is ignored, and a wait of more than a day is taken as a day.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(86_400)))
}

/// Waits between half and all of `base`, so phones that lost the network together do not all
/// come back in the same millisecond.
fn jittered(base: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    base / 2 + base * u32::from(byte[0]) / 512
}
