//! The console's 拜访 page (docs/console.md): a day's visits by rep, and one visit's evidence —
//! the upright photos, the fixes against the customer's site on a plan drawn as SVG without map
//! tiles (distance and accuracy), the spoof flags, each signed slip with its signature image and
//! whether it verifies, and whether the visit counts as effective (`kpi::classify_visit`, the
//! phones' own function).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::DocId;
use fieldsync_core::evidence::verify_slip;
use fieldsync_core::kpi::{Date, classify_visit};
use fieldsync_core::model::{Customer, Location, ServiceSlip, Visit};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageError, page, respond};
use crate::http::app::AppState;
use crate::relay::kpi::{context, team_rules};

/// The largest blob the console serves (an upload copy is far smaller).
const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

fn hhmm(ms: i64, offset: i32) -> String {
    let minutes = (ms.div_euclid(60_000) + i64::from(offset)).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `?day=2026-12-08&rep=U&page=N`.
#[derive(Debug, Deserialize)]
pub struct DayQuery {
    day: Option<String>,
    rep: Option<String>,
    page: Option<usize>,
}

/// Visits per page of the day's list.
const PAGE: usize = 50;
/// The most visits of one day the list reads (a 100-rep team makes a few hundred).
const MAX_DAY_VISITS: usize = 2000;

fn parse_day(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if parts.next().is_some() {
        return None;
    }
    Date::new(y, m, d)
}

/// A visit with what the page shows of it.
struct Shown {
    visit: Visit,
    rep: String,
    customer: Option<Customer>,
    slips: Vec<ServiceSlip>,
    /// `kpi::classify_visit`'s answer, made once (it verifies each slip's signature).
    verdict: Result<(), &'static str>,
}

impl Shown {
    fn verdict(&self) -> Result<(), &'static str> {
        self.verdict
    }
}

fn shortfall_label(code: &str) -> &'static str {
    match code {
        "no_check_in" => "未签到 no check-in",
        "site_unknown" => "客户位置未知 site unknown",
        "off_site" => "不在现场 off site",
        "check_in_flagged" => "签到可疑 check-in flagged",
        "no_on_site_photo" => "无现场照片 no on-site photo",
        "photo_flagged" => "照片可疑 photo flagged",
        "no_slip" => "无服务单 no slip",
        "slip_not_signed" => "服务单未签 slip not signed",
        "slip_unverified" => "签名未通过验证 slip does not verify",
        _ => "未计入 not effective",
    }
}

/// Reads a visit of the user's team with its customer and slips.
fn load_visit(
    storage: &dyn crate::storage::RelayStorage,
    user: &ConsoleUser,
    id: DocId,
    rep: String,
) -> Result<Option<Shown>, PageError> {
    let Some((visit, slips)) = visit_and_slips(storage, user, id)? else { return Ok(None) };
    let customer = super::pages::team_record::<Customer>(storage, user, visit.customer_id)?;
    let refs: Vec<&ServiceSlip> = slips.iter().collect();
    let verdict = classify_visit(&visit, &refs).map_err(|s| s.as_str());
    Ok(Some(Shown { visit, rep, customer, slips, verdict }))
}

/// A visit of the user's team and its slips, as stored (nothing verified).
fn visit_and_slips(
    storage: &dyn crate::storage::RelayStorage,
    user: &ConsoleUser,
    id: DocId,
) -> Result<Option<(Visit, Vec<ServiceSlip>)>, PageError> {
    let Some(visit) = super::pages::team_record::<Visit>(storage, user, id)? else { return Ok(None) };
    let mut slips = Vec::new();
    for (slip_id, _) in storage.kpi_slips_for(&[id])? {
        if let Some(slip) = super::pages::team_record::<ServiceSlip>(storage, user, slip_id)?
            && slip.visit_id == id
        {
            slips.push(slip);
        }
    }
    Ok(Some((visit, slips)))
}

