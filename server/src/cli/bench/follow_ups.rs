//! `fieldsync bench activity` and `fieldsync bench timeline`: logging a follow-up on the phone
//! against a bare durable insert, and reading one customer's timeline among many other
//! customers' records against a plain indexed read of one projection table, each reference
//! measured in the same run on the same disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fieldsync_core::model::{
    ActivityType, NewActivity, NewCustomer, NewLeadCard, NewOpportunity, NewVisit, NextAction, Stage,
};
use fieldsync_core::store::TimelineCursor;
use fieldsync_core::{DocId, Store};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::json;

use super::emit;
use super::store::{against_durable_insert, newest_change_sizes, populate, round};
use crate::process::quantile;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// What `bench activity` runs.
#[derive(Debug, Clone)]
pub struct ActivityBench {
    /// Documents in the store the activities are logged into.
    pub documents: u32,
    /// Activities logged for the latency figures.
    pub samples: u32,
    /// Where to put the store; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
}

/// What `bench timeline` runs.
#[derive(Debug, Clone)]
pub struct TimelineBench {
    /// Documents in the store, the timeline's included.
    pub documents: u32,
    /// Entries in the one customer's timeline (visits, activities, deals, lead cards).
    pub entries: u32,
    /// Entries per page.
    pub page: u32,
    /// Times each read is timed.
    pub samples: u32,
    /// Where to put the store; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
}

/// A fresh store file `name` in `dir` (or a temporary directory, kept alive by the guard).
fn store_path(dir: Option<&Path>, name: &str) -> Result<(tempfile::TempDir, PathBuf, PathBuf)> {
    let (temp, dir) = super::workdir(dir.map(Path::to_owned))?;
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    Ok((temp, dir, path))
}

/// A call as a rep logs it after hanging up: contact, number, duration, outcome, what was said
/// and the next action, on the customer's deal.
fn realistic_call(customer_id: DocId, deal_id: DocId, at: i64) -> NewActivity {
    NewActivity {
        activity_type: ActivityType::Call,
        customer_id,
        opportunity_id: Some(deal_id),
        visit_id: None,
        contact: Some("王经理".into()),
        phone: Some("138 1234 5678".into()),
        at,
        duration_s: Some(247),
        summary: "客户确认下月扩产，需要两台五轴机床的报价；对交期比较敏感，希望六周内到货。".into(),
        outcome: Some("接通".into()),
        next_action: Some(NextAction {
            what: "发报价单".into(), due_at: at + 48 * HOUR_MS, done_at: None
        }),
    }
}

/// Runs `bench activity`: a store of N documents, one existing customer and deal, then
/// `Store::log_activity` timed `samples` times, each its own durable transaction.
pub fn run_activity(bench: &ActivityBench) -> Result<()> {
    let (_temp, dir, path) =
        store_path(bench.dir.as_deref(), &format!("bench-activity-{}.fieldsync", bench.documents))?;
    let customers = populate(&path, bench.documents.max(3))?;
    let store = Store::open(&path)?;
    let customer_id = *customers.first().context("no customer")?;
    let deal = store.create(NewOpportunity {
        customer_id,
        owner: "rep-0".into(),
        title: "五轴机床两台".into(),
        stage: Stage::ProposalSubmitted,
        amount: None,
        expected_close_at: None,
        next_action_due_at: None,
    })?;
    let mut latencies = Vec::with_capacity(bench.samples as usize);
    for _ in 0..bench.samples {
        let draft = realistic_call(customer_id, deal.id, store.now_ms());
        let started = Instant::now();
        store.log_activity(draft)?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let sizes = newest_change_sizes(&store, bench.samples)?;
    store.close()?;
    let mut line = json!({
        "bench": "activity-log",
        "documents": bench.documents,
        "reference": "one rusqlite INSERT of a blob the size of the activity's change, WAL + synchronous=FULL, own transaction",
    });
    line.as_object_mut().context("a JSON object")?.extend(against_durable_insert(latencies, &sizes, &dir)?);
    emit(line);
    Ok(())
}

/// Runs `bench timeline`: one customer with `entries` mixed records among the rest of the
/// store, then its first page and a walk through every page, each timed `samples` times,
/// alternating with the reference read.
pub fn run_timeline(bench: &TimelineBench) -> Result<()> {
    let (_temp, _dir, path) =
        store_path(bench.dir.as_deref(), &format!("bench-timeline-{}.fieldsync", bench.documents))?;
    let started = Instant::now();
    let (customer_id, documents) = populate_timeline(&path, bench.documents, bench.entries)?;
    let populate_s = started.elapsed().as_secs_f64();

    let store = Store::open(&path)?;
    let reference = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let page = bench.page.max(1);
    let mut first_page = Vec::new();
    let mut reference_page = Vec::new();
    let mut walk = Vec::new();
    let mut pages = 0;
    for _ in 0..bench.samples.max(1) {
        let started = Instant::now();
        let first = store.customer_timeline(customer_id, None, page)?;
        first_page.push(started.elapsed().as_secs_f64() * 1000.0);
        if first.entries.is_empty() {
            bail!("the customer's timeline is empty");
        }

        let started = Instant::now();
        let rows = reference_page_read(&reference, customer_id, page)?;
        reference_page.push(started.elapsed().as_secs_f64() * 1000.0);
        if rows == 0 {
            bail!("the reference read found nothing");
        }

        let started = Instant::now();
        let (seen, walked) = walk_timeline(&store, customer_id, page)?;
        walk.push(started.elapsed().as_secs_f64() * 1000.0);
        if seen != bench.entries as usize {
            bail!("the walk saw {seen} entries, not {}", bench.entries);
        }
        pages = walked;
    }
    store.close()?;
    for v in [&mut first_page, &mut reference_page, &mut walk] {
        v.sort_by(f64::total_cmp);
    }
    let p50 = quantile(&first_page, 0.5);
    let reference_p50 = quantile(&reference_page, 0.5);
    emit(json!({
        "bench": "customer-timeline",
        "documents": documents,
        "entries": bench.entries,
        "page_entries": page,
        "samples": first_page.len(),
        "first_page_ms_p50": round(p50),
        "first_page_ms_p99": round(quantile(&first_page, 0.99)),
        "all_pages_ms_p50": round(quantile(&walk, 0.5)),
        "all_pages_ms_p99": round(quantile(&walk, 0.99)),
        "pages": pages,
        "reference_page_ms_p50": round(reference_p50),
        "reference_page_ms_p99": round(quantile(&reference_page, 0.99)),
        "ratio_first_page_to_reference": round(p50 / reference_p50),
        "populate_seconds": round(populate_s),
        "reference": "plain rusqlite: one page of the customer's rows from activity_index alone, by its (customer_id, at) index",
    }));
    Ok(())
}

/// Every page of the customer's timeline, oldest last: entries seen and pages read.
fn walk_timeline(store: &Store, customer_id: DocId, page: u32) -> Result<(usize, u32)> {
    let mut before: Option<TimelineCursor> = None;
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let read = store.customer_timeline(customer_id, before, page)?;
        seen += read.entries.len();
        pages += 1;
        match read.next {
            Some(next) => before = Some(next),
            None => return Ok((seen, pages)),
        }
    }
}

