//! The console's 查重 (the duplicate review queue: merge, or not the same) and 人员 (people,
//! their devices, one-time enrollment codes shown as QR codes, revoking a device) pages
//! (docs/console.md). Every action is a POST with the session's CSRF token, checked on the server
//! against the user's role and team.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_core::DocId;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::check_csrf;
use super::{ConsoleUser, PageError, page, respond};
use crate::http::app::AppState;
use crate::relay::ReviewDecision;
use crate::storage::{DeviceScope, PairStatus, Role};

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f).await.map_err(PageError::internal)?
}

/// The user acting as their team's supervisor or admin, for the relay's own checks.
fn scope_of(user: &ConsoleUser) -> DeviceScope {
    DeviceScope {
        device_id: [0; 16],
        user_id: user.user_id.clone(),
        role: user.role,
        tenant_id: user.tenant_id.clone(),
        team_id: user.team_id.clone(),
    }
}

// ------------------------------------------------------------------------------------ 查重

struct Side {
    id: DocId,
    name: String,
    phones: Vec<String>,
    credit_code: Option<String>,
}

/// `GET /console/review`: the pending pairs, both records side by side.
pub async fn review(State(state): State<AppState>, user: ConsoleUser) -> Result<Response, PageError> {
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let pairs = blocking(move || {
        let side = |id: DocId| -> Result<Side, PageError> {
            Ok(match storage.customer_key(id)? {
                Some(row) => Side { id, name: row.name, phones: row.phones, credit_code: row.credit_code },
                None => Side { id, name: "—".into(), phones: Vec::new(), credit_code: None },
            })
        };
        storage
            .pairs(&team, PairStatus::Pending, 100)?
            .into_iter()
            .map(|p| Ok((side(p.a)?, side(p.b)?, p.score, p.reasons)))
            .collect::<Result<Vec<_>, PageError>>()
    })
    .await?;
    let card = |s: &Side| -> Markup {
        html! {
            div.side {
                strong.name { (s.name) }
                @if !s.phones.is_empty() { div { "电话 Phones: " (s.phones.join(", ")) } }
                @if let Some(code) = &s.credit_code { div { "信用代码 Credit code: " (code) } }
                div.hint { (s.id) }
            }
        }
    };
    let body = html! {
        h1 { "查重 " span.en { "Duplicate review" } }
        p { (pairs.len()) " 对待确认 · pairs to decide" }
        @if pairs.is_empty() { p.hint { "没有待确认的重复客户 · Nothing to review" } }
        @for (a, b, score, reasons) in &pairs {
            section.pair data-a=(a.id) data-b=(b.id) {
                div.sides { (card(a)) (card(b)) }
                p.hint { "相似度 Score " (format!("{score:.2}")) " · " (reasons) }
                form.decide method="post" action="/console/review" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    input type="hidden" name="a" value=(a.id);
                    input type="hidden" name="b" value=(b.id);
                    button type="submit" name="decision" value="merge" { "合并 Merge" }
                    button.secondary type="submit" name="decision" value="not_same" { "不是同一家 Not the same" }
                }
            }
        }
    };
    Ok(respond(StatusCode::OK, page("查重 Review", Some(&user), body)))
}

/// The review form.
#[derive(Debug, Deserialize)]
pub struct DecideForm {
    csrf: String,
    a: String,
    b: String,
    decision: String,
}

/// `POST /console/review`: merge the pair, or remember they are different companies.
pub async fn decide(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::new(StatusCode::BAD_REQUEST, "表单不完整 · Incomplete form"));
    };
    check_csrf(&user, &form.csrf)?;
    let id = |s: &str| s.parse::<DocId>().map_err(|_| PageError::not_found());
    let (a, b) = (id(&form.a)?, id(&form.b)?);
    let decision = match form.decision.as_str() {
        "merge" => ReviewDecision::Merge,
        "not_same" => ReviewDecision::NotSame,
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "未知的决定 · Unknown decision")),
    };
    state.relay.decide_pair(&scope_of(&user), a, b, decision).await?;
    tracing::info!(user_id = %user.user_id, %a, %b, decision = %form.decision, "console review decision");
    Ok(Redirect::to("/console/review").into_response())
}

// ------------------------------------------------------------------------------------ 人员

/// A QR code of `text` as SVG modules (drawn here, escaped by maud like every value).
fn qr_svg(text: &str) -> Markup {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return html! {} };
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = (i % width + 4, i / width + 4);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let size = width + 8;
    html! {
        svg.qr xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (size) " " (size) } width="200" height="200"
            role="img" aria-label="注册码二维码 Enrollment QR code" {
            rect width=(size) height=(size) fill="#fff" {}
            path d=(path) fill="#000" {}
        }
    }
}

