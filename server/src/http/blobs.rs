//! Content-addressed blobs (photos, thumbnails, signatures): resumable uploads (`PUT` with
//! `Content-Range`, `HEAD` for the stored offset), SHA-256 verified on completion, stored once
//! per tenant, read back with `GET` and `Range` (DESIGN §5).
//!
//! Layout under the data directory: `blobs/<tenant>/<aa>/<sha256>` for complete blobs, and
//! `blobs/<tenant>/partial/<device>/<sha256>` plus `<sha256>.length` while a device uploads.
//! Partial uploads belong to the uploading device: any device of the tenant may learn a hash
//! from a synced visit, and one device's upload with a wrong length must not block the owner's
//! (an outside security test found exactly that). The bytes a dropped connection already
//! delivered stay in the partial file; `HEAD` tells the device where to resume. A partial upload
//! untouched for [`PARTIAL_UPLOAD_TTL`] is deleted: on access by its device, and by a sweep of
//! the tenant's partial uploads whenever a device starts a new upload.
//!
//! Memory: an upload is written to disk frame by frame, and a `GET` streams the file in
//! [`STREAM_CHUNK_BYTES`] pieces as the connection takes them, so neither holds a blob in memory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::http::app::AppState;
use crate::http::auth::Device;
use crate::http::error::ApiError;

/// A partial upload untouched for this long is deleted: its device has given up on it (or
/// never meant to finish it), and the space is the tenant's.
pub const PARTIAL_UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);
/// A blob `GET` reads the file this much at a time; at most one piece per response waits in
/// memory for a slow reader (plus hyper's write buffer).
pub const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// Who uploads what: one upload per (tenant, device, blob) at a time.
type UploadKey = (String, [u8; 16], String);

/// Blob storage on disk.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    max_blob_bytes: u64,
    uploading: Mutex<HashSet<UploadKey>>,
}

/// The header that carries the stored offset of an upload.
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The header that says whether a blob is complete.
pub const UPLOAD_COMPLETE: &str = "upload-complete";

impl BlobStore {
    /// Blobs under `data_dir/blobs`, at most `max_blob_bytes` each.
    pub fn new(data_dir: &Path, max_blob_bytes: u64) -> Self {
        BlobStore { root: data_dir.join("blobs"), max_blob_bytes, uploading: Mutex::new(HashSet::new()) }
    }

    /// The bytes of tenant `tenant`'s complete blob `sha` (64 lowercase hex digits, checked by
    /// the caller), `None` when there is none or it is larger than `max_bytes`.
    pub async fn read_complete(
        &self,
        tenant: &str,
        sha: &str,
        max_bytes: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let path = self.complete_path(tenant, sha);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.len() <= max_bytes => tokio::fs::read(&path).await.map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn complete_path(&self, tenant: &str, sha: &str) -> PathBuf {
        self.root.join(tenant).join(&sha[..2]).join(sha)
    }

    fn partials_dir(&self, tenant: &str) -> PathBuf {
        self.root.join(tenant).join("partial")
    }

    fn partial_path(&self, tenant: &str, device: &[u8; 16], sha: &str) -> PathBuf {
        self.partials_dir(tenant).join(hex::encode(device)).join(sha)
    }

    fn length_path(&self, tenant: &str, device: &[u8; 16], sha: &str) -> PathBuf {
        self.partials_dir(tenant).join(hex::encode(device)).join(format!("{sha}.length"))
    }
}

/// Deletes a device's partial upload (both files); missing files are fine.
async fn discard_partial(partial: &Path, length_file: &Path) -> Result<(), ApiError> {
    for path in [partial, length_file] {
        match tokio::fs::remove_file(path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

/// Whether a partial upload was last written before `ttl` ago (judged by the data file, or by
/// the length file when no byte arrived yet).
fn is_expired(partial: &Path, length_file: &Path, now: SystemTime, ttl: Duration) -> bool {
    let touched =
        std::fs::metadata(partial).or_else(|_| std::fs::metadata(length_file)).and_then(|m| m.modified());
    touched.is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > ttl))
}

/// Deletes the device's partial upload of `sha` if it expired; true if it did.
async fn expire_own_partial(partial: &Path, length_file: &Path) -> Result<bool, ApiError> {
    let (p, l) = (partial.to_owned(), length_file.to_owned());
    let expired =
        tokio::task::spawn_blocking(move || is_expired(&p, &l, SystemTime::now(), PARTIAL_UPLOAD_TTL))
            .await
            .map_err(ApiError::internal)?;
    if expired {
        discard_partial(partial, length_file).await?;
    }
    Ok(expired)
}

/// Deletes every expired partial upload of the tenant, whichever device left it, and device
/// folders left empty. One directory listing per device folder: partial uploads are few (the
/// uploads in progress), so this runs whenever a device starts an upload rather than on a timer.
fn sweep_expired_partials(partials_dir: &Path, now: SystemTime, ttl: Duration) -> std::io::Result<usize> {
    let mut removed = 0;
    let devices = match std::fs::read_dir(partials_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for device in devices {
        let device = device?.path();
        if !device.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&device)? {
            let path = file?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let sha = name.strip_suffix(".length").unwrap_or(&name);
            let (partial, length_file) = (device.join(sha), device.join(format!("{sha}.length")));
            if is_expired(&partial, &length_file, now, ttl) {
                for path in [&partial, &length_file] {
                    if std::fs::remove_file(path).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        // Fails (harmlessly) while the folder still holds an upload.
        let _ = std::fs::remove_dir(&device);
    }
    Ok(removed)
}

/// Holds the per-device, per-blob upload lock until dropped.
struct UploadGuard<'a> {
    store: &'a BlobStore,
    key: UploadKey,
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        self.store.uploading.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

fn check_sha(sha: &str) -> Result<(), ApiError> {
    if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "bad_blob_id",
            "a blob is named by its SHA-256: 64 lowercase hex characters",
        ))
    }
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("blob storage: {e}"))
}

/// `bytes START-END/TOTAL`
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, total) = (start.parse().ok()?, end.parse().ok()?, total.parse().ok()?);
    (start <= end && end < total).then_some((start, end, total))
}

