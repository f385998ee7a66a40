//! `GET /v1/alerts/stream`: Server-Sent Events for apps in the foreground. Each alert fanned out
//! for the caller's team and role arrives as `event: alert`, `id: <alert id hex>`, `data: <the
//! payload JSON>` (what `fieldsync_core::funnel::payload::decode` reads); a comment every
//! `push.stream_keepalive_secs` keeps proxies from closing the connection. A client too slow to
//! keep up gets `event: lagged` with the number of alerts it missed (they reach it through sync).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use base64::Engine as _;
use tokio::sync::{broadcast, watch};

use super::StreamAlert;
use crate::http::app::AppState;
use crate::http::auth::Device;
use crate::http::error::ApiError;
use crate::storage::DeviceScope;

struct Listener {
    alerts: broadcast::Receiver<StreamAlert>,
    stopping: watch::Receiver<bool>,
    scope: DeviceScope,
}

/// The SSE event for an alert, if the listener may see it.
fn event_for(alert: &StreamAlert, scope: &DeviceScope) -> Option<Event> {
    if alert.team_id != scope.team_id || !alert.level.recipients().contains(&scope.role) {
        return None;
    }
    let event = Event::default().event("alert").id(hex::encode(alert.alert_id));
    Some(match std::str::from_utf8(&alert.payload) {
        Ok(json) if !json.contains(['\n', '\r']) => event.data(json),
        // Payloads are compact JSON; anything else goes as base64 rather than broken lines.
        _ => {
            event.event("alert-base64").data(base64::engine::general_purpose::STANDARD.encode(&alert.payload))
        }
    })
}

/// The stream handler.
pub async fn alerts(
    State(state): State<AppState>,
    Device(scope): Device,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    crate::http::app::supervisor_only(&scope, "alert streams")?;
    let listener =
        Listener { alerts: state.deliverer.subscribe(), stopping: state.deliverer.stopping(), scope };
    let stream = futures_util::stream::unfold(listener, |mut l| async move {
        loop {
            if *l.stopping.borrow() {
                return None;
            }
            tokio::select! {
                received = l.alerts.recv() => match received {
                    Ok(alert) => {
                        if let Some(event) = event_for(&alert, &l.scope) {
                            return Some((Ok(event), l));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        return Some((Ok(Event::default().event("lagged").data(missed.to_string())), l));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = l.stopping.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    });
    let keep_alive = KeepAlive::new().interval(Duration::from_secs(state.config.push.stream_keepalive_secs));
    Ok(Sse::new(stream).keep_alive(keep_alive))
}
