//! The push endpoints (docs/protocol.md): supervisors' and admins' devices register where their
//! alerts go, read the delivery log, and open the live stream.
//!
//! - `GET /v1/push/vapid`: the VAPID public key (`applicationServerKey`) and the providers;
//! - `POST /v1/push/subscriptions`: register a Web Push subscription (W3C JSON) or, with
//!   `"provider": "fcm" | "apns"`, a registration / device `token`; an address another active
//!   device registered is refused (409 `subscription_in_use`), never moved to the caller;
//! - `GET /v1/push/subscriptions`: the calling device's subscriptions;
//! - `DELETE /v1/push/subscriptions/{id}`: unregister (the device that registered it, or an
//!   admin of its team);
//! - `GET /v1/push/deliveries?limit=N`: the team's delivery log, newest first;
//! - `GET /v1/alerts/stream`: Server-Sent Events ([`super::stream`]).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use fieldsync_core::push::PushSubscription;
use fieldsync_core::{Clock as _, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::app::{AppState, supervisor_only};
use crate::http::auth::Device;
use crate::http::error::ApiError;
use crate::storage::push::{Id16, NewPushSubscription, ProviderKind, PushSubscriptionRow};
use crate::storage::{DeviceScope, Role, StorageError};

/// Largest subscription body: an endpoint is at most 2 KB, an FCM token 4 KB.
const MAX_SUBSCRIPTION_BODY: usize = 16 * 1024;
/// Most log lines one request returns.
const MAX_LOG_LINES: u32 = 1000;

/// The push routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/push/vapid", get(vapid))
        .route("/v1/push/subscriptions", get(list).post(register))
        .route("/v1/push/subscriptions/{id}", delete(unregister))
        .route("/v1/push/deliveries", get(deliveries))
        .route("/v1/alerts/stream", get(super::stream::alerts))
        .layer(DefaultBodyLimit::max(MAX_SUBSCRIPTION_BODY))
}

fn bad_subscription(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_subscription", message)
}

fn describe(row: &PushSubscriptionRow) -> Value {
    json!({
        "subscription_id": hex::encode(row.subscription_id),
        "provider": row.provider.as_str(),
        "address": row.address,
        "created_at": row.created_at,
    })
}

async fn vapid(State(state): State<AppState>, Device(_): Device) -> Json<Value> {
    let providers: Vec<&str> = state.deliverer.providers().iter().map(|p| p.as_str()).collect();
    Json(json!({ "public_key": state.deliverer.vapid_public_key(), "providers": providers }))
}

/// Reads and checks a registration body.
fn parse_subscription(
    state: &AppState,
    scope: &DeviceScope,
    body: &[u8],
) -> Result<NewPushSubscription, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad_subscription("the body is not UTF-8 JSON"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        bad_subscription(format!(
            "the body is not JSON: {e}; send {{\"endpoint\", \"keys\": {{\"p256dh\", \"auth\"}}}} or {{\"provider\": \"fcm\" | \"apns\", \"token\"}}"
        ))
    })?;
    let provider = match value.get("provider") {
        None | Some(Value::Null) => ProviderKind::WebPush,
        Some(Value::String(name)) => ProviderKind::parse(name).ok_or_else(|| {
            bad_subscription(format!("provider {name:?} is not one of \"webpush\", \"fcm\", \"apns\""))
        })?,
        Some(_) => return Err(bad_subscription("provider must be a string")),
    };
    if !state.deliverer.providers().contains(&provider) {
        return Err(ApiError::bad_request(
            "provider_not_configured",
            format!("this relay does not deliver through {}; use Web Push", provider.as_str()),
        ));
    }
    let mut new = NewPushSubscription {
        device_id: scope.device_id,
        user_id: scope.user_id.clone(),
        team_id: scope.team_id.clone(),
        provider,
        address: String::new(),
        p256dh: None,
        auth: None,
    };
    match provider {
        ProviderKind::WebPush => {
            let subscription = PushSubscription::from_json(text, state.config.push.endpoint_security())
                .map_err(|e| bad_subscription(e.to_string()))?;
            new.address = subscription.endpoint().as_str().to_owned();
            new.p256dh = Some(subscription.keys().p256dh());
            new.auth = Some(*subscription.keys().auth());
        }
        ProviderKind::Fcm | ProviderKind::Apns => {
            let token = value
                .get("token")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad_subscription(format!("a {} subscription needs a \"token\" string", provider.as_str()))
                })?
                .trim();
            let checked = match provider {
                ProviderKind::Fcm => super::fcm::check_token(token),
                _ => super::apns::check_token(token),
            };
            checked.map_err(bad_subscription)?;
            new.address = token.to_owned();
        }
    }
    Ok(new)
}