async fn file_len(path: &Path) -> Result<Option<u64>, ApiError> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(e)),
    }
}

fn offset_response(status: StatusCode, offset: u64, total: Option<u64>, complete: bool) -> Response {
    let mut response =
        (status, Json(json!({ "offset": offset, "length": total, "complete": complete }))).into_response();
    let headers = response.headers_mut();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    headers.insert(UPLOAD_COMPLETE, HeaderValue::from_static(if complete { "true" } else { "false" }));
    response
}

/// `HEAD /v1/blobs/{sha256}`: how much of the blob the relay has.
pub async fn head(
    State(state): State<AppState>,
    Device(scope): Device,
    UrlPath(sha): UrlPath<String>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    let blobs = &state.blobs;
    if let Some(len) = file_len(&blobs.complete_path(&scope.tenant_id, &sha)).await? {
        return Ok(offset_response(StatusCode::OK, len, Some(len), true));
    }
    // Only the calling device's own partial upload: another device's is none of its business.
    let partial = blobs.partial_path(&scope.tenant_id, &scope.device_id, &sha);
    let length_file = blobs.length_path(&scope.tenant_id, &scope.device_id, &sha);
    if expire_own_partial(&partial, &length_file).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "blob_not_found", format!("no blob {sha}")));
    }
    match file_len(&partial).await? {
        Some(offset) => {
            let total =
                tokio::fs::read_to_string(&length_file).await.ok().and_then(|s| s.trim().parse().ok());
            Ok(offset_response(StatusCode::OK, offset, total, false))
        }
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "blob_not_found", format!("no blob {sha}"))),
    }
}

/// The 413 for a chunk over `max_blob_chunk_bytes`; `kept` is the device's offset afterwards.
fn chunk_too_large(limit: usize, kept: Option<u64>) -> Response {
    let message = match kept {
        Some(offset) => format!(
            "the chunk is larger than {limit} bytes; the relay kept the bytes up to offset {offset}: \
             continue from there in chunks of at most {limit} bytes"
        ),
        None => format!("the chunk is larger than {limit} bytes; send chunks of at most {limit} bytes"),
    };
    let mut response =
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message).into_response();
    if let Some(offset) = kept {
        response.headers_mut().insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    }
    response
}

