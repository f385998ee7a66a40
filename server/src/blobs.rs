//! Content-addressed blobs (photos, thumbnails, signatures): resumable uploads (`PUT` with
//! `Content-Range`, `HEAD` for the stored offset), SHA-256 verified on completion, stored once
//! per tenant, read back with `GET` and `Range` (DESIGN §5).
//!
//! Layout under the data directory: `blobs/<tenant>/<aa>/<sha256>` for complete blobs, and
//! `blobs/<tenant>/partial/<sha256>` plus `<sha256>.length` while an upload is in progress.
//! The bytes a dropped connection already delivered stay in the partial file; `HEAD` tells the
//! device where to resume.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::app::AppState;
use crate::auth::Device;
use crate::error::ApiError;

/// Blob storage on disk.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    max_blob_bytes: u64,
    uploading: Mutex<HashSet<(String, String)>>,
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

    fn complete_path(&self, tenant: &str, sha: &str) -> PathBuf {
        self.root.join(tenant).join(&sha[..2]).join(sha)
    }

    fn partial_path(&self, tenant: &str, sha: &str) -> PathBuf {
        self.root.join(tenant).join("partial").join(sha)
    }

    fn length_path(&self, tenant: &str, sha: &str) -> PathBuf {
        self.root.join(tenant).join("partial").join(format!("{sha}.length"))
    }
}

/// Holds the per-blob upload lock until dropped.
struct UploadGuard<'a> {
    store: &'a BlobStore,
    key: (String, String),
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
    match file_len(&blobs.partial_path(&scope.tenant_id, &sha)).await? {
        Some(offset) => {
            let total = tokio::fs::read_to_string(blobs.length_path(&scope.tenant_id, &sha))
                .await
                .ok()
                .and_then(|s| s.trim().parse().ok());
            Ok(offset_response(StatusCode::OK, offset, total, false))
        }
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "blob_not_found", format!("no blob {sha}"))),
    }
}

/// `PUT /v1/blobs/{sha256}`: appends a chunk at the stored offset; verifies on the last one.
pub async fn put(
    State(state): State<AppState>,
    Device(scope): Device,
    UrlPath(sha): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
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
    let blobs: &Arc<BlobStore> = &state.blobs;
    let complete = blobs.complete_path(&scope.tenant_id, &sha);
    if let Some(len) = file_len(&complete).await? {
        return Ok(offset_response(StatusCode::OK, len, Some(len), true)); // deduplicated
    }
    let (start, end, total) = match headers.get(header::CONTENT_RANGE) {
        Some(v) => v.to_str().ok().and_then(parse_content_range).ok_or_else(|| {
            ApiError::bad_request("bad_content_range", "Content-Range must be `bytes START-END/TOTAL`")
        })?,
        None => {
            let len = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| {
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
    let key = (scope.tenant_id.clone(), sha.clone());
    if !blobs.uploading.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "upload_in_progress",
            "another upload of this blob is running",
        ));
    }
    let _guard = UploadGuard { store: blobs, key };

    let partial = blobs.partial_path(&scope.tenant_id, &sha);
    let length_file = blobs.length_path(&scope.tenant_id, &sha);
    if let Some(parent) = partial.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    let offset = file_len(&partial).await?.unwrap_or(0);
    match tokio::fs::read_to_string(&length_file).await.ok().and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(known) if known != total => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "length_mismatch",
                format!("this upload was started with length {known}"),
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
        return Ok(response);
    }

    let expected = end - start + 1;
    let mut file =
        tokio::fs::OpenOptions::new().create(true).append(true).open(&partial).await.map_err(io_error)?;
    let mut written = 0u64;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        // A dropped connection ends here: what was written stays for the resume.
        let Ok(frame) = frame else { break };
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
        return Ok(offset_response(StatusCode::OK, offset, Some(total), false));
    }

    let actual = hash_file(&partial).await.map_err(io_error)?;
    if actual != sha {
        let _ = tokio::fs::remove_file(&partial).await;
        let _ = tokio::fs::remove_file(&length_file).await;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            format!("the uploaded bytes hash to {actual}, not {sha}; upload again from 0"),
        ));
    }
    if let Some(parent) = complete.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    tokio::fs::rename(&partial, &complete).await.map_err(io_error)?;
    let _ = tokio::fs::remove_file(&length_file).await;
    tracing::info!(tenant = %scope.tenant_id, blob = %sha, bytes = total, "blob stored");
    Ok(offset_response(StatusCode::CREATED, total, Some(total), true))
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
    let mut file = tokio::fs::File::open(&path).await.map_err(io_error)?;
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(io_error)?;
    let mut bytes = vec![0u8; (end + 1 - start) as usize];
    file.read_exact(&mut bytes).await.map_err(io_error)?;
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
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