/// The floor of a timeline page: the newest `page` rows of one projection table by its index.
fn reference_page_read(conn: &Connection, customer_id: DocId, page: u32) -> Result<usize> {
    let mut statement = conn.prepare_cached(
        "SELECT doc_id, at, activity_type, summary_head FROM activity_index
         WHERE customer_id = ?1 ORDER BY at DESC, doc_id DESC LIMIT ?2",
    )?;
    let mut rows = statement.query(params![customer_id.to_string(), i64::from(page)])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let _: (String, i64, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        count += 1;
    }
    Ok(count)
}

/// Fills the store: `documents` in all, of which one customer's `entries` timeline records (a
/// third activities, a third visits, a sixth each deals and lead cards) and a tenth activities
/// of other customers; the rest is `bench store`'s mix. Returns the customer and the count.
fn populate_timeline(path: &Path, documents: u32, entries: u32) -> Result<(DocId, u32)> {
    let others_activities = documents / 10;
    let background = documents.saturating_sub(entries + 1 + others_activities).max(3);
    let customers = populate(path, background)?;
    let store = Store::open(path)?;
    let base = 1_790_000_000_000_i64;

    for chunk in (0..others_activities).collect::<Vec<_>>().chunks(1000) {
        let drafts = chunk.iter().map(|&i| NewActivity {
            activity_type: if i % 3 == 0 { ActivityType::Message } else { ActivityType::Call },
            customer_id: customers[i as usize % customers.len()],
            opportunity_id: None,
            visit_id: None,
            contact: None,
            phone: Some(format!("138{:08}", i)),
            at: base + i64::from(i) * 600_000,
            duration_s: Some(60),
            summary: format!("跟进 {i}：客户询问交期"),
            outcome: None,
            next_action: None,
        });
        store.create_batch(drafts.collect())?;
    }

    let customer = store.create(NewCustomer {
        company_name: "苏州时间线精密机械有限公司".into(),
        phones: vec!["0512-6666 0500".into()],
        ..Default::default()
    })?;
    let (activities, visits) = (entries / 3, entries / 3);
    let deals = (entries - activities - visits) / 2;
    let cards = entries - activities - visits - deals;
    let at = |i: u32| base + i64::from(i) * 7 * HOUR_MS;
    // A visit activity needs its visit; the timeline's visits are visit records of their own.
    let types = [
        ActivityType::Call,
        ActivityType::Message,
        ActivityType::Meeting,
        ActivityType::SampleSent,
        ActivityType::QuoteSent,
    ];
    store.create_batch(
        (0..activities)
            .map(|i| NewActivity {
                activity_type: types[i as usize % types.len()],
                customer_id: customer.id,
                opportunity_id: None,
                visit_id: None,
                contact: Some("王经理".into()),
                phone: None,
                at: at(i),
                duration_s: None,
                summary: format!("第 {i} 次跟进：样品反馈良好，讨论批量价格"),
                outcome: None,
                next_action: None,
            })
            .collect(),
    )?;
    store.create_batch(
        (0..visits)
            .map(|i| NewVisit {
                customer_id: customer.id,
                opportunity_id: None,
                planned_at: at(i) + HOUR_MS,
                notes: format!("拜访 {i}"),
            })
            .collect(),
    )?;
    store.create_batch(
        (0..deals)
            .map(|i| NewOpportunity {
                customer_id: customer.id,
                owner: "rep-0".into(),
                title: format!("商机 {i}"),
                stage: Stage::ALL[i as usize % 5],
                amount: None,
                expected_close_at: None,
                next_action_due_at: None,
            })
            .collect(),
    )?;
    store.create_batch(
        (0..cards)
            .map(|i| NewLeadCard {
                raw_payload: format!("MECARD:N:联系人{i};TEL:1390000{i:04};;"),
                format: "mecard".into(),
                name: Some(format!("联系人{i}")),
                company: Some(customer.company_name.clone()),
                customer_id: Some(customer.id),
                ..Default::default()
            })
            .collect(),
    )?;
    let documents = store.document_count()? as u32;
    store.close()?;
    Ok((customer.id, documents))
}
