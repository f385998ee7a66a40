//! The managers' web console (docs/console.md): server-rendered HTML pages for supervisors and
//! admins at `/console`, served by the relay itself. No script runs in the page (the
//! Content-Security-Policy forbids every script), charts are SVG drawn on the server, and the
//! only asset is the stylesheet compiled into the binary, so the console works with no internet.
//!
//! Sign-in ([`auth`]) takes a user id and either the password an admin set (Argon2id) or a
//! one-time code from `fieldsync admin console-code`; reps are refused. A session is a random
//! token in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), stored hashed; every form
//! carries the session's CSRF token; five failed sign-ins in 15 minutes lock the account for 15
//! minutes. Every page checks the session's user, role, tenant and team on the server.

mod admin_pages;
pub mod auth;
mod import;
mod pages;
mod rules;
mod svg;
mod visits;

pub use pages::{StageLine, funnel_api, funnel_of};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::http::app::AppState;
use crate::storage::Role;

/// The stylesheet, compiled in.
const CSS: &str = include_str!("console.css");

/// Every console response's security headers: no script at all, styles and images from the
/// relay only, forms posting back to it only, never framed, nothing cached or referred.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, under `/console`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route("/console/console.css", get(stylesheet))
        .route("/console/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/console/sign-out", post(auth::sign_out))
        .route("/console/funnel", get(pages::funnel))
        .route("/console/funnel/{stage}", get(pages::stage))
        .route("/console/deals/{deal_id}", get(pages::deal))
        .route("/console/stalls", get(pages::stalls))
        .route("/console/scoreboard", get(pages::scoreboard))
        .route("/console/visits", get(visits::visits))
        .route("/console/visits/{visit_id}", get(visits::visit))
        .route("/console/visits/{visit_id}/blob/{sha}", get(visits::visit_blob))
        .route(
            "/console/import",
            get(import::import_page)
                .post(import::import)
                .layer(axum::extract::DefaultBodyLimit::max(import::MAX_IMPORT_BYTES)),
        )
        .route("/console/rules", get(rules::rules).post(rules::save))
        .route("/console/rules/sandbox", post(rules::try_sandbox))
        .route("/console/review", get(admin_pages::review).post(admin_pages::decide))
        .route("/console/people", get(admin_pages::people))
        .route("/console/people/code", post(admin_pages::new_code))
        .route("/console/people/revoke", post(admin_pages::revoke))
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        CSS,
    )
        .into_response()
}

/// Who is signed in, as every page reads it (checked against storage on every request).
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// The user.
    pub user_id: String,
    /// Their name.
    pub name: String,
    /// Supervisor or admin.
    pub role: Role,
    /// Their tenant.
    pub tenant_id: String,
    /// Their team: the scope of every page.
    pub team_id: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The navigation: 漏斗, 停滞, 拜访, 业绩, 规则, 查重, 导入, 人员.
const NAV: &[(&str, &str, &str)] = &[
    ("/console/funnel", "漏斗", "Funnel"),
    ("/console/stalls", "停滞", "Stalls"),
    ("/console/visits", "拜访", "Visits"),
    ("/console/scoreboard", "业绩", "Scoreboard"),
    ("/console/rules", "规则", "Rules"),
    ("/console/review", "查重", "Review"),
    ("/console/import", "导入", "Import"),
    ("/console/people", "人员", "People"),
];

/// A whole page: the shell around `body`, for `user` when signed in.
pub fn page(title: &str, user: Option<&ConsoleUser>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · fieldsync" }
                link rel="stylesheet" href="/console/console.css";
                // No favicon request: the relay serves none.
                link rel="icon" href="data:,";
            }
            body {
                header.top {
                    span.brand { "fieldsync" }
                    @if let Some(user) = user {
                        nav aria-label="主导航 Main" {
                            @for (href, zh, en) in NAV {
                                a href=(href) { (zh) span.en { (en) } }
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            span.who { (user.name) " · " (role_label(user.role)) }
                            button type="submit" { "退出 Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Rep => "销售 rep",
        Role::Supervisor => "主管 supervisor",
        Role::Admin => "管理员 admin",
    }
}

/// Admins only: `what` names the action in the refusal.
pub fn admin_only(user: &ConsoleUser, what: &str) -> Result<(), PageError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(PageError::new(StatusCode::FORBIDDEN, format!("只有管理员可以{what} · Admins only")))
    }
}

/// An HTML response.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
        markup.into_string(),
    )
        .into_response()
}

/// A page that could not be shown: its status and why, as a page.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// A page with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError { status, message: message.into() }
    }

    /// 404: another team's record and a missing one look the same.
    pub fn not_found() -> Self {
        PageError::new(StatusCode::NOT_FOUND, "没有这条记录 · No such record (or not your team's)")
    }

    /// 500, with the detail in the log only.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "console page failed");
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "出错了 · Something went wrong; it was logged")
    }
}

impl From<crate::http::error::ApiError> for PageError {
    fn from(api: crate::http::error::ApiError) -> Self {
        if api.status.is_server_error() {
            return PageError::internal(api.message);
        }
        PageError::new(api.status, api.message)
    }
}

impl From<crate::storage::StorageError> for PageError {
    fn from(e: crate::storage::StorageError) -> Self {
        PageError::internal(e)
    }
}

impl From<crate::relay::RelayError> for PageError {
    fn from(e: crate::relay::RelayError) -> Self {
        crate::http::error::ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("error");
        respond(
            self.status,
            page(
                title,
                None,
                html! {
                    h1 { (self.status.as_u16()) " " (title) }
                    p.problem role="alert" { (self.message) }
                    p { a href="/console/funnel" { "返回 · Back" } }
                },
            ),
        )
    }
}