async fn register(
    State(state): State<AppState>,
    Device(scope): Device,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    supervisor_only(&scope, "push subscriptions")?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("a subscription is at most {MAX_SUBSCRIPTION_BODY} bytes"),
            )
        } else {
            bad_subscription(e.body_text())
        }
    })?;
    let new = parse_subscription(&state, &scope, &body)?;
    let storage = state.relay.storage().clone();
    let stored = new.clone();
    let id =
        tokio::task::spawn_blocking(move || storage.add_push_subscription(&stored, SystemClock.now_ms()))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| match e {
                // Another active device holds this address: refused, its row stays as it was.
                StorageError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "subscription_in_use", m),
                other => other.into(),
            })?;
    tracing::info!(subscription = %hex::encode(id), provider = new.provider.as_str(), user = %scope.user_id, "push subscription registered");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "subscription_id": hex::encode(id), "provider": new.provider.as_str(), "address": new.address }),
        ),
    ))
}

async fn list(State(state): State<AppState>, Device(scope): Device) -> Result<Json<Value>, ApiError> {
    let storage = state.relay.storage().clone();
    let rows = tokio::task::spawn_blocking(move || storage.device_push_subscriptions(scope.device_id))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({ "subscriptions": rows.iter().map(describe).collect::<Vec<_>>() })))
}

fn parse_id(text: &str) -> Result<Id16, ApiError> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(text, &mut id).map_err(|_| {
        ApiError::bad_request("bad_request", format!("{text:?} is not a subscription id (32 hex characters)"))
    })?;
    Ok(id)
}

async fn unregister(
    State(state): State<AppState>,
    Device(scope): Device,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let storage = state.relay.storage().clone();
    let removed = tokio::task::spawn_blocking(move || {
        let row = storage.push_subscription(id)?;
        let allowed = row.is_some_and(|row| {
            row.device_id == scope.device_id || (scope.role == Role::Admin && row.team_id == scope.team_id)
        });
        if !allowed {
            return Ok(false);
        }
        storage.remove_push_subscription(id, "unregistered by its device or an admin", SystemClock.now_ms())
    })
    .await
    .map_err(ApiError::internal)??;
    if !removed {
        // Someone else's subscription looks the same as one that does not exist.
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_subscription",
            "no such subscription of this device",
        ));
    }
    Ok(Json(json!({ "removed": hex::encode(id) })))
}

/// `GET /v1/push/deliveries` query.
#[derive(Debug, Deserialize)]
struct LogQuery {
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    Device(scope): Device,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    supervisor_only(&scope, "delivery logs")?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let limit = query.limit.unwrap_or(200);
    if limit == 0 || limit > MAX_LOG_LINES {
        return Err(ApiError::bad_request("bad_request", format!("limit must be 1 to {MAX_LOG_LINES}")));
    }
    let storage = state.relay.storage().clone();
    let log = tokio::task::spawn_blocking(move || storage.delivery_log(&scope.team_id, limit))
        .await
        .map_err(ApiError::internal)??;
    let log: Vec<Value> = log
        .into_iter()
        .map(|e| {
            json!({
                "alert_id": hex::encode(e.alert_id),
                "subscription_id": hex::encode(e.subscription_id),
                "provider": e.provider.as_str(),
                "attempt": e.attempt,
                "status": e.status,
                "outcome": e.outcome,
                "error": e.error,
                "at": e.at,
            })
        })
        .collect();
    Ok(Json(json!({ "deliveries": log })))
}
