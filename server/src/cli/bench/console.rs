//! `fieldsync bench console`: the console's funnel page of a team with `deals` deals, rendered by
//! the relay's own router in this process (routing, the session check, the SQL, the HTML), p50
//! and p99 of the server time; the reference in the same run is `GET /healthz` through the same
//! router. The deals are written as the writer writes them (the scheduler's rows and the KPI rows
//! in one batch) into a real relay database.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::DocId;
use fieldsync_core::kpi::{DealRow, KpiRow};
use fieldsync_core::model::Stage;
use http_body_util::BodyExt;
use serde_json::json;
use sha2::Digest;
use tower::ServiceExt;

use super::emit;
use crate::config::RelayConfig;
use crate::http::app::{AppState, app};
use crate::storage::console::ConsoleStorage;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{BatchWrite, KpiRowWrite, RelayStorage, Role, ScheduleRow, ScheduleWrite};

/// The bench's size.
#[derive(Debug, Clone)]
pub struct ConsoleBench {
    /// Deals in the team.
    pub deals: u32,
    /// Times each page is rendered.
    pub samples: u32,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the bench.
pub fn run(bench: &ConsoleBench) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(dir.path())?);
    let tenant = storage.create_tenant("bench", 0)?;
    let team = storage.create_team(&tenant, "bench", 0)?;
    let reps: Vec<String> = (0..20)
        .map(|i| storage.create_user(&team, &format!("rep {i}"), Role::Rep, 0))
        .collect::<Result<_, _>>()?;
    let boss = storage.create_user(&team, "boss", Role::Supervisor, 0)?;
    let now = fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock);
    let mut schedule = Vec::new();
    let mut rows = Vec::new();
    for i in 0..bench.deals {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        id[15] = 1;
        let doc_id = DocId::from_bytes(id);
        let stage = Stage::ALL[(i as usize * 7 / 10) % 7];
        let rep = &reps[i as usize % reps.len()];
        let amount_fen = 10_000 * (1 + i64::from(i % 97));
        schedule.push(ScheduleWrite::Deal(ScheduleRow {
            doc_id,
            team_id: team.clone(),
            rep_user_id: Some(rep.clone()),
            customer_id: DocId::from_bytes([2; 16]),
            owner: rep.clone(),
            title: format!("商机 {i}"),
            stage: stage.as_str().to_owned(),
            stage_entered_at: now - i64::from(i) * 60_000,
            doc_activity_at: now,
            next_due_at: None,
            held: false,
        }));
        let row = KpiRow::Deal(DealRow {
            customer: "c".into(),
            won: stage == Stage::Won,
            closed_at: None,
            created_at: now,
            has_amount: true,
            amount_fen,
            margin_fen: 0,
            quotes: Vec::new(),
            proposed_at: None,
        });
        rows.push(KpiRowWrite {
            doc_id,
            team_id: team.clone(),
            rep: Some(rep.clone()),
            lo: now,
            hi: now,
            is_deal: true,
            row: serde_json::to_string(&row)?,
        });
    }
    storage.commit_batch(
        BatchWrite {
            entries: &[],
            documents: &[],
            flags: &[],
            customers: &[],
            pairs: &[],
            conflicts: &[],
            schedule: &schedule,
            alerts: &[],
            owners: &[],
            document_customers: &[],
            kpi_rows: &rows,
            kpi_slips: &[],
        },
        now,
    )?;
    let token = "bench-session";
    let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
    storage.console_start_session(hash, &boss, "csrf", now, now + 3_600_000)?;
    let config =
        RelayConfig { data_dir: dir.path().to_owned(), scheduler_interval_secs: 0, ..Default::default() };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let state = AppState::new(storage.clone(), config)?;
        let get = |uri: String, cookie: bool| {
            let state = state.clone();
            async move {
                let mut request = Request::builder().uri(uri);
                if cookie {
                    request = request.header(header::COOKIE, format!("fs_console={token}"));
                }
                let started = Instant::now();
                let response = app(state).oneshot(request.body(Body::empty())?).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                anyhow::Ok((status, body.len(), ms))
            }
        };
        let mut figures = serde_json::Map::new();
        for (name, uri, cookie) in [
            ("funnel", "/console/funnel".to_owned(), true),
            ("funnel_one_rep", format!("/console/funnel?rep={}", reps[0]), true),
            ("stage_page", "/console/funnel/ProposalSubmitted".to_owned(), true),
            ("reference_healthz", "/healthz".to_owned(), false),
        ] {
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..bench.samples.max(1) {
                let (status, len, ms) = get(uri.clone(), cookie).await?;
                if status != StatusCode::OK {
                    bail!("{uri} answered {status}");
                }
                bytes = len;
                times.push(ms);
            }
            times.sort_by(f64::total_cmp);
            figures.insert(
                name.into(),
                json!({ "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99), "bytes": bytes }),
            );
        }
        emit(json!({ "bench": "console", "deals": bench.deals, "samples": bench.samples, "pages": figures }));
        Ok(())
    })
}
