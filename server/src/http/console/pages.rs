//! The console's pages (docs/console.md, "Pages"): 漏斗 (the funnel, a stage's deals, one deal),
//! 停滞 (stalled deals) and 业绩 (the team table and the weekly briefs). Each reads the signed-in
//! user's team only; another team's record answers 404 like a missing one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use fieldsync_core::DocId;
use fieldsync_core::kpi::{Date, Metric, Period, PeriodKind};
use fieldsync_core::model::{
    Activity, Alert, Customer, Opportunity, Stage, StallLevel, TeamTable, Visit, read_record, team_table_id,
};
use maud::html;
use serde::{Deserialize, Serialize};

use super::{ConsoleUser, PageError, page, respond, svg};
use crate::http::app::AppState;
use crate::relay::kpi::{TeamKpi, context, team_rules};
use crate::storage::{RelayStorage, Role, TeamDeal};

/// Deals per page of a stage's list.
const PAGE: usize = 50;

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

/// `¥12,345.67`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let whole = (fen.abs() / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}¥{grouped}.{:02}", fen.abs() % 100)
}

/// A time in team time: `2026-12-08 09:30`.
fn when(ms: i64, offset_min: i32) -> String {
    let day = Date::of_instant(ms, offset_min);
    let minutes = (ms.div_euclid(60_000) + i64::from(offset_min)).rem_euclid(24 * 60);
    format!("{day} {:02}:{:02}", minutes / 60, minutes % 60)
}

fn offset_of(storage: &dyn RelayStorage, team: &str) -> i32 {
    team_rules(storage, team).map(|r| context(&r, now_ms()).calendar.utc_offset_minutes).unwrap_or(480)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f).await.map_err(PageError::internal)?
}

/// `GET /console`: the funnel.
pub async fn home() -> Redirect {
    Redirect::to("/console/funnel")
}

// ---------------------------------------------------------------------------------- the funnel

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageLine {
    /// The stage's stored name.
    pub stage: String,
    /// Its name as managers read it.
    pub label: String,
    /// Deals in it now.
    pub deals: u32,
    /// Their CNY amount, fen.
    pub amount_fen: i64,
    /// Deals in it or a later open stage or won (those that reached it), lost ones left out.
    pub reached: u32,
    /// Of those, the share that reached the next stage (basis points); none for won and lost.
    pub conversion_bp: Option<i64>,
}

/// The funnel from `(stage, deals, amount)` counts: per stage, the deals and amounts in it now,
/// and each open stage's conversion from the stages the deals are in now (docs/console.md, "漏斗").
pub fn funnel_of(counts: &[(String, u32, i64)]) -> Vec<StageLine> {
    let mut count = [0u32; 7];
    let mut amount = [0i64; 7];
    for (stage, deals, fen) in counts {
        if let Some(i) = Stage::ALL.iter().position(|s| s.as_str() == stage) {
            count[i] += deals;
            amount[i] += fen;
        }
    }
    let won = 5;
    // Reached stage i (i ≤ won): in stage i or later, not lost.
    let reached = |i: usize| -> u32 { (i..=won).map(|j| count[j]).sum() };
    Stage::ALL
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let is_open = i < won;
            StageLine {
                stage: stage.as_str().to_owned(),
                label: stage.label_zh().to_owned(),
                deals: count[i],
                amount_fen: amount[i],
                reached: if i <= won { reached(i) } else { count[i] },
                conversion_bp: (is_open && reached(i) > 0)
                    .then(|| i64::from(reached(i + 1)) * 10_000 / i64::from(reached(i))),
            }
        })
        .collect()
}

/// `?rep=USER`: one rep's deals only.
#[derive(Debug, Deserialize)]
pub struct RepQuery {
    rep: Option<String>,
    page: Option<usize>,
}

fn bp(bp: i64) -> String {
    format!("{}.{:01}%", bp / 100, (bp % 100) / 10)
}

fn rep_filter(rep: &Option<String>) -> Option<&str> {
    rep.as_deref().filter(|r| !r.is_empty())
}

