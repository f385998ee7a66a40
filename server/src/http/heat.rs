//! `GET /v1/customers/heat?tag=X&limit=N` (docs/protocol.md, docs/heat-tags.md): the team's
//! customers with their heat tags, for supervisors and admins. The heat is computed when asked
//! by [`crate::relay::heat`], with the phones' rule.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use fieldsync_core::heat::{HeatFilter, HeatLevel};
use fieldsync_core::{Clock as _, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::app::{AppState, supervisor_only};
use crate::http::auth::Device;
use crate::http::error::ApiError;
use crate::relay::heat::{CustomerHeat, team_heat};

/// Most customers one request returns.
const MAX_CUSTOMERS: u32 = 5_000;

/// The heat routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/customers/heat", get(customers_heat))
}

/// `GET /v1/customers/heat` query: `tag` is a level (`hot`, `warm`, `cold`) or a tag name; all
/// customers without it.
#[derive(Debug, Deserialize)]
struct HeatQuery {
    tag: Option<String>,
    limit: Option<u32>,
}

async fn customers_heat(
    State(state): State<AppState>,
    Device(scope): Device,
    query: Result<Query<HeatQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    supervisor_only(&scope, "customer heat lists")?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let filter = query
        .tag
        .as_deref()
        .map(HeatFilter::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
    let limit = query.limit.unwrap_or(500);
    if limit == 0 || limit > MAX_CUSTOMERS {
        return Err(ApiError::bad_request("bad_request", format!("limit must be 1 to {MAX_CUSTOMERS}")));
    }
    let storage = state.relay.storage().clone();
    let now = SystemClock.now_ms();
    let found = tokio::task::spawn_blocking(move || team_heat(storage.as_ref(), &scope.team_id, filter, now))
        .await
        .map_err(ApiError::internal)??;
    let total = found.len();
    let customers: Vec<Value> = found.iter().take(limit as usize).map(customer_json).collect();
    Ok(Json(json!({ "tag": query.tag, "total": total, "customers": customers })))
}

/// One customer as the endpoint lists it.
pub fn customer_json(c: &CustomerHeat) -> Value {
    let level: HeatLevel = c.heat.level;
    json!({
        "customer_id": c.customer_id.to_string(),
        "company_name": c.company_name,
        "level": level.as_str(),
        "level_label": level.label_zh(),
        "tags": c.heat.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "tag_labels": c.heat.tags.iter().map(|t| t.label_zh()).collect::<Vec<_>>(),
        "last_touch_at": c.heat.last_touch_at,
    })
}
