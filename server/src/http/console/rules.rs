//! The console's 规则 page (docs/console.md): the team's rules — geofence, required customer
//! fields, stall thresholds per stage, the pool's rules — and its incentive rules (规则中心), as a
//! form. Admins save it: the relay checks the whole record with the same `validate()` the phones
//! and the sync intake run, shows each error beside its field and saves nothing; a valid form is
//! written to the team's rules document by the relay's actor, so every phone receives it. The
//! sandbox (策略沙盒) tries candidate incentive rules on the last complete periods first, changing
//! nothing.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_core::DocId;
use fieldsync_core::kpi::{Date, IncentiveRules, sandbox};
use fieldsync_core::model::{GeofenceMode, Provenance, Record, TeamRules};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::check_csrf;
use super::{ConsoleUser, PageError, page, respond};
use crate::http::app::AppState;
use crate::relay::kpi::context;
use crate::storage::Role;

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

/// The team's rules document as stored (read as a record), or the defaults with a fresh id when
/// the team has none yet.
fn current_rules(
    storage: &dyn crate::storage::RelayStorage,
    user: &ConsoleUser,
) -> Result<TeamRules, PageError> {
    if let Some(id) = storage.team_rules_document(&user.team_id)?
        && let Some(rules) = super::pages::team_record::<TeamRules>(storage, user, id)?
    {
        return Ok(rules);
    }
    let mut rules = TeamRules::defaults();
    rules.id = DocId::generate();
    rules.provenance = Provenance {
        created_at: now_ms(),
        created_by: fieldsync_core::DeviceId::from_bytes(storage.relay_actor()?),
    };
    Ok(rules)
}

/// The form, as posted (every field a string, so a bad number is an error in place, not a 400).
#[derive(Debug, Default, Deserialize)]
pub struct RulesForm {
    csrf: String,
    #[serde(default)]
    geofence_radius_m: String,
    #[serde(default)]
    geofence_mode: String,
    #[serde(default)]
    required_customer_fields: String,
    #[serde(default)]
    alert_grace_hours: String,
    #[serde(default)]
    pool_return_days: String,
    #[serde(default)]
    max_owned_customers: String,
    #[serde(default)]
    incentive_rules: String,
    #[serde(default)]
    periods: String,
    #[serde(flatten)]
    stages: HashMap<String, String>,
}

impl RulesForm {
    fn of(rules: &TeamRules, csrf: &str) -> RulesForm {
        let mut stages = HashMap::new();
        for rule in &rules.stage_rules {
            stages.insert(format!("no_activity_{}", rule.stage.as_str()), rule.no_activity_days.to_string());
            stages.insert(format!("max_days_{}", rule.stage.as_str()), rule.max_stage_days.to_string());
        }
        let versions: Vec<serde_json::Value> =
            rules.incentive_rules.iter().filter_map(|v| serde_json::from_str(v).ok()).collect();
        RulesForm {
            csrf: csrf.to_owned(),
            geofence_radius_m: format!("{}", rules.geofence_radius_m),
            geofence_mode: match rules.geofence_mode {
                GeofenceMode::Soft => "soft".into(),
                GeofenceMode::Hard => "hard".into(),
            },
            required_customer_fields: rules.required_customer_fields.join(", "),
            alert_grace_hours: rules.alert_grace_hours.to_string(),
            pool_return_days: rules.pool_return_days.to_string(),
            max_owned_customers: rules.max_owned_customers.to_string(),
            incentive_rules: serde_json::to_string_pretty(&versions).unwrap_or_else(|_| "[]".into()),
            periods: "4".into(),
            stages,
        }
    }

