//! Console sign-in, sessions and CSRF (docs/console.md, "Sign-in").
//!
//! - A session token is 32 random bytes in the `fs_console` cookie (HttpOnly, SameSite=Strict,
//!   Path=/console, Secure when the relay is reached over TLS through a proxy that says so with
//!   `X-Forwarded-Proto: https`), stored as its SHA-256, for 8 hours.
//! - Every form posts the session's CSRF token; the sign-in form, which has no session yet, a
//!   token it also set as a cookie (double submit).
//! - A user id and a secret: the secret is one of the user's unused one-time codes (hashed) or
//!   their password (Argon2id). Five failures within 15 minutes lock the account for 15 minutes,
//!   whatever the secret tried next. Reps are refused with a valid secret too.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::rejection::FormRejection};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ConsoleUser, PageError, page, respond};
use crate::http::app::AppState;
use crate::storage::Role;

/// The session cookie.
pub const SESSION_COOKIE: &str = "fs_console";
/// The sign-in form's CSRF cookie.
const SIGN_IN_COOKIE: &str = "fs_console_signin";
/// How long a session lasts.
pub const SESSION_MS: i64 = 8 * 3_600_000;
/// Failed sign-ins that lock an account …
pub const LOCKOUT_FAILURES: u32 = 5;
/// … within this window …
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60_000;
/// … for this long.
pub const LOCKOUT_MS: i64 = 15 * 60_000;
/// How long a one-time sign-in code is valid.
pub const CODE_MS: i64 = 24 * 3_600_000;

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> Result<String, PageError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(PageError::internal)?;
    Ok(hex::encode(bytes))
}

/// The hash a one-time code is stored as.
pub fn code_hash(code: &str) -> [u8; 32] {
    sha(format!("fieldsync/console-code/v1\n{}", code.trim()).as_bytes())
}

/// A password as the PHC string stored (Argon2id, default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn password_matches(password: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(phc)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Equal in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(user: &ConsoleUser, token: &str) -> Result<(), PageError> {
    if same(&user.csrf, token) {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "表单已过期，请刷新后重试 · The form expired (CSRF); reload and retry",
        ))
    }
}

/// Not signed in: the sign-in page.
#[derive(Debug)]
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/console/sign-in").into_response()
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(SignInFirst.into_response());
        };
        let storage = state.relay.storage().clone();
        let found = tokio::task::spawn_blocking(move || -> Result<_, PageError> {
            let Some(session) = storage.console_session(sha(token.as_bytes()), now_ms())? else {
                return Ok(None);
            };
            let Some(user) = storage.user_info(&session.user_id)? else { return Ok(None) };
            Ok(Some((session, user)))
        })
        .await
        .map_err(|e| PageError::internal(e).into_response())?
        .map_err(IntoResponse::into_response)?;
        match found {
            // Checked on every request: a user made a rep since signing in is out.
            Some((session, user)) if user.role != Role::Rep => Ok(ConsoleUser {
                user_id: user.user_id,
                name: user.name,
                role: user.role,
                tenant_id: user.tenant_id,
                team_id: user.team_id,
                csrf: session.csrf,
            }),
            _ => Err(SignInFirst.into_response()),
        }
    }
}

fn sign_in_form(csrf: &str, user: &str, problem: Option<&str>) -> maud::Markup {
    page(
        "登录 Sign in",
        None,
        html! {
            h1 { "登录控制台 " span.en { "Sign in to the console" } }
            @if let Some(problem) = problem {
                p.problem role="alert" { (problem) }
            }
            form.card method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="user" { "账号 (用户 ID) · User id" }
                input #user name="user" type="text" required autocomplete="username" value=(user) autofocus;
                label for="secret" { "密码或一次性登录码 · Password or one-time code" }
                input #secret name="secret" type="password" required autocomplete="current-password";
                button type="submit" { "登录 Sign in" }
            }
            p.hint { "一次性登录码：fieldsync admin console-code --user <id> · 设置密码：fieldsync admin set-password --user <id>" }
        },
    )
}