/// Whether a body error is the chunk limit (as opposed to a dropped connection).
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `PUT /v1/blobs/{sha256}`: appends a chunk at the stored offset; verifies on the last one.
/// A chunk starting at 0 starts the device's upload afresh (whatever it had sent before).
///
/// An answer given before the chunk was read (a refusal, or a blob another device completed)
/// says `Connection: close`: the phone is still sending the unread chunk, and a client that
/// reused the connection would see its next request fail as a network error (the relay drops
/// the connection rather than read the rest), then retry from the start.
pub async fn put(
    state: State<AppState>,
    device: Device,
    sha: UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (mut response, read) = match put_chunk(state, device, sha, headers, body).await {
        Ok(answer) => answer,
        Err(e) => (e.into_response(), false),
    };
    if !read {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The answer to a `PUT`, and whether the chunk's body was read to its end.
async fn put_chunk(
    State(state): State<AppState>,
    Device(scope): Device,
    UrlPath(sha): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(Response, bool), ApiError> {
    check_sha(&sha)?;
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && ct.as_bytes() != b"application/octet-stream"
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            "blob uploads are application/octet-stream",
        ));
    }
    let chunk_limit = state.config.max_blob_chunk_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > chunk_limit as u64) {
        return Ok((chunk_too_large(chunk_limit, None), false));
    }
    let blobs: &Arc<BlobStore> = &state.blobs;
    let complete = blobs.complete_path(&scope.tenant_id, &sha);
    let partial = blobs.partial_path(&scope.tenant_id, &scope.device_id, &sha);
    let length_file = blobs.length_path(&scope.tenant_id, &scope.device_id, &sha);
    if let Some(len) = file_len(&complete).await? {
        // Deduplicated: another device (or an earlier attempt) completed it. Whatever this
        // device had started is of no use any more.
        discard_partial(&partial, &length_file).await?;
        return Ok((offset_response(StatusCode::OK, len, Some(len), true), false));
    }
    let (start, end, total) = match headers.get(header::CONTENT_RANGE) {
        Some(v) => v.to_str().ok().and_then(parse_content_range).ok_or_else(|| {
            ApiError::bad_request("bad_content_range", "Content-Range must be `bytes START-END/TOTAL`")
        })?,
        None => {
            let len = declared.filter(|&n| n > 0).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_content_range",
                    "send Content-Range, or a non-empty body with Content-Length",
                )
            })?;
            (0, len - 1, len)
        }
    };
    if total > blobs.max_blob_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "blob_too_large",
            format!("the blob is {total} bytes; the limit is {}", blobs.max_blob_bytes),
        ));
    }
    let key = (scope.tenant_id.clone(), scope.device_id, sha.clone());
    if !blobs.uploading.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "upload_in_progress",
            "an earlier upload of this blob from this device is still running; retry shortly",
        ));
    }
    let _guard = UploadGuard { store: blobs, key };

    if start == 0 {
        // A fresh start: whatever this device sent before is replaced, and it is a good moment
        // to drop what the tenant's devices abandoned.
        discard_partial(&partial, &length_file).await?;
        let dir = blobs.partials_dir(&scope.tenant_id);
        match tokio::task::spawn_blocking(move || {
            sweep_expired_partials(&dir, SystemTime::now(), PARTIAL_UPLOAD_TTL)
        })
        .await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => {
                tracing::info!(tenant = %scope.tenant_id, removed, "expired partial uploads deleted")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not sweep expired partial uploads"),
            Err(e) => tracing::warn!(error = %e, "the partial upload sweep failed"),
        }
    } else {
        expire_own_partial(&partial, &length_file).await?;
    }
    if let Some(parent) = partial.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    let offset = file_len(&partial).await?.unwrap_or(0);
    match tokio::fs::read_to_string(&length_file).await.ok().and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(known) if known != total => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "length_mismatch",
                format!(
                    "this device started this upload with length {known}, not {total}; \
                     send it again from offset 0 to start over"
                ),
            ));
        }
        Some(_) => {}
        None => tokio::fs::write(&length_file, total.to_string()).await.map_err(io_error)?,
    }
    if start != offset {
        let mut response = ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!("the relay has {offset} bytes of this blob; continue from there"),
        )
        .into_response();
        response.headers_mut().insert(UPLOAD_OFFSET, HeaderValue::from(offset));
        return Ok((response, false));
    }

    let expected = end - start + 1;
    let mut file =
        tokio::fs::OpenOptions::new().create(true).append(true).open(&partial).await.map_err(io_error)?;
    let mut written = 0u64;
    let mut body = Limited::new(body, chunk_limit);
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // Over the chunk limit (a body without Content-Length): the bytes before the limit
            // arrived in order and are kept, like after a dropped connection, and the device is
            // told where it stands.
            Err(e) if is_length_limit(e.as_ref()) => {
                file.sync_data().await.map_err(io_error)?;
                state.metrics.record_blob_bytes(written);
                return Ok((chunk_too_large(chunk_limit, Some(offset + written)), false));
            }
            // A dropped connection ends here: what was written stays for the resume.
            Err(_) => break,
        };
        let Ok(data) = frame.into_data() else { continue };
        if written + data.len() as u64 > expected {
            file.sync_data().await.map_err(io_error)?;
            return Err(ApiError::bad_request(
                "body_longer_than_range",
                "the body is longer than its Content-Range",
            ));
        }
        file.write_all(&data).await.map_err(io_error)?;
        written += data.len() as u64;
    }
    file.sync_data().await.map_err(io_error)?;
    drop(file);
    state.metrics.record_blob_bytes(written);
    let offset = offset + written;
    if offset < total {
        return Ok((offset_response(StatusCode::OK, offset, Some(total), false), true));
    }

    let actual = hash_file(&partial).await.map_err(io_error)?;
    if actual != sha {
        discard_partial(&partial, &length_file).await?;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            format!("the uploaded bytes hash to {actual}, not {sha}; upload again from 0"),
        ));
    }
    if let Some(parent) = complete.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    // Another device may have completed the same blob meanwhile: same bytes, same name, so the
    // rename replacing it is harmless.
    tokio::fs::rename(&partial, &complete).await.map_err(io_error)?;
    let _ = tokio::fs::remove_file(&length_file).await;
    if let Some(device_dir) = partial.parent() {
        let _ = tokio::fs::remove_dir(device_dir).await; // only if it holds no other upload
    }
    tracing::info!(tenant = %scope.tenant_id, blob = %sha, bytes = total, "blob stored");
    Ok((offset_response(StatusCode::CREATED, total, Some(total), true), true))
}

async fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `GET /v1/blobs/{sha256}`, with an optional single `Range: bytes=a-b`.
pub async fn get(
    State(state): State<AppState>,
    Device(scope): Device,
    UrlPath(sha): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    let path = state.blobs.complete_path(&scope.tenant_id, &sha);
    let Some(len) = file_len(&path).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "blob_not_found",
            format!("no complete blob {sha}"),
        ));
    };
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|v| parse_range(v, len)).ok_or_else(|| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                format!("the blob is {len} bytes; send Range: bytes=a-b within it"),
            )
        })?),
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end + 1 - start };
    let mut file = tokio::fs::File::open(&path).await.map_err(io_error)?;
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(io_error)?;
    let mut response = Response::new(Body::from_stream(file_stream(file.take(count), count)));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {start}-{end}/{len}");
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// The bytes of `reader`, [`STREAM_CHUNK_BYTES`] at a time, read only when the connection asks
/// for more (hyper polls the body as it writes), so a slow reader holds one piece, not the blob.
/// A file that ends before `count` bytes ends the stream with an error: the connection is cut
/// rather than a short body passed off as the blob.
fn file_stream(
    reader: impl AsyncRead + Unpin + Send + 'static,
    count: u64,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold((reader, count), |(mut reader, left)| async move {
        if left == 0 {
            return None;
        }
        let mut piece = vec![0u8; STREAM_CHUNK_BYTES.min(usize::try_from(left).unwrap_or(usize::MAX))];
        match reader.read(&mut piece).await {
            Ok(0) => Some((
                Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "blob file ended early")),
                (reader, 0),
            )),
            Ok(n) => {
                piece.truncate(n);
                Some((Ok(Bytes::from(piece)), (reader, left - n as u64)))
            }
            Err(e) => Some((Err(e), (reader, 0))),
        }
    })
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `len`.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        (false, false) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len - 1)),
        (false, true) => (a.parse().ok()?, len - 1),
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (true, true) => return None,
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse_and_nonsense_is_refused() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 99, 1000)));
        assert_eq!(parse_content_range("bytes 100-99/1000"), None);
        assert_eq!(parse_content_range("bytes 0-1000/1000"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
    }
}