    /// `rules` with this form's values; the errors by field when a value does not read.
    fn apply(&self, mut rules: TeamRules) -> Result<TeamRules, HashMap<String, String>> {
        let mut errors = HashMap::new();
        fn number<T: std::str::FromStr>(
            errors: &mut HashMap<String, String>,
            field: &str,
            text: &str,
        ) -> Option<T> {
            match text.trim().parse::<T>() {
                Ok(v) => Some(v),
                Err(_) => {
                    errors.insert(
                        field.to_owned(),
                        format!("“{}” 不是有效的数字 · is not a valid number", text.trim()),
                    );
                    None
                }
            }
        }
        if let Some(v) = number::<f64>(&mut errors, "geofence_radius_m", &self.geofence_radius_m) {
            rules.geofence_radius_m = v;
        }
        match self.geofence_mode.as_str() {
            "soft" => rules.geofence_mode = GeofenceMode::Soft,
            "hard" => rules.geofence_mode = GeofenceMode::Hard,
            other => {
                errors.insert("geofence_mode".into(), format!("“{other}”: soft 或 hard"));
            }
        }
        rules.required_customer_fields = self
            .required_customer_fields
            .split([',', '，'])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(v) = number(&mut errors, "alert_grace_hours", &self.alert_grace_hours) {
            rules.alert_grace_hours = v;
        }
        if let Some(v) = number(&mut errors, "pool_return_days", &self.pool_return_days) {
            rules.pool_return_days = v;
        }
        if let Some(v) = number(&mut errors, "max_owned_customers", &self.max_owned_customers) {
            rules.max_owned_customers = v;
        }
        for rule in &mut rules.stage_rules {
            let stage = rule.stage.as_str();
            let key = format!("no_activity_{stage}");
            if let Some(text) = self.stages.get(&key)
                && let Some(v) = number(&mut errors, &key, text)
            {
                rule.no_activity_days = v;
            }
            let key = format!("max_days_{stage}");
            if let Some(text) = self.stages.get(&key)
                && let Some(v) = number(&mut errors, &key, text)
            {
                rule.max_stage_days = v;
            }
        }
        match serde_json::from_str::<Vec<serde_json::Value>>(&self.incentive_rules) {
            Ok(versions) => rules.incentive_rules = versions.iter().map(|v| v.to_string()).collect(),
            Err(e) => {
                errors.insert(
                    "incentive_rules".into(),
                    format!("不是 JSON 数组 · not a JSON array of versions: {e}"),
                );
            }
        }
        if errors.is_empty() { Ok(rules) } else { Err(errors) }
    }
}

/// Which form field a validation error's field belongs to.
fn field_of(field: &str) -> &str {
    match field {
        f if f.starts_with("incentive_rules") => "incentive_rules",
        f if f.starts_with("stage_rules") => "stage_rules",
        f if f.starts_with("required_customer_fields") => "required_customer_fields",
        f => f,
    }
}

fn error_for(errors: &HashMap<String, String>, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.get(field) {
            p.field-error id={ (field) "-error" } role="alert" { (message) }
        }
    }
}

struct Shown<'a> {
    user: &'a ConsoleUser,
    form: &'a RulesForm,
    rules: &'a TeamRules,
    errors: HashMap<String, String>,
    notice: Option<String>,
    sandbox: Option<Markup>,
}

