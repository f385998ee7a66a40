//! The relay's HTTP surface: `app(state)` builds the router, so tests drive it in-process with
//! no socket; `serve` binds it, with graceful shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldsync_core::sync::wire::{CONTENT_TYPE, MAX_CHANGES_PER_REQUEST, SyncRequest, WireError};
use http_body_util::BodyExt;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::RelayConfig;
use crate::delivery::Deliverer;
use crate::http::auth::{self, Device};
use crate::http::blobs::{self, BlobStore};
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use crate::relay::{Relay, RelayLimits, ReviewDecision};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{PairStatus, RelayStorage, Role, StorageError};
use fieldsync_core::{Clock as _, SystemClock};

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The sync engine (and through it, storage).
    pub relay: Relay,
    /// Blob files.
    pub blobs: Arc<BlobStore>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Limits.
    pub config: Arc<RelayConfig>,
    /// Woken after the scheduler raised alerts (the deliverer waits on it).
    pub alerts_raised: Arc<tokio::sync::Notify>,
    /// Delivers alerts (Web Push, FCM, APNs, live stream); the scheduler calls `notify()`.
    pub deliverer: Deliverer,
    /// Rate limits per device and per client address.
    pub limiter: Arc<crate::http::limits::RateLimiter>,
    last_touch: Arc<Mutex<HashMap<[u8; 16], i64>>>,
}