fn sign_in_response(status: StatusCode, headers: &HeaderMap, user: &str, problem: Option<&str>) -> Response {
    let csrf = match random_hex(16) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut response = respond(status, sign_in_form(&csrf, user, problem));
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, &csrf, 3600, over_tls(headers)));
    response
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(headers: HeaderMap) -> Response {
    sign_in_response(StatusCode::OK, &headers, "", None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf: String,
    user: String,
    secret: String,
}

/// `POST /console/sign-in`.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return sign_in_response(
            StatusCode::BAD_REQUEST,
            &headers,
            "",
            Some("请填写账号和密码 · Fill in both fields"),
        );
    };
    let user_id = form.user.trim().to_owned();
    if !cookie(&headers, SIGN_IN_COOKIE).is_some_and(|c| same(c, &form.csrf)) {
        return sign_in_response(
            StatusCode::FORBIDDEN,
            &headers,
            &user_id,
            Some("表单已过期，请重试 · The form expired (CSRF); try again"),
        );
    }
    if user_id.is_empty() || user_id.len() > 100 || form.secret.is_empty() || form.secret.len() > 200 {
        return sign_in_response(
            StatusCode::BAD_REQUEST,
            &headers,
            "",
            Some("请填写账号和密码 · Fill in both fields"),
        );
    }
    let storage = state.relay.storage().clone();
    let secret = form.secret;
    let who = user_id.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<SignIn, PageError> {
        let now = now_ms();
        if let Some(until) = storage.console_locked_until(&who, now)? {
            return Ok(SignIn::Locked(until));
        }
        let user = storage.user_info(&who)?;
        let valid = match &user {
            None => false,
            Some(_) => {
                storage.console_take_code(&who, code_hash(&secret), now)?
                    || storage.console_password(&who)?.is_some_and(|phc| password_matches(&secret, &phc))
            }
        };
        let Some(user) = user.filter(|_| valid) else {
            return Ok(
                match storage.console_fail(&who, now, LOCKOUT_FAILURES, LOCKOUT_WINDOW_MS, LOCKOUT_MS)? {
                    Some(until) => SignIn::Locked(until),
                    None => SignIn::Wrong,
                },
            );
        };
        storage.console_clear_failures(&who)?;
        if user.role == Role::Rep {
            return Ok(SignIn::Rep);
        }
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        storage.console_start_session(sha(token.as_bytes()), &who, &csrf, now, now + SESSION_MS)?;
        Ok(SignIn::Ok(token))
    })
    .await;
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return e.into_response(),
        Err(e) => return PageError::internal(e).into_response(),
    };
    match outcome {
        SignIn::Ok(token) => {
            tracing::info!(user_id, "console sign-in");
            let mut response = Redirect::to("/console/funnel").into_response();
            let secure = over_tls(&headers);
            let h = response.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, SESSION_MS / 1000, secure));
            h.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0, secure));
            response
        }
        SignIn::Wrong => sign_in_response(
            StatusCode::UNAUTHORIZED,
            &headers,
            &user_id,
            Some("账号或密码错误 · Wrong user id or secret"),
        ),
        SignIn::Rep => sign_in_response(
            StatusCode::FORBIDDEN,
            &headers,
            &user_id,
            Some("控制台仅限主管和管理员 · The console is for supervisors and admins; reps use the app"),
        ),
        SignIn::Locked(until) => {
            let minutes = ((until - now_ms()) / 60_000).max(1);
            let message = format!(
                "登录失败次数过多，账号已锁定 {minutes} 分钟 · Too many failed sign-ins: locked for {minutes} min"
            );
            sign_in_response(StatusCode::TOO_MANY_REQUESTS, &headers, &user_id, Some(&message))
        }
    }
}

enum SignIn {
    Ok(String),
    Wrong,
    Rep,
    Locked(i64),
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /console/sign-out`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else { return Err(PageError::new(StatusCode::BAD_REQUEST, "bad form")) };
    check_csrf(&user, &form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let hash = sha(token.as_bytes());
        let storage = state.relay.storage().clone();
        tokio::task::spawn_blocking(move || storage.console_end_session(hash, now_ms()))
            .await
            .map_err(PageError::internal)??;
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, over_tls(&headers)));
    Ok(response)
}