fn rules_page(s: Shown<'_>) -> Markup {
    let admin = s.user.role == Role::Admin;
    let f = s.form;
    let e = &s.errors;
    let input = |name: &str, label: &str, value: &str, kind: &str| -> Markup {
        html! {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) value=(value) disabled[!admin]
                aria-invalid=[e.contains_key(name).then_some("true")]
                aria-describedby=[e.contains_key(name).then(|| format!("{name}-error"))];
            (error_for(e, name))
        }
    };
    let body = html! {
        h1 { "规则 " span.en { "Rules" } }
        @if let Some(notice) = &s.notice { p.notice role="status" { (notice) } }
        @if !e.is_empty() { p.problem role="alert" #rules-problem { "没有保存：请改正标出的字段 · Nothing was saved: correct the fields marked below" } }
        @if !admin { p.hint { "只有管理员可以修改规则 · Only admins change the rules" } }
        form.card.rules method="post" action="/console/rules" {
            input type="hidden" name="csrf" value=(f.csrf);
            fieldset {
                legend { "拜访 · Visits" }
                (input("geofence_radius_m", "现场半径（米）· On-site radius (m)", &f.geofence_radius_m, "text"))
                label for="geofence_mode" { "超出半径时 · Outside the radius" }
                select #geofence_mode name="geofence_mode" disabled[!admin] {
                    option value="soft" selected[f.geofence_mode == "soft"] { "标记 · flag the visit" }
                    option value="hard" selected[f.geofence_mode == "hard"] { "拒绝 · refuse on-site" }
                }
                (error_for(e, "geofence_mode"))
            }
            fieldset {
                legend { "客户 · Customers" }
                (input("required_customer_fields", "必填字段（逗号分隔）· Required fields (comma-separated)", &f.required_customer_fields, "text"))
                (input("pool_return_days", "无跟进退回公海天数 · Days without follow-up before the pool", &f.pool_return_days, "text"))
                (input("max_owned_customers", "每人最多客户数 · Most customers per rep", &f.max_owned_customers, "text"))
            }
            fieldset {
                legend { "停滞提醒 · Stall alerts" }
                (input("alert_grace_hours", "等待销售同步（小时）· Hours to wait for the rep's sync", &f.alert_grace_hours, "text"))
                (error_for(e, "stage_rules"))
                table.stages {
                    thead { tr { th { "阶段 Stage" } th { "无活动天数 No activity (days)" } th { "阶段最长天数 Max days" } } }
                    tbody {
                        @for rule in &s.rules.stage_rules {
                            @let a = format!("no_activity_{}", rule.stage.as_str());
                            @let m = format!("max_days_{}", rule.stage.as_str());
                            tr {
                                td { (rule.stage.label_zh()) }
                                td { input name=(a) aria-label={ (rule.stage.label_zh()) " 无活动天数" } type="text" value=(f.stages.get(&a).map_or("", String::as_str)) disabled[!admin]; (error_for(e, &a)) }
                                td { input name=(m) aria-label={ (rule.stage.label_zh()) " 阶段最长天数" } type="text" value=(f.stages.get(&m).map_or("", String::as_str)) disabled[!admin]; (error_for(e, &m)) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "激励规则 · Incentive rules (规则中心)" }
                label for="incentive_rules" { "版本（JSON 数组，格式见 docs/kpi.md）· Versions (a JSON array; docs/kpi.md)" }
                textarea #incentive_rules name="incentive_rules" rows="14" disabled[!admin]
                    aria-invalid=[e.contains_key("incentive_rules").then_some("true")]
                    aria-describedby=[e.contains_key("incentive_rules").then_some("incentive_rules-error")] { (f.incentive_rules) }
                (error_for(e, "incentive_rules"))
                label for="periods" { "沙盒试算的期数 · Periods for the sandbox" }
                input #periods name="periods" type="text" value=(f.periods) disabled[!admin];
                (error_for(e, "periods"))
            }
            @if admin {
                div.actions {
                    button type="submit" formaction="/console/rules/sandbox" { "沙盒试算（不保存）· Try in the sandbox" }
                    button type="submit" { "保存 · Save" }
                }
            }
        }
        @if let Some(result) = &s.sandbox { (result) }
    };
    page("规则 Rules", Some(s.user), body)
}

/// `?saved=1` after a save.
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /console/rules`.
pub async fn rules(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Query(query): axum::extract::Query<SavedQuery>,
) -> Result<Response, PageError> {
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let rules = tokio::task::spawn_blocking(move || current_rules(storage.as_ref(), &scope))
        .await
        .map_err(PageError::internal)??;
    let form = RulesForm::of(&rules, &user.csrf);
    let notice = query
        .saved
        .is_some()
        .then(|| "已保存，手机下次同步时收到 · Saved; phones receive it at their next sync".to_owned());
    let shown =
        Shown { user: &user, form: &form, rules: &rules, errors: HashMap::new(), notice, sandbox: None };
    Ok(respond(StatusCode::OK, rules_page(shown)))
}

/// The posted form, checked: the new rules, or the page with the errors in place.
async fn checked(
    state: &AppState,
    user: &ConsoleUser,
    form: &RulesForm,
) -> Result<Result<TeamRules, Response>, PageError> {
    let storage = state.relay.storage().clone();
    let scope = user.clone();
    let current = tokio::task::spawn_blocking(move || current_rules(storage.as_ref(), &scope))
        .await
        .map_err(PageError::internal)??;
    let errors = match form.apply(current.clone()) {
        Ok(rules) => match rules.validate() {
            Ok(()) => return Ok(Ok(rules)),
            Err(e) => HashMap::from([(field_of(e.field).to_owned(), format!("{}: {}", e.field, e.problem))]),
        },
        Err(errors) => errors,
    };
    let shown = Shown { user, form, rules: &current, errors, notice: None, sandbox: None };
    Ok(Err(respond(StatusCode::BAD_REQUEST, rules_page(shown))))
}

/// A posted rules form that reads, from an admin, with the session's CSRF token.
fn admin_form(
    user: &ConsoleUser,
    form: Result<Form<RulesForm>, FormRejection>,
) -> Result<RulesForm, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::new(StatusCode::BAD_REQUEST, "表单不完整 · Incomplete form"));
    };
    check_csrf(user, &form.csrf)?;
    super::admin_only(user, "修改规则")?;
    Ok(form)
}

/// `POST /console/rules` (admins): saves the form when the whole record is valid.
pub async fn save(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<RulesForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = admin_form(&user, form)?;
    let rules = match checked(&state, &user, &form).await? {
        Ok(rules) => rules,
        Err(page) => return Ok(page),
    };
    state.relay.write_team_rules(&user.team_id, rules).await?;
    tracing::info!(user_id = %user.user_id, team_id = %user.team_id, "console saved the team rules");
    Ok(Redirect::to("/console/rules?saved=1").into_response())
}

/// `POST /console/rules/sandbox` (admins): the newest version in the form against the rules in
/// force, over the last complete periods of its kind; nothing is saved.
pub async fn try_sandbox(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<RulesForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = admin_form(&user, form)?;
    let candidate_rules = match checked(&state, &user, &form).await? {
        Ok(rules) => rules,
        Err(page) => return Ok(page),
    };
    let in_error = |field: &str, message: String| -> Result<Response, PageError> {
        let errors = HashMap::from([(field.to_owned(), message)]);
        let shown =
            Shown { user: &user, form: &form, rules: &candidate_rules, errors, notice: None, sandbox: None };
        Ok(respond(StatusCode::BAD_REQUEST, rules_page(shown)))
    };
    let Some(candidate) =
        candidate_rules.incentive_rules.last().and_then(|v| serde_json::from_str::<IncentiveRules>(v).ok())
    else {
        return in_error("incentive_rules", "没有可试算的版本 · No version to try".into());
    };
    let Ok(periods) = form.periods.trim().parse::<u32>() else {
        return in_error(
            "periods",
            format!("“{}” 不是有效的数字 · is not a valid number", form.periods.trim()),
        );
    };
    let relay = state.relay.clone();
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<Result<_, (String, String)>, PageError> {
        let rules = crate::relay::kpi::team_rules(storage.as_ref(), &team)?;
        let Some(book) = rules.rule_book().ok().flatten() else {
            return Ok(Err((
                "incentive_rules".into(),
                "团队还没有生效的激励规则可比较 · The team has no rules in force to compare with".into(),
            )));
        };
        let now = now_ms();
        let ctx = context(&rules, now);
        let offset = ctx.calendar.utc_offset_minutes;
        let periods =
            match crate::http::kpi::last_complete(candidate.period, Date::of_instant(now, offset), periods) {
                Ok(p) => p,
                Err(e) => return Ok(Err(("periods".into(), e.message))),
            };
        let lo = periods.first().map_or(0, |p| p.span_ms(offset).0);
        let hi = periods.last().map_or(0, |p| p.span_ms(offset).1);
        let index = relay.team_rows(&team, lo, hi)?;
        let facts: Vec<_> = periods.iter().flat_map(|p| index.team(&ctx, *p)).map(|f| f.facts).collect();
        let names: HashMap<String, String> =
            storage.team_users(&team)?.into_iter().map(|(id, name, _)| (id, name)).collect();
        Ok(match sandbox(&book, &candidate, &facts, periods.len()) {
            Ok(report) => Ok((report, names)),
            Err(e) => Err(("incentive_rules".into(), e.to_string())),
        })
    })
    .await
    .map_err(PageError::internal)??;
    let (report, names) = match report {
        Ok(r) => r,
        Err((field, message)) => return in_error(&field, message),
    };
    let result = html! {
        section.sandbox #sandbox {
            h2 { "沙盒结果（未保存）" span.en { " Sandbox — nothing saved" } }
            p { (report.periods.len()) " 期 · periods: " (report.periods.first().map(|p| p.to_string()).unwrap_or_default()) " – " (report.periods.last().map(|p| p.to_string()).unwrap_or_default()) }
            p #sandbox-total {
                "现行 Current " (super::pages::yuan(report.current_total_fen)) " → 候选 Candidate " (super::pages::yuan(report.candidate_total_fen))
                " (" (super::pages::yuan(report.change_fen)) @if let Some(bp) = report.change_bp { ", " (bp / 100) "." ((bp % 100).abs() / 10) "%" } ")"
            }
            table {
                thead { tr { th { "销售 Rep" } th.num { "现行 Current" } th.num { "候选 Candidate" } th.num { "变化 Change" } th.num { "排名 Rank" } th { "跨档 Tier crossings" } } }
                tbody {
                    @for rep in &report.reps {
                        tr {
                            td { (names.get(&rep.rep).map_or(rep.rep.as_str(), String::as_str)) }
                            td.num { (super::pages::yuan(rep.current_fen)) }
                            td.num { (super::pages::yuan(rep.candidate_fen)) }
                            td.num { (super::pages::yuan(rep.change_fen)) }
                            td.num { (rep.rank_current) " → " (rep.rank_candidate) }
                            td { @for c in &rep.crossings { (c.period) ": " (c.current) " → " (c.candidate) " " } }
                        }
                    }
                }
            }
        }
    };
    let shown = Shown {
        user: &user,
        form: &form,
        rules: &candidate_rules,
        errors: HashMap::new(),
        notice: Some("以下为试算，规则没有保存 · A trial: the rules were not saved".into()),
        sandbox: Some(result),
    };
    Ok(respond(StatusCode::OK, rules_page(shown)))
}
