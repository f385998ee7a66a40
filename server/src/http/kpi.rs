//! `GET /v1/kpi?period=P` and `POST /v1/incentive/sandbox` (docs/protocol.md, docs/kpi.md): a
//! team's figures from proven work and the strategy sandbox (策略沙盒), computed when asked by
//! [`crate::relay::kpi`] with the phones' own functions. Reps see their own figures and the
//! team's aggregates; supervisors and admins see every rep of their team.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldsync_core::kpi::rules::MAX_SANDBOX_YEARS;
use fieldsync_core::kpi::{Date, IncentiveRules, Period, PeriodKind, sandbox};
use fieldsync_core::{Clock as _, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::app::{AppState, supervisor_only};
use crate::http::auth::Device;
use crate::http::error::ApiError;
use crate::relay::kpi::{TeamKpi, board_of, context, team_rules};
use crate::storage::Role;

/// The KPI routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/kpi", get(kpi)).route("/v1/incentive/sandbox", post(sandbox_route))
}

/// `GET /v1/kpi` query: the period (`2026-W49`, `2026-11`, `2026-Q4`); this month by default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KpiQuery {
    period: Option<String>,
}

async fn kpi(
    State(state): State<AppState>,
    Device(scope): Device,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let relay = state.relay.clone();
    let now = SystemClock.now_ms();
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let rules = team_rules(relay.storage().as_ref(), &scope.team_id)?;
        let offset = context(&rules, now).calendar.utc_offset_minutes;
        let today = Date::of_instant(now, offset);
        let period = match query.period.as_deref() {
            None => Period::containing(PeriodKind::Month, today),
            Some(text) => text
                .parse::<Period>()
                .map_err(|e| ApiError::bad_request("bad_period", format!("period {text:?}: {e}")))?,
        };
        if period.first_day() > today {
            return Err(ApiError::bad_request(
                "bad_period",
                format!("period {period} has not begun (today is {today} team time)"),
            ));
        }
        let (lo, hi) = period.span_ms(offset);
        let team = TeamKpi { index: relay.team_rows(&scope.team_id, lo, hi)?, rules };
        let board = board_of(&team, period, now);
        let payouts = board.payouts.as_ref().ok();
        let why_no_payout = board.payouts.as_ref().err();
        if scope.role == Role::Rep {
            let me = board.reps.iter().position(|r| r.facts.rep == scope.user_id);
            return Ok(json!({
                "period": period,
                "rep": scope.user_id,
                "me": me.map(|i| &board.reps[i]),
                "team": board.team,
                "team_reps": board.reps.len(),
                "payout": me.and_then(|i| payouts.map(|p| &p[i])),
                "payout_unavailable": why_no_payout,
            }));
        }
        Ok(json!({
            "period": period,
            "reps": board.reps,
            "team": board.team,
            "payouts": payouts,
            "payout_unavailable": why_no_payout,
        }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(answer))
}

/// `POST /v1/incentive/sandbox` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxBody {
    /// The rules to try (one version, as in the rules document).
    candidate: Value,
    /// How many of the last complete periods of the candidate's kind to evaluate.
    periods: u32,
}

async fn sandbox_route(
    State(state): State<AppState>,
    Device(scope): Device,
    body: Result<Json<SandboxBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    supervisor_only(&scope, "incentive sandboxes")?;
    let Json(body) = body?;
    let candidate: IncentiveRules = serde_json::from_value(body.candidate)
        .map_err(|e| ApiError::bad_request("bad_rules", format!("candidate: {e}")))?;
    candidate.check("candidate").map_err(|e| ApiError::bad_request("bad_rules", e.to_string()))?;
    let relay = state.relay.clone();
    let now = SystemClock.now_ms();
    let report = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let rules = team_rules(relay.storage().as_ref(), &scope.team_id)?;
        let book = rules.rule_book().ok().flatten().ok_or_else(|| {
            ApiError::bad_request("no_rules", "the team has no incentive rules to compare with")
        })?;
        let ctx = context(&rules, now);
        let offset = ctx.calendar.utc_offset_minutes;
        let today = Date::of_instant(now, offset);
        // The last `periods` complete periods: the one running now is not over.
        let periods = last_complete(candidate.period, today, body.periods)?;
        let lo = periods.first().map_or(0, |p| p.span_ms(offset).0);
        let hi = periods.last().map_or(0, |p| p.span_ms(offset).1);
        let index = relay.team_rows(&scope.team_id, lo, hi)?;
        let facts: Vec<_> =
            periods.iter().flat_map(|p| index.team(&ctx, *p)).map(|figures| figures.facts).collect();
        let report = sandbox(&book, &candidate, &facts, periods.len())
            .map_err(|e| ApiError::bad_request("bad_sandbox", e.to_string()))?;
        serde_json::to_value(&report).map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(report))
}

/// The `n` complete periods of `kind` before the one containing `today`, oldest first; at most
/// [`MAX_SANDBOX_YEARS`] years of them (checked before any record is read).
pub(crate) fn last_complete(kind: PeriodKind, today: Date, n: u32) -> Result<Vec<Period>, ApiError> {
    let per_year: i64 = match kind {
        PeriodKind::Week => 53,
        PeriodKind::Month => 12,
        PeriodKind::Quarter => 4,
    };
    let most = per_year * MAX_SANDBOX_YEARS;
    if n == 0 || i64::from(n) > most {
        return Err(ApiError::bad_request(
            "bad_sandbox",
            format!("periods must be 1 to {most} {}s ({MAX_SANDBOX_YEARS} years), not {n}", kind.as_str()),
        ));
    }
    let mut periods = Vec::with_capacity(n as usize);
    let mut p = Period::containing(kind, today).previous();
    for _ in 0..n {
        periods.push(p);
        p = p.previous();
    }
    periods.reverse();
    Ok(periods)
}
