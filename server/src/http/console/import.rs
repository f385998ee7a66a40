//! The console's 导入 page (docs/console.md): an admin uploads a customer list (CSV, or XLSX/XLS/
//! ODS: the first sheet) for a rep of the team. The file is read by the CLI's own reader
//! (`fieldsync import`: Chinese and English headers, GBK CSV from Excel, several phones in a
//! cell); each row becomes a customer record checked with `validate()`; the relay writes them in
//! batches of 500, each through identity resolution (a duplicate of a team customer is merged
//! or queued for 查重, as a pushed one). The answer streams: a line per batch as it is written,
//! then the report: rows read, created, merged, queued for review, skipped with their reasons.

use std::collections::HashSet;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::model::{Customer, Draft, Provenance, Record};
use maud::{PreEscaped, html};

use super::auth::check_csrf;
use super::{ConsoleUser, PageError, page, respond};
use crate::http::app::AppState;
use crate::storage::{PairStatus, Role};

/// The largest list the console takes.
pub const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;
/// Customers per writer batch.
const CHUNK: usize = 500;

fn now_ms() -> i64 {
    fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock)
}

fn form(user: &ConsoleUser, reps: &[(String, String)]) -> maud::Markup {
    html! {
        form.card method="post" action="/console/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(user.csrf);
            label for="file" { "客户名单（CSV 或 XLSX，第一行为列名：公司名称、电话、地址……）· Customer list (CSV or XLSX; first row names the columns)" }
            input #file name="file" type="file" required accept=".csv,.tsv,.xlsx,.xlsm,.xls,.ods";
            label for="owner" { "归属销售 · Owner" }
            select #owner name="owner" required {
                @for (id, name) in reps { option value=(id) { (name) } }
            }
            button type="submit" { "导入 · Import" }
        }
    }
}

async fn reps_of(state: &AppState, team: &str) -> Result<Vec<(String, String)>, PageError> {
    let storage = state.relay.storage().clone();
    let team = team.to_owned();
    let users = tokio::task::spawn_blocking(move || storage.team_users(&team))
        .await
        .map_err(PageError::internal)??;
    Ok(users.into_iter().filter(|(_, _, r)| *r == Role::Rep).map(|(id, name, _)| (id, name)).collect())
}

/// `GET /console/import`.
pub async fn import_page(State(state): State<AppState>, user: ConsoleUser) -> Result<Response, PageError> {
    super::admin_only(&user, "导入")?;
    let reps = reps_of(&state, &user.team_id).await?;
    let body = html! {
        h1 { "导入 " span.en { "Import customers" } }
        p.hint { "与团队已有客户重复的会自动合并或进入查重 · Duplicates of the team's customers are merged or queued for review" }
        (form(&user, &reps))
    };
    Ok(respond(StatusCode::OK, page("导入 Import", Some(&user), body)))
}