/// `GET /console/visits?day=D&rep=U`: the day's visits (team time), with their verdicts.
pub async fn visits(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<DayQuery>,
) -> Result<Response, PageError> {
    let relay = state.relay.clone();
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let asked = query.day.clone().filter(|d| !d.is_empty());
    let rep = query.rep.clone().filter(|r| !r.is_empty());
    let (day, offset, shown, reps) = tokio::task::spawn_blocking(move || -> Result<_, PageError> {
        let rules = team_rules(storage.as_ref(), &scope.team_id)?;
        let offset = context(&rules, now_ms()).calendar.utc_offset_minutes;
        let day = match asked {
            None => Date::of_instant(now_ms(), offset),
            Some(text) => parse_day(&text).ok_or_else(|| {
                PageError::new(StatusCode::BAD_REQUEST, format!("日期 day {text:?}: YYYY-MM-DD"))
            })?,
        };
        if !storage.kpi_team_rebuilt(&scope.team_id)? {
            relay.rebuild_kpi_blocking(&scope.team_id)?;
        }
        let (lo, hi) = (day.start_ms(offset), day.add_days(1).start_ms(offset));
        let names: HashMap<String, String> =
            storage.team_users(&scope.team_id)?.into_iter().map(|(id, name, _)| (id, name)).collect();
        let mut shown = Vec::new();
        for (id, visit_rep) in storage.team_visits(&scope.team_id, lo, hi)? {
            if rep.as_deref().is_some_and(|r| r != visit_rep) {
                continue;
            }
            let name = names.get(&visit_rep).cloned().unwrap_or(visit_rep);
            if let Some(s) = load_visit(storage.as_ref(), &scope, id, name)? {
                shown.push(s);
            }
            if shown.len() >= MAX_DAY_VISITS {
                break;
            }
        }
        let mut reps: Vec<(String, String)> = names.into_iter().collect();
        reps.sort_by(|a, b| a.1.cmp(&b.1));
        Ok((day, offset, shown, reps))
    })
    .await
    .map_err(PageError::internal)??;
    let rep = query.rep.as_deref().filter(|r| !r.is_empty());
    let effective = shown.iter().filter(|s| s.verdict().is_ok()).count();
    let pages = shown.len().div_ceil(PAGE).max(1);
    let at = query.page.unwrap_or(1).clamp(1, pages);
    let rep_q = rep.map(|r| format!("&rep={}", super::pages::urlencode(r))).unwrap_or_default();
    let body = html! {
        h1 { "拜访 " span.en { "Visits" } " · " (day) }
        form.filter method="get" action="/console/visits" {
            label for="day" { "日期 · Day" }
            input #day name="day" type="date" value=(day);
            label for="rep" { "销售 · Rep" }
            select #rep name="rep" {
                option value="" selected[rep.is_none()] { "全队 · Whole team" }
                @for (id, name) in &reps { option value=(id) selected[rep == Some(id.as_str())] { (name) } }
            }
            button type="submit" { "查看 · Show" }
        }
        p { (shown.len()) " 次拜访 · visits, " strong #effective { (effective) } " 次有效 · effective" }
        table #visits {
            thead { tr { th { "时间 Time" } th { "销售 Rep" } th { "客户 Customer" } th { "照片 Photos" } th { "服务单 Slip" } th { "结论 Verdict" } } }
            tbody {
                @for s in shown.iter().skip((at - 1) * PAGE).take(PAGE) {
                    tr {
                        td { a href={ "/console/visits/" (s.visit.id) } { (hhmm(s.visit.started_at.unwrap_or(s.visit.planned_at), offset)) } }
                        td { (s.rep) }
                        td { (s.customer.as_ref().map_or("—", |c| c.company_name.as_str())) }
                        td.num { (s.visit.photos.len()) }
                        td { @if s.slips.iter().any(|x| x.signed_at.is_some()) { "已签 signed" } @else if s.slips.is_empty() { "—" } @else { "未签 unsigned" } }
                        td { @match s.verdict() { Ok(()) => strong.ok { "有效 effective" }, Err(code) => span.bad { (shortfall_label(code)) } } }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="分页 Pages" {
                @if at > 1 { a href={ "?day=" (day) "&page=" (at - 1) (rep_q) } rel="prev" { "‹ 上一页 Previous" } }
                span { (at) " / " (pages) }
                @if at < pages { a href={ "?day=" (day) "&page=" (at + 1) (rep_q) } rel="next" { "下一页 Next ›" } }
            }
        }
    };
    Ok(respond(StatusCode::OK, page("拜访 Visits", Some(&user), body)))
}

/// Metres east and north of `origin` (WGS-84, a local flat projection: visits are within a few
/// km of their site).
fn local_m(origin: (f64, f64), at: (f64, f64)) -> (f64, f64) {
    let east = (at.1 - origin.1).to_radians() * 6_371_000.0 * origin.0.to_radians().cos();
    let north = (at.0 - origin.0).to_radians() * 6_371_000.0;
    (east, north)
}

/// The plan: the customer's site at the centre with the team's radius, every fix of the visit
/// and of its photos as a point with its accuracy circle, scaled to fit; no tiles.
fn plan(site: Option<&Location>, fixes: &[(&str, &Location)], radius_m: f64) -> Markup {
    let Some(origin) = site.and_then(Location::to_wgs84) else {
        return html! { p.hint { "客户没有位置，无法比较 · The customer has no location to compare with" } };
    };
    let points: Vec<(&str, (f64, f64), f64, f64)> = fixes
        .iter()
        .filter_map(|(label, fix)| {
            let at = fix.to_wgs84()?;
            let (e, n) = local_m(origin, at);
            Some((*label, (e, n), fix.accuracy_m.unwrap_or(0.0), (e * e + n * n).sqrt()))
        })
        .collect();
    let reach = points.iter().map(|p| p.3 + p.2).fold(radius_m, f64::max).max(50.0) * 1.15;
    let size = 300.0;
    let scale = size / 2.0 / reach;
    let c = size / 2.0;
    html! {
        figure.chart.plan {
            svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 300" role="img" aria-label="位置对比 Fixes against the site" {
                rect width="300" height="300" fill="#f8fafc" {}
                circle cx=(c) cy=(c) r=(format!("{:.1}", radius_m * scale)) fill="#e6f4ea" stroke="#34a853" {}
                circle cx=(c) cy=(c) r="4" fill="#34a853" {}
                text x=(c + 6.0) y=(c - 6.0) font-size="11" fill="#1e7e34" { "客户 site" }
                @for (label, (e, n), acc, _) in &points {
                    @let (x, y) = (c + e * scale, c - n * scale);
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r=(format!("{:.1}", (acc * scale).max(1.0))) fill="none" stroke="#1e56b8" stroke-dasharray="3 2" {}
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3.5" fill="#1e56b8" {}
                    text x=(format!("{:.1}", x + 5.0)) y=(format!("{:.1}", y + 12.0)) font-size="10" fill="#1e3a6e" { (label) }
                }
                text x="6" y="292" font-size="10" fill="#555" { "半径 radius " (format!("{radius_m:.0}")) " m · 宽 width " (format!("{:.0}", reach * 2.0)) " m" }
            }
            figcaption { "绿色：客户位置与团队半径；蓝色：定位及其精度 · Green: the site and the team's radius; blue: fixes and their accuracy" }
        }
    }
}

fn distance_text(site: Option<&Location>, fix: &Location) -> String {
    let (Some(a), Some(b)) = (site.and_then(Location::geo_point), fix.geo_point()) else {
        return "—".into();
    };
    let accuracy = fix.accuracy_m.map_or(String::new(), |acc| format!(" ±{acc:.0} m"));
    format!("{:.0} m{accuracy}", a.distance_m(&b))
}

/// `GET /console/visits/{id}`: one visit's evidence.
pub async fn visit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(visit_id): Path<String>,
) -> Result<Response, PageError> {
    let Ok(id) = visit_id.parse::<DocId>() else { return Err(PageError::not_found()) };
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, PageError> {
        let rules = team_rules(storage.as_ref(), &scope.team_id)?;
        let offset = context(&rules, now_ms()).calendar.utc_offset_minutes;
        let Some(visit) = super::pages::team_record::<Visit>(storage.as_ref(), &scope, id)? else {
            return Ok(None);
        };
        let rep = storage.device_user(&scope.team_id, *visit.provenance.created_by.as_bytes())?;
        let name = match rep {
            Some(rep) => storage.user_info(&rep)?.map_or(rep, |u| u.name),
            None => "—".into(),
        };
        Ok(load_visit(storage.as_ref(), &scope, id, name)?.map(|s| (s, offset, rules.geofence_radius_m)))
    })
    .await
    .map_err(PageError::internal)??;
    let Some((s, offset, radius)) = found else { return Err(PageError::not_found()) };
    let v = &s.visit;
    let site = s.customer.as_ref().and_then(|c| c.location.as_ref());
    let mut fixes: Vec<(String, &Location)> =
        v.fixes.iter().enumerate().map(|(i, f)| (format!("签到 {}", i + 1), f)).collect();
    fixes.extend(
        v.photos
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.fix.as_ref().map(|f| (format!("照片 {}", i + 1), f))),
    );
    let labelled: Vec<(&str, &Location)> = fixes.iter().map(|(l, f)| (l.as_str(), *f)).collect();
    let day = Date::of_instant(v.started_at.unwrap_or(v.planned_at), offset);
    let body = html! {
        p.crumbs { a href={ "/console/visits?day=" (day) } { "拜访 Visits · " (day) } " › " (s.customer.as_ref().map_or("—", |c| c.company_name.as_str())) }
        h1 #visit-customer { (s.customer.as_ref().map_or("—", |c| c.company_name.as_str())) }
        p #verdict {
            @match s.verdict() {
                Ok(()) => strong.ok { "有效拜访 · Effective visit" },
                Err(code) => span.bad { "未计入有效拜访：" (shortfall_label(code)) }
            }
        }
        dl.facts {
            dt { "销售 Rep" } dd { (s.rep) }
            dt { "计划 Planned" } dd { (hhmm(v.planned_at, offset)) }
            dt { "签到 Check-in" } dd { (v.started_at.map_or("—".to_owned(), |t| hhmm(t, offset))) }
            dt { "现场 On site" } dd { @match v.on_site { Some(true) => "是 yes", Some(false) => "否 no", None => "未知 unknown" } }
            @if !v.notes.is_empty() { dt { "备注 Notes" } dd { (v.notes) } }
        }
        h2 { "位置 " span.en { "Where" } }
        (plan(site, &labelled, radius))
        ul.fixes {
            @for (label, fix) in &fixes {
                li { (label) " · " (distance_text(site, fix)) " · " (format!("{:?}", fix.source)) @if fix.mock { " · " strong.bad { "模拟定位 mock location" } } }
            }
        }
        h2 { "照片 " span.en { "Photos" } }
        @if v.photos.is_empty() { p.hint { "无 · None" } }
        div.photos {
            @for (i, p) in v.photos.iter().enumerate() {
                figure.photo {
                    img src={ "/console/visits/" (v.id) "/blob/" (p.thumbnail_sha256.as_deref().unwrap_or(&p.sha256)) }
                        alt={ "照片 " (i + 1) } loading="lazy" width="240";
                    figcaption {
                        "照片 " (i + 1) " · " (hhmm(p.taken_at, offset))
                        " · " @match p.on_site { Some(true) => "现场 on site", Some(false) => "不在现场 off site", None => "位置未知 unknown" }
                        @for f in &p.flags { br; span.bad { (f.code) } " " span.hint { (f.detail) } }
                        br; a href={ "/console/visits/" (v.id) "/blob/" (p.sha256) } { "原图 full size" }
                    }
                }
            }
        }
        h2 { "服务单 " span.en { "Service slips" } }
        @if s.slips.is_empty() { p.hint { "无 · None" } }
        @for slip in &s.slips {
            section.slip {
                p {
                    @match verify_slip(slip) {
                        Ok(()) => strong.ok.slip-verdict { "签名验证通过 · The signature verifies" },
                        Err(e) => span.bad.slip-verdict { "签名未通过验证 · Does not verify: " (e.to_string()) }
                    }
                }
                p { "签字人 Signer: " (slip.signer_name.as_deref().unwrap_or("—")) @if let Some(at) = slip.signed_at { " · " (hhmm(at, offset)) } }
                ul { @for item in &slip.items { li { (item.description) " × " (item.quantity) } } }
                @if let Some(png) = &slip.signature_png_sha256 {
                    img.signature src={ "/console/visits/" (v.id) "/blob/" (png) } alt="客户签名 The customer's signature" width="300";
                }
            }
        }
    };
    Ok(respond(StatusCode::OK, page("拜访 Visit", Some(&user), body)))
}