/// The team's deals, one rep's when `rep` is set.
fn deals_of(storage: &dyn RelayStorage, team: &str, rep: Option<&str>) -> Result<Vec<TeamDeal>, PageError> {
    let mut deals = storage.team_deals(team)?;
    if let Some(rep) = rep {
        deals.retain(|d| d.rep_user_id.as_deref() == Some(rep));
    }
    Ok(deals)
}

/// `GET /console/funnel?rep=U`.
pub async fn funnel(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<RepQuery>,
) -> Result<Response, PageError> {
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let rep = rep_filter(&query.rep).map(str::to_owned);
    let (lines, reps) = blocking(move || {
        let counts = storage.team_funnel(&team, rep.as_deref())?;
        let reps: Vec<(String, String)> = storage
            .team_users(&team)?
            .into_iter()
            .filter(|(_, _, role)| *role == Role::Rep)
            .map(|(id, name, _)| (id, name))
            .collect();
        Ok((funnel_of(&counts), reps))
    })
    .await?;
    let rep = rep_filter(&query.rep);
    let rep_q = rep.map(|r| format!("?rep={}", urlencode(r))).unwrap_or_default();
    let total: u32 = lines.iter().map(|l| l.deals).sum();
    let chart: Vec<(String, i64, String)> = lines
        .iter()
        .map(|l| (l.label.clone(), i64::from(l.deals), format!("{} · {}", l.deals, yuan(l.amount_fen))))
        .collect();
    let body = html! {
        h1 { "漏斗 " span.en { "Funnel" } }
        form.filter method="get" action="/console/funnel" {
            label for="rep" { "销售 · Rep" }
            select #rep name="rep" {
                option value="" selected[rep.is_none()] { "全队 · Whole team" }
                @for (id, name) in &reps {
                    option value=(id) selected[rep == Some(id.as_str())] { (name) }
                }
            }
            button type="submit" { "查看 · Show" }
        }
        p { "共 " strong #total-deals { (total) } " 个商机 · deals" }
        (svg::bars("各阶段商机数 · Deals per stage", &chart))
        table #funnel-table {
            thead { tr { th { "阶段 Stage" } th.num { "商机 Deals" } th.num { "金额 Amount" } th.num { "转化 Conversion" } } }
            tbody {
                @for line in &lines {
                    tr data-stage=(line.stage) {
                        td { a href={ "/console/funnel/" (line.stage) (rep_q) } { (line.label) } }
                        td.num.deals { (line.deals) }
                        td.num.amount data-fen=(line.amount_fen) { (yuan(line.amount_fen)) }
                        td.num { @if let Some(c) = line.conversion_bp { (bp(c)) } @else { "—" } }
                    }
                }
            }
        }
        p.hint { "转化：到达本阶段（含之后的阶段和赢单，不含丢单）的商机中进入下一阶段的比例 · Conversion: of the deals that reached a stage (now in it or later, won included, lost left out), the share now past it." }
    };
    Ok(respond(StatusCode::OK, page("漏斗 Funnel", Some(&user), body)))
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /console/funnel/{stage}?rep=U&page=N`: the stage's deals, largest first.
pub async fn stage(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(stage): Path<String>,
    Query(query): Query<RepQuery>,
) -> Result<Response, PageError> {
    let Some(stage) = Stage::parse(&stage) else { return Err(PageError::not_found()) };
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let rep = rep_filter(&query.rep).map(str::to_owned);
    let (deals, offset) = blocking(move || {
        let deals = deals_of(storage.as_ref(), &team, rep.as_deref())?;
        Ok((deals, offset_of(storage.as_ref(), &team)))
    })
    .await?;
    let deals: Vec<&TeamDeal> = deals.iter().filter(|d| d.stage == stage.as_str()).collect();
    let pages = deals.len().div_ceil(PAGE).max(1);
    let at = query.page.unwrap_or(1).clamp(1, pages);
    let shown = deals.iter().skip((at - 1) * PAGE).take(PAGE);
    let rep_q = rep_filter(&query.rep).map(|r| format!("&rep={}", urlencode(r))).unwrap_or_default();
    let body = html! {
        p.crumbs { a href="/console/funnel" { "漏斗 Funnel" } " › " (stage.label_zh()) }
        h1 { (stage.label_zh()) " " span.en { (stage.as_str()) } }
        p { (deals.len()) " 个商机 · deals" }
        table #deals {
            thead { tr { th { "商机 Deal" } th { "销售 Rep" } th.num { "金额 Amount" } th { "进入阶段 Since" } } }
            tbody {
                @for deal in shown {
                    tr {
                        td { a href={ "/console/deals/" (deal.doc_id) } { (deal.title) } }
                        td { (deal.rep_name.as_deref().unwrap_or(&deal.owner)) }
                        td.num { (yuan(deal.amount_fen)) }
                        td { (when(deal.stage_entered_at, offset)) }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="分页 Pages" {
                @if at > 1 { a href={ "?page=" (at - 1) (rep_q) } rel="prev" { "‹ 上一页 Previous" } }
                span { (at) " / " (pages) }
                @if at < pages { a href={ "?page=" (at + 1) (rep_q) } rel="next" { "下一页 Next ›" } }
            }
        }
    };
    Ok(respond(StatusCode::OK, page(stage.label_zh(), Some(&user), body)))
}

/// A document of the user's team, of `kind`, read as its record; `None` for a missing one, one
/// of another tenant or team, or one of another kind (they all look the same).
pub(super) fn team_record<R: fieldsync_core::model::Record>(
    storage: &dyn RelayStorage,
    user: &ConsoleUser,
    id: DocId,
) -> Result<Option<R>, PageError> {
    let Some(stored) = storage.load_document(id)? else { return Ok(None) };
    if stored.tenant_id != user.tenant_id || stored.team_id != user.team_id || stored.kind != R::KIND.as_str()
    {
        return Ok(None);
    }
    let Ok(doc) = automerge::Automerge::load(&stored.snapshot) else { return Ok(None) };
    Ok(read_record(&doc).ok())
}

struct DealPage {
    deal: Opportunity,
    customer: Option<Customer>,
    visits: Vec<Visit>,
    activities: Vec<Activity>,
    alerts: Vec<Alert>,
    names: HashMap<String, String>,
    offset: i32,
}

/// `GET /console/deals/{id}`: one deal with its stage history, documents, visits, follow-ups and
/// alerts.
pub async fn deal(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(deal_id): Path<String>,
) -> Result<Response, PageError> {
    let Ok(id) = deal_id.parse::<DocId>() else { return Err(PageError::not_found()) };
    let storage = state.relay.storage().clone();
    let relay = state.relay.clone();
    let scope = user.clone();
    let found = blocking(move || {
        let Some(deal) = team_record::<Opportunity>(storage.as_ref(), &scope, id)? else { return Ok(None) };
        let customer = team_record::<Customer>(storage.as_ref(), &scope, deal.customer_id)?;
        let mut visits = Vec::new();
        let mut activities = Vec::new();
        let mut after = None;
        // The follow-ups and visits about the deal's customer, those about this deal kept.
        for _ in 0..20 {
            let mut ids = storage.customer_documents(deal.customer_id, after, 201)?;
            let more = ids.len() > 200;
            ids.truncate(200);
            for doc in &ids {
                if let Some(a) = team_record::<Activity>(storage.as_ref(), &scope, *doc)? {
                    if a.opportunity_id == Some(id) {
                        activities.push(a);
                    }
                } else if let Some(v) = team_record::<Visit>(storage.as_ref(), &scope, *doc)?
                    && v.opportunity_id == Some(id)
                {
                    visits.push(v);
                }
            }
            after = ids.last().copied();
            if !more || after.is_none() {
                break;
            }
        }
        activities.sort_by_key(|a| std::cmp::Reverse(a.at));
        visits.sort_by_key(|v| std::cmp::Reverse(v.planned_at));
        let alerts: Vec<Alert> = relay
            .team_alerts(&scope.team_id, 500)?
            .into_iter()
            .filter(|(_, payload)| !payload.is_empty())
            .filter_map(|(_, payload)| fieldsync_core::funnel::payload::decode(&payload).ok())
            .filter(|a| a.opportunity_id == id)
            .collect();
        let names = storage.team_users(&scope.team_id)?.into_iter().map(|(id, name, _)| (id, name)).collect();
        let offset = offset_of(storage.as_ref(), &scope.team_id);
        Ok(Some(DealPage { deal, customer, visits, activities, alerts, names, offset }))
    })
    .await?;
    let Some(p) = found else { return Err(PageError::not_found()) };
    let d = &p.deal;
    let owner = p.names.get(&d.owner).cloned().unwrap_or_else(|| d.owner.clone());
    let body = html! {
        p.crumbs {
            a href="/console/funnel" { "漏斗 Funnel" } " › "
            a href={ "/console/funnel/" (d.stage.as_str()) } { (d.stage.label_zh()) } " › " (d.title)
        }
        h1 #deal-title { (d.title) }
        dl.facts {
            dt { "客户 Customer" } dd #deal-customer { (p.customer.as_ref().map_or("—", |c| c.company_name.as_str())) }
            dt { "销售 Owner" } dd { (owner) }
            dt { "阶段 Stage" } dd { (d.stage.label_zh()) " · " (when(d.stage_entered_at, p.offset)) " 起" }
            dt { "金额 Amount" } dd { (d.amount.as_ref().map_or("—".to_owned(), |m| format!("{} {}", m.currency, yuan(m.minor_units)))) }
            dt { "毛利 Margin" } dd { (d.margin.as_ref().map_or("—".to_owned(), |m| format!("{} {}", m.currency, yuan(m.minor_units)))) }
        }
        h2 { "阶段历史 " span.en { "Stage history" } }
        ol.history {
            @for change in &d.stage_history {
                li {
                    (when(change.at, p.offset)) " · "
                    (change.from.map_or("新建 new", |s| s.label_zh())) " → " (change.to.label_zh())
                }
            }
        }
        h2 { "文件 " span.en { "Documents" } }
        @if d.evidence.is_empty() { p.hint { "无 · None" } }
        ul {
            @for e in &d.evidence {
                li { (e.kind.label_zh()) " · " (e.name) " · " (when(e.added_at, p.offset)) }
            }
        }
        h2 { "拜访 " span.en { "Visits" } }
        @if p.visits.is_empty() { p.hint { "无 · None" } }
        ul {
            @for v in &p.visits {
                li {
                    (when(v.planned_at, p.offset)) " · "
                    @match v.on_site { Some(true) => "现场 on site", Some(false) => "不在现场 off site", None => "未签到 no check-in" }
                    " · " (v.photos.len()) " 张照片 photos"
                    @if !v.notes.is_empty() { " · " (v.notes) }
                }
            }
        }
        h2 { "跟进 " span.en { "Follow-ups" } }
        @if p.activities.is_empty() { p.hint { "无 · None" } }
        ul #activities {
            @for a in &p.activities {
                li { (when(a.at, p.offset)) " · " (a.activity_type.label_zh()) " · " (a.summary) }
            }
        }
        h2 { "停滞提醒 " span.en { "Alerts" } }
        @if p.alerts.is_empty() { p.hint { "无 · None" } }
        ul {
            @for a in &p.alerts {
                li { (level_label(a.level)) " · " (a.stage.label_zh()) " · " (when(a.raised_at, p.offset)) }
            }
        }
    };
    Ok(respond(StatusCode::OK, page(&d.title, Some(&user), body)))
}

fn level_label(level: StallLevel) -> &'static str {
    match level {
        StallLevel::Reminder => "提醒 reminder",
        StallLevel::Supervisor => "主管 supervisor",
        StallLevel::Escalation => "升级 escalation",
    }
}

// ---------------------------------------------------------------------------------- the stalls

/// `GET /console/stalls`: the team's stall alerts, escalations first, then the longest stalled.
pub async fn stalls(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<RepQuery>,
) -> Result<Response, PageError> {
    let relay = state.relay.clone();
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let (mut alerts, offset, names) = blocking(move || {
        let alerts: Vec<Alert> = relay
            .team_alerts(&team, 5000)?
            .into_iter()
            .filter_map(|(_, payload)| fieldsync_core::funnel::payload::decode(&payload).ok())
            .collect();
        let names: HashMap<String, String> =
            storage.team_users(&team)?.into_iter().map(|(id, name, _)| (id, name)).collect();
        Ok((alerts, offset_of(storage.as_ref(), &team), names))
    })
    .await?;
    alerts.sort_by(|a, b| b.level.cmp(&a.level).then(a.stage_entered_at.cmp(&b.stage_entered_at)));
    let now = now_ms();
    let pages = alerts.len().div_ceil(PAGE).max(1);
    let at = query.page.unwrap_or(1).clamp(1, pages);
    let body = html! {
        h1 { "停滞 " span.en { "Stalled deals" } }
        p { (alerts.len()) " 条提醒 · alerts, 最严重的在前 · worst first" }
        table #stalls {
            thead { tr { th { "商机 Deal" } th { "销售 Rep" } th { "阶段 Stage" } th { "级别 Level" } th.num { "停留天数 Days" } th { "销售上次同步 Rep last synced" } } }
            tbody {
                @for a in alerts.iter().skip((at - 1) * PAGE).take(PAGE) {
                    tr {
                        td { a href={ "/console/deals/" (a.opportunity_id) } { (a.opportunity_title) } }
                        td { (names.get(&a.owner).map_or(a.owner.as_str(), String::as_str)) }
                        td { (a.stage.label_zh()) }
                        td { (level_label(a.level)) }
                        td.num { ((now - a.stage_entered_at).max(0) / 86_400_000) }
                        td { (a.rep_last_sync_at.map_or("从未 never".to_owned(), |t| when(t, offset))) }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="分页 Pages" {
                @if at > 1 { a href={ "?page=" (at - 1) } rel="prev" { "‹ 上一页 Previous" } }
                span { (at) " / " (pages) }
                @if at < pages { a href={ "?page=" (at + 1) } rel="next" { "下一页 Next ›" } }
            }
        }
    };
    Ok(respond(StatusCode::OK, page("停滞 Stalls", Some(&user), body)))
}

// ------------------------------------------------------------------------------ the scoreboard

/// `?period=2026-12&rep=U&metric=effective_visits`.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    rep: Option<String>,
    metric: Option<String>,
}

/// Weeks in the scoreboard's trend.
const TREND_WEEKS: usize = 8;

/// One rep's weekly value of a metric against the team's mean, for the last weeks.
struct Trend {
    metric: Metric,
    rep: Option<String>,
    weeks: Vec<Period>,
    team_mean: Vec<Option<i64>>,
    mine: Vec<Option<i64>>,
}

/// `GET /console/scoreboard?period=P`: the team table of the period (the relay's `team_table`
/// document when it keeps one, computed from the rows otherwise) and the weekly briefs.
pub async fn scoreboard(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let relay = state.relay.clone();
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let asked = query.period.clone().filter(|p| !p.is_empty());
    let metric = match query.metric.as_deref().filter(|m| !m.is_empty()) {
        None => Metric::EffectiveVisits,
        Some(name) => Metric::parse(name).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("指标 metric {name:?} 不在目录中 · is not a metric"),
            )
        })?,
    };
    let trend_rep = query.rep.clone().filter(|r| !r.is_empty());
    let (period, table, briefs, offset, trend) = blocking(move || {
        let now = now_ms();
        let rules = team_rules(storage.as_ref(), &scope.team_id)?;
        let offset = context(&rules, now).calendar.utc_offset_minutes;
        let today = Date::of_instant(now, offset);
        let period = match asked {
            None => Period::containing(PeriodKind::Month, today),
            Some(text) => text
                .parse::<Period>()
                .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, format!("期间 period {text:?}: {e}")))?,
        };
        // The trend: the last weeks up to this one, from the kept rows (one read).
        let this_week = Period::containing(PeriodKind::Week, today);
        let mut weeks = vec![this_week];
        while weeks.len() < TREND_WEEKS {
            let before = weeks[weeks.len() - 1].previous();
            weeks.push(before);
        }
        weeks.reverse();
        let (lo, hi) = (weeks[0].span_ms(offset).0, this_week.span_ms(offset).1);
        let index = relay.team_rows(&scope.team_id, lo, hi)?;
        let ctx = context(&rules, now);
        let mut team_mean = Vec::new();
        let mut mine = Vec::new();
        for week in &weeks {
            let figures = index.team(&ctx, *week);
            let facts: Vec<_> = figures.iter().map(|f| f.facts.clone()).collect();
            team_mean.push(fieldsync_core::kpi::team_aggregates(&facts).get(&metric).map(|a| a.mean));
            mine.push(
                trend_rep
                    .as_deref()
                    .and_then(|rep| figures.iter().find(|f| f.facts.rep == rep))
                    .and_then(|f| f.facts.get(metric)),
            );
        }
        let trend = Trend { metric, rep: trend_rep, weeks, team_mean, mine };
        let label = period.to_string();
        let table = match team_record::<TeamTable>(
            storage.as_ref(),
            &scope,
            team_table_id(&scope.team_id, &label),
        )? {
            Some(t) => t,
            None => {
                let (lo, hi) = period.span_ms(offset);
                let index = relay.team_rows(&scope.team_id, lo, hi)?;
                let names: HashMap<String, String> =
                    storage.team_users(&scope.team_id)?.into_iter().map(|(id, name, _)| (id, name)).collect();
                let boards = crate::relay::boards::team_boards(
                    &scope.team_id,
                    &TeamKpi { index, rules: rules.clone() },
                    &[period],
                    &names,
                    [0; 16],
                    now,
                );
                boards.into_iter().next().map(|(_, t)| t).ok_or_else(|| PageError::internal("no board"))?
            }
        };
        let briefs: Vec<_> = relay
            .team_briefs(&scope.team_id, 10)?
            .into_iter()
            .filter_map(|(_, payload)| fieldsync_core::kpi::brief::decode(&payload).ok())
            .collect();
        Ok((period, table, briefs, offset, trend))
    })
    .await?;
    let shown = [
        Metric::EffectiveVisits,
        Metric::CustomerTouchesPerDay,
        Metric::NextActionsOnTime,
        Metric::Output,
        Metric::GrossMargin,
        Metric::DataCompleteness,
    ];
    let value = |line: &fieldsync_core::model::RepLine, m: Metric| {
        line.metrics.iter().find(|v| v.metric == m.as_str()).map(|v| v.value)
    };
    let shown_value = |m: Metric, v: i64| match m.unit() {
        fieldsync_core::kpi::Unit::Fen => yuan(v),
        fieldsync_core::kpi::Unit::BasisPoints => bp(v),
        fieldsync_core::kpi::Unit::Milli => format!("{}.{:03}", v / 1000, v % 1000),
        fieldsync_core::kpi::Unit::Count => v.to_string(),
    };
    let visits: Vec<(String, i64, String)> = table
        .reps
        .iter()
        .map(|l| {
            let v = value(l, Metric::EffectiveVisits).unwrap_or(0);
            (l.name.clone(), v, v.to_string())
        })
        .collect();
    let body = html! {
        h1 { "业绩 " span.en { "Scoreboard" } " · " (period) }
        form.filter method="get" action="/console/scoreboard" {
            label for="period" { "期间 · Period (2026-W49, 2026-12, 2026-Q4)" }
            input #period name="period" type="text" value=(period) pattern="[0-9]{4}-(W[0-9]{2}|Q[1-4]|[0-9]{2})";
            button type="submit" { "查看 · Show" }
        }
        (svg::bars("有效拜访 · Effective visits", &visits))
        table #scoreboard {
            thead {
                tr {
                    th { "销售 Rep" }
                    @for m in shown { th.num { (m.label_zh()) } }
                    th.num { "预计奖金 Payout" }
                }
            }
            tbody {
                @for line in &table.reps {
                    tr {
                        td { (line.name) }
                        @for m in shown {
                            td.num { @if let Some(v) = value(line, m) { (shown_value(m, v)) } @else { "—" } }
                        }
                        td.num { @if let Some(p) = line.payout_fen { (yuan(p)) } @else { "—" } }
                    }
                }
            }
        }
        @if let Some(why) = &table.payout_unavailable { p.hint { "奖金 · Payout: " (why) } }
        p.hint { "计算于 · Computed " (when(table.computed_at, offset)) }
        h2 #trend { "每周趋势 " span.en { "Weekly trend" } }
        form.filter method="get" action="/console/scoreboard#trend" {
            input type="hidden" name="period" value=(period);
            label for="metric" { "指标 · Metric" }
            select #metric name="metric" {
                @for m in Metric::ALL { option value=(m.as_str()) selected[m == trend.metric] { (m.label_zh()) } }
            }
            label for="trend-rep" { "销售 · Rep" }
            select #trend-rep name="rep" {
                option value="" selected[trend.rep.is_none()] { "只看团队均值 · Team mean only" }
                @for line in &table.reps { option value=(line.rep) selected[trend.rep.as_deref() == Some(line.rep.as_str())] { (line.name) } }
            }
            button type="submit" { "查看 · Show" }
        }
        @let rep_name = trend.rep.as_deref().and_then(|r| table.reps.iter().find(|l| l.rep == r)).map(|l| l.name.clone());
        @let labels: Vec<String> = trend.weeks.iter().map(|w| w.to_string()[5..].to_owned()).collect();
        (svg::lines(
            &format!("{} · {}", trend.metric.label_zh(), "近 8 周 last 8 weeks"),
            &labels,
            &[("团队均值 team mean", "#8a8f98", &trend.team_mean), (rep_name.as_deref().unwrap_or(""), "#1e56b8", &trend.mine)],
        ))
        table #trend-table {
            thead { tr { th { "周 Week" } @for w in &trend.weeks { th.num { (w.to_string()) } } } }
            tbody {
                tr { td { "团队均值 Team mean" } @for v in &trend.team_mean { td.num { @if let Some(v) = v { (shown_value(trend.metric, *v)) } @else { "—" } } } }
                @if let Some(name) = &rep_name {
                    tr { td { (name) } @for v in &trend.mine { td.num { @if let Some(v) = v { (shown_value(trend.metric, *v)) } @else { "—" } } } }
                }
            }
        }
        h2 { "每周摘要 " span.en { "Weekly briefs" } }
        @if briefs.is_empty() { p.hint { "还没有 · None yet" } }
        ul #briefs {
            @for b in &briefs { li { strong { (b.week) } " " (b.text) } }
        }
    };
    Ok(respond(StatusCode::OK, page("业绩 Scoreboard", Some(&user), body)))
}

/// `GET /v1/funnel?rep=U` for supervisors' and admins' devices: the numbers the console's
/// funnel shows.
pub async fn funnel_api(
    State(state): State<AppState>,
    crate::http::auth::Device(scope): crate::http::auth::Device,
    Query(query): Query<RepQuery>,
) -> Result<axum::Json<serde_json::Value>, crate::http::error::ApiError> {
    crate::http::app::supervisor_only(&scope, "the team's funnel")?;
    let storage = state.relay.storage().clone();
    let rep = rep_filter(&query.rep).map(str::to_owned);
    let lines = tokio::task::spawn_blocking(move || -> Result<_, crate::storage::StorageError> {
        Ok(funnel_of(&storage.team_funnel(&scope.team_id, rep.as_deref())?))
    })
    .await
    .map_err(crate::http::error::ApiError::internal)??;
    Ok(axum::Json(serde_json::json!({ "stages": lines })))
}