impl AppState {
    /// State over an existing storage backend.
    pub fn new(storage: Arc<dyn RelayStorage>, config: RelayConfig) -> Result<Self, StorageError> {
        let metrics = Arc::new(Metrics::default());
        let limits = RelayLimits {
            document_cache: config.document_cache,
            max_response_bytes: config.max_response_bytes,
            kpi_upkeep: config.kpi_upkeep,
            ..RelayLimits::default()
        };
        let relay = Relay::start(storage, limits, metrics.clone())
            .map_err(|e| StorageError::Backend(format!("cannot start the relay's writer thread: {e}")))?;
        let alerts_raised = Arc::new(tokio::sync::Notify::new());
        let deliverer = Deliverer::start(
            relay.storage().clone(),
            &config.push,
            &config.data_dir,
            metrics.clone(),
            alerts_raised.clone(),
        )
        .map_err(|e| StorageError::Backend(format!("cannot start alert delivery: {e}")))?;
        Ok(AppState {
            relay,
            blobs: Arc::new(BlobStore::new(&config.data_dir, config.max_blob_bytes)),
            limiter: Arc::new(crate::http::limits::RateLimiter::new(config.rate_limits.clone())),
            metrics,
            config: Arc::new(config),
            alerts_raised,
            deliverer,
            last_touch: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// State over the embedded SQLite storage in `config.data_dir`.
    pub fn open(config: RelayConfig) -> Result<Self, crate::storage::StorageError> {
        let storage = SqliteStorage::open(&config.data_dir)?;
        Self::new(Arc::new(storage), config)
    }
}

/// The relay's router.
pub fn app(state: AppState) -> Router {
    let sync_limit = state.config.max_sync_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    // Body limits (docs/operations.md, "Limits and memory budget"): the sync handler reads its
    // body itself within `max_sync_body_bytes` and a shared budget; enrollment is a few hundred
    // bytes from anyone, so it gets a small limit of its own; a blob PUT streams to disk and
    // enforces `max_blob_chunk_bytes` frame by frame.
    let sync_routes = Router::new()
        .route("/v1/sync", post(sync).layer(Extension(SyncBudget::new(sync_limit))))
        .layer(DefaultBodyLimit::max(sync_limit));
    let enroll_routes = Router::new()
        .route("/v1/enroll", post(auth::enroll))
        .layer(DefaultBodyLimit::max(auth::MAX_ENROLL_BODY_BYTES));
    let blob_routes =
        Router::new().route("/v1/blobs/{sha256}", get(blobs::get).head(blobs::head).put(blobs::put));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/flags", get(flags))
        .route("/v1/alerts", get(alerts))
        .route("/v1/briefs", get(briefs))
        .route("/v1/review", get(review_queue).post(review_decide))
        .route("/v1/documents/{doc_id}", get(document_snapshot))
        .route("/v1/customers/{customer_id}/documents", get(customer_documents))
        .route("/v1/repair", post(repair_log))
        .route("/v1/admin/transfer", post(transfer_customers))
        .merge(sync_routes)
        .merge(enroll_routes)
        .merge(blob_routes)
        .merge(crate::delivery::routes::routes())
        .merge(crate::http::heat::routes())
        .merge(crate::http::kpi::routes())
        .route("/v1/funnel", get(crate::http::console::funnel_api))
        .merge(crate::http::console::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no_such_endpoint", "see docs/protocol.md for the endpoints")
        })
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        // Outside the timeout and every body limit, so their answers get the JSON shape too.
        .layer(middleware::from_fn(crate::http::error::json_error_bodies))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record_http(response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let storage = state.relay.storage().clone();
    let documents =
        tokio::task::spawn_blocking(move || storage.document_count()).await.map_err(ApiError::internal)??;
    Ok(Json(json!({ "status": "ok", "documents": documents })))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let storage = state.relay.storage().clone();
    let (documents, deliveries) =
        tokio::task::spawn_blocking(move || (storage.document_count().ok(), storage.delivery_counts().ok()))
            .await
            .unwrap_or((None, None));
    let mut text = state.metrics.render(documents);
    if let Some(counts) = deliveries {
        text.push_str(&crate::metrics::render_push_deliveries(counts));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /v1/flags`: the team's flagged documents (signed slips that do not verify), newest
/// first, for supervisors and admins.
/// `GET /v1/alerts`: the team's stall alerts, newest first, each as its push payload (the same
/// JSON the phones decode). Supervisors and admins only.
async fn alerts(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Json<serde_json::Value>, ApiError> {
    supervisor_only(&scope, "alerts")?;
    let relay = state.relay.clone();
    let team = scope.team_id.clone();
    let alerts = tokio::task::spawn_blocking(move || relay.team_alerts(&team, 500))
        .await
        .map_err(ApiError::internal)??;
    let alerts: Vec<serde_json::Value> =
        alerts.into_iter().filter_map(|(_, payload)| serde_json::from_slice(&payload).ok()).collect();
    Ok(Json(json!({ "alerts": alerts })))
}

/// `GET /v1/briefs`: the team's weekly briefs (docs/kpi.md), newest first, as their payloads.
async fn briefs(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Json<serde_json::Value>, ApiError> {
    supervisor_only(&scope, "weekly briefs")?;
    let relay = state.relay.clone();
    let team = scope.team_id.clone();
    let briefs = tokio::task::spawn_blocking(move || relay.team_briefs(&team, 500))
        .await
        .map_err(ApiError::internal)??;
    let briefs: Vec<serde_json::Value> = briefs
        .into_iter()
        .filter_map(|(_, payload)| fieldsync_core::kpi::brief::decode(&payload).ok())
        .filter_map(|b| serde_json::to_value(b).ok())
        .collect();
    Ok(Json(json!({ "briefs": briefs })))
}

async fn flags(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Json<serde_json::Value>, ApiError> {
    supervisor_only(&scope, "flagged documents")?;
    let storage = state.relay.storage().clone();
    let team = scope.team_id.clone();
    let flags = tokio::task::spawn_blocking(move || storage.document_flags(&team, 500))
        .await
        .map_err(ApiError::internal)??;
    let flags: Vec<serde_json::Value> = flags
        .into_iter()
        .map(|f| {
            json!({
                "doc_id": f.doc_id.to_string(),
                "kind": f.kind,
                "code": f.code,
                "message": f.message,
                "device_id": fieldsync_core::DeviceId::from_bytes(f.device_id).to_string(),
                "flagged_at": f.flagged_at,
            })
        })
        .collect();
    Ok(Json(json!({ "flags": flags })))
}

/// 403 for reps: `what` is for supervisors and admins.
pub(crate) fn supervisor_only(scope: &crate::storage::DeviceScope, what: &str) -> Result<(), ApiError> {
    if scope.role == Role::Rep {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{what} are for supervisors and admins"),
        ));
    }
    Ok(())
}

/// `GET /v1/review`: possible duplicate customers waiting for a supervisor, oldest first, each
/// with both records' names and phones; and the scalars that differed in recent merges.
async fn review_queue(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Json<serde_json::Value>, ApiError> {
    supervisor_only(&scope, "duplicate reviews")?;
    let storage = state.relay.storage().clone();
    let team = scope.team_id.clone();
    let (pairs, conflicts) = tokio::task::spawn_blocking(move || {
        let pairs = storage.pairs(&team, PairStatus::Pending, 200)?;
        let describe = |id: fieldsync_core::DocId| -> Result<serde_json::Value, StorageError> {
            Ok(match storage.customer_key(id)? {
                Some(row) => json!({ "id": id.to_string(), "name": row.name, "phones": row.phones }),
                None => json!({ "id": id.to_string() }),
            })
        };
        let pairs = pairs
            .into_iter()
            .map(|p| {
                Ok(json!({
                    "a": describe(p.a)?,
                    "b": describe(p.b)?,
                    "score": p.score,
                    "reasons": p.reasons,
                    "queued_at": p.at,
                }))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let conflicts: Vec<serde_json::Value> = storage
            .merge_conflicts(&team, 200)?
            .into_iter()
            .map(|c| {
                json!({
                    "canonical": c.canonical.to_string(),
                    "duplicate": c.duplicate.to_string(),
                    "field": c.field,
                    "kept": c.kept,
                    "other": c.other,
                    "at": c.at,
                })
            })
            .collect();
        Ok::<_, StorageError>((pairs, conflicts))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(json!({ "pending": pairs, "conflicts": conflicts })))
}

/// The body of `POST /v1/review`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    a: String,
    b: String,
    decision: String,
}

/// `POST /v1/review` `{"a", "b", "decision": "merge" | "not_same"}`: a supervisor's answer,
/// remembered for good.
async fn review_decide(
    State(state): State<AppState>,
    Device(scope): Device,
    body: Result<Json<ReviewBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    supervisor_only(&scope, "duplicate reviews")?;
    let Json(body) = body.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let id = |s: &str| {
        s.parse::<fieldsync_core::DocId>()
            .map_err(|e| ApiError::bad_request("bad_request", format!("{s:?} is not a document id: {e}")))
    };
    let (a, b) = (id(&body.a)?, id(&body.b)?);
    let decision = match body.decision.as_str() {
        "merge" => ReviewDecision::Merge,
        "not_same" => ReviewDecision::NotSame,
        other => {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("decision {other:?} is neither \"merge\" nor \"not_same\""),
            ));
        }
    };
    state.relay.decide_pair(&scope, a, b, decision).await?;
    Ok(Json(json!({ "a": body.a, "b": body.b, "decision": body.decision })))
}

/// `GET /v1/documents/{doc_id}`: the relay's compacted copy of one document of the caller's team
/// (an Automerge save), for a device repairing a document after it quarantined a log entry. The
/// same visibility as sync: reps get no alert documents.
async fn document_snapshot(
    State(state): State<AppState>,
    Device(scope): Device,
    axum::extract::Path(doc_id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let id: fieldsync_core::DocId = doc_id
        .parse()
        .map_err(|e| ApiError::bad_request("bad_request", format!("{doc_id:?} is not a document id: {e}")))?;
    let storage = state.relay.storage().clone();
    let rep = (scope.role == Role::Rep).then(|| scope.user_id.clone());
    let (stored, owned_by_other) = tokio::task::spawn_blocking(move || {
        // As in sync: a rep gets a customer's record, and the follow-ups and lead cards about
        // it, only while they own it (docs/ownership.md).
        let hidden = match rep {
            Some(user) => !storage.rep_may_pull(id, &user)?,
            None => false,
        };
        Ok::<_, crate::storage::StorageError>((storage.load_document(id)?, hidden))
    })
    .await
    .map_err(ApiError::internal)??;
    let visibility = crate::storage::SyncVisibility::for_role(scope.role);
    match stored {
        Some(doc)
            if doc.tenant_id == scope.tenant_id
                && doc.team_id == scope.team_id
                && !visibility.hides(doc.kind.as_str())
                && !owned_by_other =>
        {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], doc.snapshot).into_response())
        }
        // Another team's document and a missing one look the same.
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_document",
            format!("no document {id} in this team"),
        )),
    }
}

/// Document ids one `GET /v1/customers/{id}/documents` page lists at most.
const CUSTOMER_DOCUMENTS_PAGE: u32 = 1_000;

#[derive(serde::Deserialize)]
struct CustomerDocumentsQuery {
    after: Option<String>,
}

/// `GET /v1/customers/{id}/documents[?after=ID]`: the follow-ups and lead cards about one
/// customer of the caller's team (and about the records merged into it), by id, a page at a
/// time: `{"documents": [...], "more": bool}`. A phone whose user gains the customer fetches each
/// with `GET /v1/documents/{id}`, since its pulls left them out while someone else owned it
/// (docs/ownership.md). A rep asking about a customer they do not own gets `no_such_document`.
async fn customer_documents(
    State(state): State<AppState>,
    Device(scope): Device,
    axum::extract::Path(customer): axum::extract::Path<String>,
    query: Result<axum::extract::Query<CustomerDocumentsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let parse = |text: &str| {
        text.parse::<fieldsync_core::DocId>()
            .map_err(|e| ApiError::bad_request("bad_request", format!("{text:?} is not a document id: {e}")))
    };
    let id = parse(&customer)?;
    let axum::extract::Query(query) =
        query.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let after = query.after.as_deref().map(parse).transpose()?;
    let storage = state.relay.storage().clone();
    let rep = (scope.role == Role::Rep).then(|| scope.user_id.clone());
    let found = tokio::task::spawn_blocking(move || {
        let Some(doc) = storage.load_document(id)? else { return Ok(None) };
        let visible = doc.tenant_id == scope.tenant_id
            && doc.team_id == scope.team_id
            && doc.kind == fieldsync_core::model::RecordKind::Customer.as_str()
            && match rep {
                Some(user) => storage.rep_may_pull(id, &user)?,
                None => true,
            };
        if !visible {
            return Ok(None);
        }
        storage.customer_documents(id, after, CUSTOMER_DOCUMENTS_PAGE + 1).map(Some)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e: crate::storage::StorageError| ApiError::from(e))?;
    let Some(mut documents) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_document",
            format!("no customer {id} in this team"),
        ));
    };
    let more = documents.len() > CUSTOMER_DOCUMENTS_PAGE as usize;
    documents.truncate(CUSTOMER_DOCUMENTS_PAGE as usize);
    let ids: Vec<String> = documents.iter().map(ToString::to_string).collect();
    Ok(Json(json!({ "documents": ids, "more": more })))
}

/// `POST /v1/repair`: an admin repairs the team's change log (see `Relay::repair_team_log`);
/// answers the report.
async fn repair_log(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Json<serde_json::Value>, ApiError> {
    if scope.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "repairing the log is for admins"));
    }
    let report = state.relay.repair_team_log(&scope.team_id).await?;
    Ok(Json(serde_json::to_value(report).map_err(ApiError::internal)?))
}

#[derive(serde::Deserialize)]
struct TransferBody {
    from: String,
    to: String,
}

/// `POST /v1/admin/transfer` `{"from": USER, "to": USER}`: an admin moves every customer and open
/// deal of a rep (one leaving) to another rep of the team in one step; history is kept in each
/// customer's ownership document. Answers `{from, to, customers, deals}`.
async fn transfer_customers(
    State(state): State<AppState>,
    Device(scope): Device,
    body: Result<Json<TransferBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if scope.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "transfers are for admins"));
    }
    let Json(body) = body.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    for user in [&body.from, &body.to] {
        if user.is_empty() || user.len() > 100 {
            return Err(ApiError::bad_request("bad_transfer", "a user id is 1–100 characters"));
        }
    }
    let report = state.relay.transfer(&scope, &body.from, &body.to).await?;
    Ok(Json(serde_json::to_value(report).map_err(ApiError::internal)?))
}

/// A compressed sync body may expand to this many times its size (and at least to
/// [`SYNC_EXPANSION_FLOOR`]), never past `max_sync_body_bytes`. The phones' requests are Automerge
/// changes, which are compressed already; only a crafted body expands further (a few kilobytes
/// to tens of megabytes of empty changes), and each expanded byte costs the relay twice.
pub const SYNC_EXPANSION_RATIO: usize = 32;
/// See [`SYNC_EXPANSION_RATIO`].
pub const SYNC_EXPANSION_FLOOR: usize = 64 * 1024;
/// Sync requests in flight may reserve at most this many times `max_sync_body_bytes` in all.
pub const SYNC_BUDGET_BODIES: usize = 4;

/// The memory all sync requests in flight may use for their bodies and decoded changes, shared
/// by the sync route. Each request reserves its worst case before it reads a byte — its body
/// (its Content-Length, or the limit) plus twice what that body may expand to (the payload,
/// then the changes copied out of it) — and holds it until its answer is built. Small syncs
/// reserve little, so many run at once (and the writer merges them); a few maximal ones queue.
#[derive(Clone, Debug)]
struct SyncBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total_kib: u32,
}

impl SyncBudget {
    fn new(max_sync_body_bytes: usize) -> Self {
        let kib = (max_sync_body_bytes.saturating_mul(SYNC_BUDGET_BODIES) / 1024)
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        SyncBudget { kib: Arc::new(tokio::sync::Semaphore::new(kib)), total_kib: kib as u32 }
    }
}

/// What a sync body of (at most) `body_bytes` may cost: its expansion allowance and the
/// reservation in bytes.
fn sync_reservation(body_bytes: usize, limit: usize) -> (usize, usize) {
    let expansion = body_bytes.saturating_mul(SYNC_EXPANSION_RATIO).max(SYNC_EXPANSION_FLOOR).min(limit);
    (expansion, body_bytes.saturating_add(expansion.saturating_mul(2)))
}

/// Why a sync body could not be read.
enum SyncBodyError {
    TooLarge,
    Broken(String),
}

/// Reads the body into one buffer of at most `limit` bytes, sized from Content-Length when
/// there is one (no doubling copies of a large body).
async fn read_sync_body(body: Body, declared: Option<usize>, limit: usize) -> Result<Vec<u8>, SyncBodyError> {
    let mut out = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(limit));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| SyncBodyError::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        let needed = out.len() + data.len();
        if needed > limit {
            return Err(SyncBodyError::TooLarge);
        }
        if needed > out.capacity() {
            // Grow by doubling, but never past the limit.
            out.reserve_exact(needed.max(out.capacity() * 2).min(limit) - out.len());
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// `POST /v1/sync`.
async fn sync(
    State(state): State<AppState>,
    Extension(budget): Extension<SyncBudget>,
    Device(scope): Device,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()) != Some(CONTENT_TYPE.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            format!("sync bodies are {CONTENT_TYPE}"),
        ));
    }
    let limit = state.config.max_sync_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the sync body is larger than {limit} bytes; push fewer changes per request"),
        )
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let body_bytes = declared.unwrap_or(limit);
    let (expansion, reservation) = sync_reservation(body_bytes, limit);
    let kib = u32::try_from(reservation.div_ceil(1024)).unwrap_or(u32::MAX).min(budget.total_kib);
    let _reserved = budget.kib.acquire_many_owned(kib).await.map_err(ApiError::internal)?;

    let body = read_sync_body(body, declared, body_bytes).await.map_err(|e| match e {
        SyncBodyError::TooLarge => too_large(),
        SyncBodyError::Broken(m) => {
            ApiError::bad_request("malformed_body", format!("the body could not be read: {m}"))
        }
    })?;
    let request = SyncRequest::decode_with_limit(&body, expansion).map_err(|e| match e {
        WireError::TooManyChanges { count, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_changes",
            format!(
                "the request carries {count} changes; push at most {MAX_CHANGES_PER_REQUEST} per request"
            ),
        ),
        WireError::PayloadTooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the {}-byte sync body expands to more than {limit} bytes; push fewer changes per request",
                body.len()
            ),
        ),
        e => ApiError::bad_request("malformed_body", e.to_string()),
    })?;
    drop(body);
    let now = SystemClock.now_ms();
    let response = state.relay.sync(&scope, request, now.max(0) as u64).await?;
    touch(&state, scope.device_id, now);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], response.encode()).into_response())
}

/// Records the device's last sync, at most once a minute per device (alerts say how long ago a
/// rep last synced; they do not need it to the second, and a write per no-op sync would cost).
fn touch(state: &AppState, device: [u8; 16], now: i64) {
    {
        let mut last = state.last_touch.lock().unwrap_or_else(|p| p.into_inner());
        if last.get(&device).is_some_and(|&t| now - t < 60_000) {
            return;
        }
        last.insert(device, now);
    }
    let storage = state.relay.storage().clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = storage.touch_device(device, now) {
            tracing::warn!(error = %e, "could not record the device's sync time");
        }
    });
}

/// Binds `config.listen` and serves until Ctrl-C or SIGTERM; in-flight requests finish first.
/// Calls `on_bound` with the actual address (useful with port 0). Connections get the header
/// timeout and caps of the configuration ([`crate::http::connections`]).
pub async fn serve(state: AppState, on_bound: impl FnOnce(std::net::SocketAddr)) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.listen).await?;
    let address = listener.local_addr()?;
    on_bound(address);
    let scheduler = tokio::spawn(run_scheduler(state.clone()));
    let deliverer = state.deliverer.clone();
    let stopped = async move {
        shutdown_signal().await;
        // Ends the live streams (which would hold the shutdown open) and lets attempts in flight finish.
        deliverer.close().await;
    };
    let limits = crate::http::connections::ConnectionLimits {
        header_timeout: Duration::from_secs(state.config.header_timeout_secs),
        max_connections: state.config.max_connections,
        max_connections_per_ip: state.config.max_connections_per_ip,
    };
    let metrics = state.metrics.clone();
    let served = crate::http::connections::serve(listener, app(state), limits, metrics, stopped).await;
    scheduler.abort();
    served
}

/// The stall scheduler's loop: a tick every `scheduler_interval_secs` on the system clock, again
/// at once while a tick finds more due deals than its batch; wakes `alerts_raised` listeners
/// (delivery) when alerts were written.
pub async fn run_scheduler(state: AppState) {
    let every = state.config.scheduler_interval_secs;
    if every == 0 {
        return;
    }
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(every));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        loop {
            match state.relay.tick(SystemClock.now_ms(), state.config.scheduler_batch).await {
                Ok(report) => {
                    if report.raised > 0 {
                        tracing::info!(raised = report.raised, held = report.held, "stall alerts raised");
                        state.alerts_raised.notify_waiters();
                    }
                    if !report.more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "scheduler tick failed; retrying at the next interval");
                    break;
                }
            }
        }
        match state.relay.brief_tick(SystemClock.now_ms()).await {
            Ok(0) => {}
            Ok(written) => {
                tracing::info!(written, "weekly briefs written");
                state.alerts_raised.notify_waiters();
            }
            Err(e) => tracing::error!(error = %e, "weekly briefs failed; retrying at the next interval"),
        }
        match state.relay.scoreboard_tick(SystemClock.now_ms()).await {
            Ok(0) => {}
            Ok(written) => tracing::info!(written, "scoreboards written"),
            Err(e) => tracing::error!(error = %e, "scoreboards failed; retrying at the next interval"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