/// `POST /console/import` (multipart): the upload, imported, and its report.
pub async fn import(
    State(state): State<AppState>,
    user: ConsoleUser,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let bad = |m: String| PageError::new(StatusCode::BAD_REQUEST, m);
    let (mut csrf, mut owner, mut file) = (None, None, None);
    while let Some(field) =
        multipart.next_field().await.map_err(|e| bad(format!("上传不完整 · The upload broke off: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = Some(field.text().await.map_err(|e| bad(e.to_string()))?),
            "owner" => owner = Some(field.text().await.map_err(|e| bad(e.to_string()))?),
            "file" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| bad(format!("文件读取失败 · The file did not arrive: {e}")))?;
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    check_csrf(&user, csrf.as_deref().unwrap_or_default())?;
    super::admin_only(&user, "导入")?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(bad("请选择文件 · Choose a file".into()));
    };
    let owner = owner.unwrap_or_default();
    let reps = reps_of(&state, &user.team_id).await?;
    let Some((_, owner_name)) = reps.iter().find(|(id, _)| *id == owner).cloned() else {
        return Err(PageError::new(StatusCode::BAD_REQUEST, "请选择本团队的销售 · Choose a rep of the team"));
    };
    let extension = std::path::Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| ["csv", "tsv", "xlsx", "xlsm", "xls", "ods"].contains(&e.as_str()))
        .ok_or_else(|| bad(format!("“{name}”：请上传 CSV 或 XLSX · Upload a .csv or .xlsx file")))?;
    let actor = state.relay.storage().relay_actor()?;
    let started = std::time::Instant::now();
    // Read and check every row off the async threads; nothing is written unless the file reads.
    let read = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join(format!("upload.{extension}"));
        std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
        let table = crate::cli::import::read_table(&path).map_err(|e| format!("{e:#}"))?;
        let (drafts, ignored) = crate::cli::import::drafts_of(&table).map_err(|e| format!("{e:#}"))?;
        let now = now_ms();
        let mut customers = Vec::new();
        let mut skipped = Vec::new();
        for (row, draft) in drafts {
            let customer: Customer = draft.into_record(
                DocId::generate(),
                Provenance { created_at: now, created_by: fieldsync_core::DeviceId::from_bytes(actor) },
            );
            match customer.validate() {
                Ok(()) => customers.push((row, customer)),
                Err(e) => skipped.push(format!("第 {row} 行 · row {row}: {e}")),
            }
        }
        Ok((customers, skipped, ignored))
    })
    .await
    .map_err(PageError::internal)?;
    let (customers, skipped, ignored) = match read {
        Ok(r) => r,
        Err(why) => return Err(bad(format!("文件无法读取 · The file does not read: {why}"))),
    };
    // From here on the answer streams: the page's head, a line per batch as the relay writes it
    // (the browser shows them as they come), then the report.
    let ids: HashSet<DocId> = customers.iter().map(|(_, c)| c.id).collect();
    let records: Vec<Customer> = customers.into_iter().map(|(_, c)| c).collect();
    let total = records.len();
    const ROWS: &str = "<!--fieldsync:rows-->";
    const REPORT: &str = "<!--fieldsync:report-->";
    let shell = page(
        "导入 Import",
        Some(&user),
        html! {
            h1 { "导入 " span.en { "Import customers" } }
            p { "正在导入 " (total) " 个客户 · Importing " (total) " customers (" (name) ")" }
            ol #progress aria-live="polite" { (PreEscaped(ROWS)) }
            (PreEscaped(REPORT))
        },
    )
    .into_string();
    let (head, rest) = shell.split_once(ROWS).ok_or_else(|| PageError::internal("no progress marker"))?;
    let (between, tail) = rest.split_once(REPORT).ok_or_else(|| PageError::internal("no report marker"))?;
    let (head, between, tail) = (head.to_owned(), between.to_owned(), tail.to_owned());
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(16);
    tokio::spawn(async move {
        // The import runs to its end even when the browser goes away: every batch is whole.
        let _ = tx.send(head).await;
        let mut written = 0;
        let mut batches = 0;
        let mut failed = None;
        for chunk in records.chunks(CHUNK) {
            if let Err(e) = state.relay.import_customers(&user.team_id, &owner, chunk.to_vec()).await {
                failed = Some(e.to_string());
                break;
            }
            written += chunk.len();
            batches += 1;
            let line = html! { li { "已写入 " (written) " / " (total) " · written" } };
            let _ = tx.send(line.into_string()).await;
        }
        let _ = tx.send(between).await;
        let outcome = Outcome { name, owner_name, skipped, ignored, reps, started, batches };
        let report = match failed {
            Some(why) => {
                tracing::error!(error = %why, "console import stopped");
                html! {
                    p.problem role="alert" {
                        "导入中止；已写入 " (written) " 个 · The import stopped; " (written) " were written"
                    }
                }
            }
            None => report(&state, &user, &ids, &outcome).await,
        };
        let _ = tx.send(report.into_string()).await;
        let _ = tx.send(tail).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(chunk)), rx))
    });
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// What the report says besides identity resolution's outcome.
struct Outcome {
    name: String,
    owner_name: String,
    skipped: Vec<String>,
    ignored: Vec<String>,
    reps: Vec<(String, String)>,
    started: std::time::Instant,
    batches: usize,
}

/// The report of an import whose batches were all written: what identity resolution made of
/// the new customers, and the rows skipped.
async fn report(state: &AppState, user: &ConsoleUser, ids: &HashSet<DocId>, o: &Outcome) -> maud::Markup {
    let storage = state.relay.storage().clone();
    let team = user.team_id.clone();
    let check = ids.clone();
    let counted =
        tokio::task::spawn_blocking(move || -> Result<(usize, usize), crate::storage::StorageError> {
            let mut merged = 0;
            for id in &check {
                if storage.customer_key(*id)?.is_some_and(|k| k.merged_into.is_some()) {
                    merged += 1;
                }
            }
            let queued = storage
                .pairs(&team, PairStatus::Pending, 10_000)?
                .iter()
                .filter(|p| check.contains(&p.a) || check.contains(&p.b))
                .count();
            Ok((merged, queued))
        })
        .await;
    let Ok(Ok((merged, queued))) = counted else {
        tracing::error!(result = ?counted.err(), "console import report failed");
        return html! { p.problem role="alert" { "已导入，但统计失败 · Imported; the report failed (logged)" } };
    };
    tracing::info!(user_id = %user.user_id, created = ids.len(), merged, queued, "console import");
    html! {
        section.report #import-report role="status" {
            h2 { "导入结果 " span.en { "Report" } " · " (o.name) }
            dl.facts {
                dt { "读取行数 Rows read" } dd #rows { (ids.len() + o.skipped.len()) }
                dt { "新建客户 Created" } dd #created { (ids.len() - merged) }
                dt { "合并到已有客户 Merged into a customer" } dd #merged { (merged) }
                dt { "待查重 Queued for review" } dd #queued { (queued) }
                dt { "跳过 Skipped" } dd #skipped { (o.skipped.len()) }
                dt { "归属 Owner" } dd { (o.owner_name) }
                dt { "用时 Took" } dd { (o.started.elapsed().as_millis()) " ms · " (o.batches) " 批 batches" }
            }
            @if !o.skipped.is_empty() { ul #skipped-rows { @for line in &o.skipped { li { (line) } } } }
            @if !o.ignored.is_empty() { p.hint { "忽略的列 · Ignored columns: " (o.ignored.join(", ")) } }
            @if queued > 0 { p { a href="/console/review" { "去查重 · Review the possible duplicates" } } }
        }
        (form(user, &o.reps))
    }
}