/// `GET /console/people`: the team's people and their devices.
pub async fn people(State(state): State<AppState>, user: ConsoleUser) -> Result<Response, PageError> {
    people_page(state, user, None).await
}

async fn people_page(
    state: AppState,
    user: ConsoleUser,
    issued: Option<(String, String)>,
) -> Result<Response, PageError> {
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let (users, devices) =
        blocking(move || Ok((storage.team_users(&team)?, storage.team_devices(&team)?))).await?;
    let names: HashMap<&str, &str> = users.iter().map(|(id, name, _)| (id.as_str(), name.as_str())).collect();
    let admin = user.role == Role::Admin;
    let when = |ms: i64| fieldsync_core::kpi::Date::of_instant(ms, 480).to_string();
    let body = html! {
        h1 { "人员 " span.en { "People" } }
        @if let Some((name, code)) = &issued {
            section.issued role="status" {
                h2 { "给 " (name) " 的一次性注册码 · One-time enrollment code" }
                p { "在手机上扫码或输入 · Scan or type on the phone (valid 7 days):" }
                p.code #enrollment-code { (code) }
                (qr_svg(code))
            }
        }
        table #people {
            thead { tr { th { "姓名 Name" } th { "角色 Role" } th { "用户 ID" } @if admin { th { "注册码 Code" } } } }
            tbody {
                @for (id, name, role) in &users {
                    tr {
                        td { (name) }
                        td { (role.as_str()) }
                        td.mono { (id) }
                        @if admin {
                            td {
                                form method="post" action="/console/people/code" {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    input type="hidden" name="user" value=(id);
                                    button type="submit" { "新注册码 New code" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "设备 " span.en { "Devices" } }
        table #devices {
            thead { tr { th { "设备 Device" } th { "用户 User" } th { "注册 Enrolled" } th { "上次同步 Last sync" } th { "状态 State" } } }
            tbody {
                @for d in &devices {
                    @let id = hex::encode(d.device_id);
                    tr data-device=(id) {
                        td { (d.name) div.hint.mono { (id) } }
                        td { (names.get(d.user_id.as_str()).copied().unwrap_or(d.user_id.as_str())) }
                        td { (when(d.enrolled_at)) }
                        td { (d.last_sync_at.map_or("—".to_owned(), when)) }
                        td {
                            @if let Some(at) = d.revoked_at { "已停用 revoked " (when(at)) }
                            @else if admin {
                                form method="post" action="/console/people/revoke" {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    input type="hidden" name="device" value=(id);
                                    button.danger type="submit" { "停用 Revoke" }
                                }
                            } @else { "使用中 active" }
                        }
                    }
                }
            }
        }
        @if !admin { p.hint { "只有管理员可以发注册码和停用设备 · Only admins issue codes and revoke devices" } }
    };
    Ok(respond(StatusCode::OK, page("人员 People", Some(&user), body)))
}

/// The code form.
#[derive(Debug, Deserialize)]
pub struct UserForm {
    csrf: String,
    user: String,
}

/// `POST /console/people/code` (admins): a new one-time enrollment code for a user of the team,
/// shown once with its QR code.
pub async fn new_code(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<UserForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::new(StatusCode::BAD_REQUEST, "表单不完整 · Incomplete form"));
    };
    check_csrf(&user, &form.csrf)?;
    super::admin_only(&user, "这样做")?;
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let target = form.user.clone();
    let issued = blocking(move || {
        let Some(info) = storage.user_info(&target)?.filter(|u| u.team_id == team) else {
            return Err(PageError::not_found());
        };
        let code = crate::http::auth::new_enrollment_code().map_err(PageError::internal)?;
        storage.add_enrollment_code(
            &target,
            crate::http::auth::secret_hash(&code),
            now_ms() + crate::cli::admin::CODE_TTL_MS,
        )?;
        Ok((info.name, code))
    })
    .await?;
    tracing::info!(user_id = %user.user_id, for_user = %form.user, "console enrollment code issued");
    people_page(state, user, Some(issued)).await
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    csrf: String,
    device: String,
}

/// `POST /console/people/revoke` (admins): a device of the team stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::new(StatusCode::BAD_REQUEST, "表单不完整 · Incomplete form"));
    };
    check_csrf(&user, &form.csrf)?;
    super::admin_only(&user, "这样做")?;
    let mut device = [0u8; 16];
    hex::decode_to_slice(form.device.trim(), &mut device).map_err(|_| PageError::not_found())?;
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    blocking(move || {
        if storage.device_user(&team, device)?.is_none() {
            return Err(PageError::not_found());
        }
        storage.revoke_device(device, now_ms())?;
        Ok(())
    })
    .await?;
    tracing::info!(user_id = %user.user_id, device = %form.device, "console revoked a device");
    Ok(Redirect::to("/console/people").into_response())
}