/// `GET /console/visits/{id}/blob/{sha}`: a photo, thumbnail or signature image of a visit of
/// the user's team (a blob the visit or its slips name; anything else 404).
pub async fn visit_blob(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((visit_id, sha)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let Ok(id) = visit_id.parse::<DocId>() else { return Err(PageError::not_found()) };
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(PageError::not_found());
    }
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let wanted = sha.clone();
    let named = tokio::task::spawn_blocking(move || -> Result<bool, PageError> {
        // Which blobs the visit names: no signature is verified for an image.
        let Some((visit, slips)) = visit_and_slips(storage.as_ref(), &scope, id)? else { return Ok(false) };
        let mut names: Vec<&str> = Vec::new();
        for p in &visit.photos {
            names.push(&p.sha256);
            names.extend(p.thumbnail_sha256.as_deref());
        }
        for slip in &slips {
            names.extend(slip.signature_png_sha256.as_deref());
            names.extend(slip.photo_sha256s.iter().map(String::as_str));
        }
        Ok(names.contains(&wanted.as_str()))
    })
    .await
    .map_err(PageError::internal)??;
    if !named {
        return Err(PageError::not_found());
    }
    let Some(bytes) = state
        .blobs
        .read_complete(&user.tenant_id, &sha, MAX_IMAGE_BYTES)
        .await
        .map_err(PageError::internal)?
    else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "图片还没上传 · The image has not been uploaded yet",
        ));
    };
    let kind = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        return Err(PageError::not_found());
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
        ],
        bytes,
    )
        .into_response())
}
