//! `fieldsync bench kpi`: the KPI computation and the incentive sandbox on a generated team.
//!
//! A team of `reps` reps over `days` days: each working day every rep makes 3 visits (every
//! fourth without a slip, every tenth off site), 4 follow-ups with next actions, and opens a
//! deal every fifth day that moves on and is won or lost. Every slip is sealed by a real device
//! key, so classifying a visit verifies a real Ed25519 signature. Figures:
//! - `dashboard`: one rep's week, month and quarter figures and the month's projected payout on
//!   the phone, from a real store holding that rep's two years of records written through the
//!   store's API (slips signed by the store), p50/p99; against the reference of the same store
//!   listing the month's visits; and the same figures computed from the records (the relay's
//!   path), which must agree;
//! - `repair_team_year`: every rep's months and quarters of a year recomputed from the team's
//!   records;
//! - `scoreboards`: the relay's refresh of a `reps`-rep team's boards (docs/kpi.md,
//!   "Scoreboards"): the rows of the six periods kept read from a real relay database holding the
//!   team's year of rows, the six scoreboards and team tables computed, and each written into
//!   an Automerge document and saved, as the writer stores them;
//! - `sandbox`: a candidate over the last four quarters of a `reps`-rep team's facts.

use std::time::Instant;

use anyhow::{Result, bail};
use fieldsync_core::evidence::seal_slip;
use fieldsync_core::ids::DocId;
use fieldsync_core::kpi::{
    ByRep, Date, IncentiveRules, KpiContext, KpiIndex, KpiRecords, Period, PeriodKind, RuleBook,
    TeamCalendar, sandbox,
};
use fieldsync_core::model::{
    Activity, ActivityType, Money, NextAction, Opportunity, PhotoRef, Provenance, ServiceSlip, SlipItem,
    Stage, StageChange, Visit,
};
use fieldsync_core::{DeviceIdentity, Store};
use serde_json::json;

use super::emit;

const HOUR: i64 = 3_600_000;
const CN: i32 = 480;

/// The bench's size.
#[derive(Debug, Clone)]
pub struct KpiBench {
    /// Reps in the team.
    pub reps: u32,
    /// Days of history.
    pub days: u32,
    /// Times each dashboard is computed.
    pub samples: u32,
}

struct Ids(u128);

impl Ids {
    fn next(&mut self) -> DocId {
        self.0 += 1;
        DocId::from_bytes(self.0.to_be_bytes())
    }
}

fn photo() -> PhotoRef {
    PhotoRef {
        sha256: "ab".repeat(32),
        thumbnail_sha256: None,
        taken_at: 0,
        original_sha256: None,
        exif_location: None,
        exif_taken_at: None,
        fix: None,
        on_site: Some(true),
        flags: Vec::new(),
    }
}

/// Generates one rep's records into `records`.
fn rep_records(
    records: &mut KpiRecords,
    rep: &str,
    seed: u32,
    first: Date,
    days: u32,
    ids: &mut Ids,
) -> Result<()> {
    let identity = DeviceIdentity::from_secret([(seed % 250) as u8 + 1; 32]);
    let device = identity.device_id();
    let calendar = TeamCalendar::default();
    let customers: Vec<DocId> = (0..60).map(|_| ids.next()).collect();
    let mut n = seed as usize;
    for d in 0..days {
        let date = first.add_days(i64::from(d));
        if !calendar.is_working_day(date) {
            continue;
        }
        let morning = date.start_ms(CN) + 9 * HOUR;
        for v in 0..3 {
            n += 1;
            let start = morning + v * 2 * HOUR;
            let visit_id = ids.next();
            let customer = customers[n % customers.len()];
            records.visits.push(ByRep {
                rep: rep.to_string(),
                record: Visit {
                    id: visit_id,
                    customer_id: customer,
                    opportunity_id: None,
                    planned_at: start,
                    started_at: Some(start),
                    ended_at: Some(start + HOUR),
                    fixes: Vec::new(),
                    photos: vec![photo()],
                    notes: "保养".into(),
                    next_step: None,
                    on_site: Some(!n.is_multiple_of(10)),
                    flags: Vec::new(),
                    provenance: Provenance { created_at: start - HOUR, created_by: device },
                },
            });
            if !n.is_multiple_of(4) {
                let mut slip = ServiceSlip {
                    id: ids.next(),
                    visit_id,
                    items: vec![SlipItem { description: "保养".into(), quantity: 1.0, unit: "次".into() }],
                    notes: String::new(),
                    signer_name: Some("王工".into()),
                    signature_png_sha256: Some("ab".repeat(32)),
                    strokes_sha256: Some("cd".repeat(32)),
                    photo_sha256s: Vec::new(),
                    fix: None,
                    signed_by: None,
                    device_public_key: None,
                    content_sha256: None,
                    device_signature: None,
                    signed_at: Some(start + HOUR),
                    provenance: Provenance { created_at: start, created_by: device },
                };
                seal_slip(&mut slip, &identity).map_err(|e| anyhow::anyhow!("sealing a slip: {e}"))?;
                records.slips.push(slip);
            }
        }
        for a in 0..4 {
            n += 1;
            let when = morning + a * HOUR + HOUR / 2;
            let due = when + 2 * 24 * HOUR;
            let done = (!n.is_multiple_of(5)).then_some(due - ((n % 3) as i64 - 1) * HOUR);
            let kind = if a == 3 { ActivityType::PaymentFollowUp } else { ActivityType::Call };
            records.activities.push(ByRep {
                rep: rep.to_string(),
                record: Activity {
                    id: ids.next(),
                    activity_type: kind,
                    customer_id: customers[n % customers.len()],
                    opportunity_id: None,
                    visit_id: None,
                    contact: None,
                    phone: None,
                    at: when,
                    duration_s: Some(120),
                    summary: if n.is_multiple_of(7) { String::new() } else { "谈了交期".into() },
                    outcome: None,
                    next_action: Some(NextAction { what: "回电".into(), due_at: due, done_at: done }),
                    provenance: Provenance { created_at: when + HOUR, created_by: device },
                },
            });
        }
        if d % 5 == 0 {
            n += 1;
            let opened = morning;
            let mut history =
                vec![StageChange { from: None, to: Stage::FirstContact, at: opened, by: device, note: None }];
            let mut stage = Stage::FirstContact;
            for (step, to) in
                [Stage::ProposalSubmitted, if n.is_multiple_of(3) { Stage::Lost } else { Stage::Won }]
                    .into_iter()
                    .enumerate()
            {
                if n.is_multiple_of(4) && step == 0 {
                    break;
                }
                let at = opened + (step as i64 + 1) * 10 * 24 * HOUR;
                history.push(StageChange { from: Some(stage), to, at, by: device, note: None });
                stage = to;
            }
            let amount = 1_000_000 + (n as i64 % 50) * 100_000;
            records.deals.push(Opportunity {
                id: ids.next(),
                customer_id: customers[n % customers.len()],
                owner: rep.to_string(),
                title: "注塑机".into(),
                stage,
                stage_entered_at: history.last().map_or(opened, |c| c.at),
                stage_history: history,
                amount: Some(Money { minor_units: amount, currency: "CNY".into() }),
                margin: Some(Money { minor_units: amount / 5, currency: "CNY".into() }),
                expected_close_at: None,
                next_action_due_at: None,
                evidence: Vec::new(),
                provenance: Provenance { created_at: opened, created_by: device },
            });
        }
    }
    Ok(())
}

/// A phone store holding `records` (one rep's), written through the store's own API on a
/// manual clock set to each record's time: customers, visits with their check-in facts and
/// photos, slips signed through `sign_slip` (a real Ed25519 seal by the store's device),
/// follow-ups and deals moved through their stages. Returns how many records were written.
fn phone_store(records: &KpiRecords, rules: &IncentiveRules) -> Result<(tempfile::TempDir, Store, usize)> {
    use std::collections::HashMap;
    use std::sync::Arc;

    use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
    use fieldsync_core::model::{
        NewActivity, NewCustomer, NewOpportunity, NewServiceSlip, NewTeamRules, NewVisit,
    };
    use fieldsync_core::store::SlipSignature;
    use fieldsync_core::{ManualClock, StoreOptions};

    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(records.visits.first().map_or(0, |v| v.record.planned_at - HOUR)));
    let store = Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })?;
    store.set_user("rep-0000", "rep")?;
    store.create(NewTeamRules {
        stage_evidence: Vec::new(),
        incentive_rules: vec![rules.clone()],
        ..NewTeamRules::default()
    })?;
    let mut written = 0;
    let mut customers: HashMap<DocId, DocId> = HashMap::new();
    let mut customer = |id: DocId, store: &Store| -> Result<DocId> {
        if let Some(mine) = customers.get(&id) {
            return Ok(*mine);
        }
        let c = store.create(NewCustomer {
            company_name: format!("客户 {}", customers.len() + 1),
            ..Default::default()
        })?;
        customers.insert(id, c.id);
        Ok(c.id)
    };
    let strokes = SignatureStrokes {
        pad_width: 360.0,
        pad_height: 180.0,
        strokes: vec![
            (0..6)
                .map(|i| StrokePoint {
                    x: 30.0 + i as f32 * 40.0,
                    y: 60.0 + (i % 2) as f32 * 60.0,
                    t_ms: i * 12,
                    pressure: 0.5,
                })
                .collect(),
        ],
    };
    let mut slips: HashMap<DocId, &ServiceSlip> = HashMap::new();
    for slip in &records.slips {
        slips.insert(slip.visit_id, slip);
    }
    for v in &records.visits {
        let g = &v.record;
        clock.set(g.provenance.created_at);
        let customer_id = customer(g.customer_id, &store)?;
        let mut visit = store.create(NewVisit {
            customer_id,
            opportunity_id: None,
            planned_at: g.planned_at,
            notes: g.notes.clone(),
        })?;
        visit.started_at = g.started_at;
        visit.ended_at = g.ended_at;
        visit.photos = g.photos.clone();
        visit.on_site = g.on_site;
        visit.flags = g.flags.clone();
        clock.set(g.started_at.unwrap_or(g.planned_at));
        store.update(&visit)?;
        written += 1;
        if let Some(slip) = slips.get(&g.id) {
            let made = store.create(NewServiceSlip {
                visit_id: visit.id,
                items: slip.items.clone(),
                notes: slip.notes.clone(),
            })?;
            clock.set(slip.signed_at.unwrap_or(g.planned_at));
            store.sign_slip(
                made.id,
                SlipSignature { signer_name: "王工".into(), strokes: strokes.clone(), fix: None },
            )?;
            written += 1;
        }
    }
    for a in &records.activities {
        let g = &a.record;
        clock.set(g.provenance.created_at);
        store.log_activity(NewActivity {
            activity_type: g.activity_type,
            customer_id: customer(g.customer_id, &store)?,
            opportunity_id: None,
            visit_id: None,
            contact: None,
            phone: None,
            at: g.at,
            duration_s: g.duration_s,
            summary: g.summary.clone(),
            outcome: None,
            next_action: g.next_action.clone(),
        })?;
        written += 1;
    }
    for g in &records.deals {
        clock.set(g.provenance.created_at);
        let deal = store.create(NewOpportunity {
            customer_id: customer(g.customer_id, &store)?,
            owner: "rep-0000".into(),
            title: g.title.clone(),
            stage: Stage::FirstContact,
            amount: g.amount.clone(),
            expected_close_at: None,
            next_action_due_at: None,
        })?;
        store.set_deal_margin(deal.id, g.margin.clone())?;
        for change in g.stage_history.iter().skip(1) {
            clock.set(change.at);
            store.move_stage(deal.id, change.to, None)?;
        }
        written += 1;
    }
    Ok((dir, store, written))
}

fn rules(kind: PeriodKind, base: i64, visits: i64) -> Result<IncentiveRules> {
    let text = format!(
        r#"{{"version": 1, "effective_from": "2020-01-01", "period": "{}", "base_bonus_fen": {base},
            "metrics": [{{"metric": "effective_visits", "weight_bp": 4000, "target": {visits}}},
                        {{"metric": "gross_margin", "weight_bp": 4000, "target": 3000000}},
                        {{"metric": "next_actions_on_time", "weight_bp": 2000, "target": 8000}}],
            "excess_tiers": [{{"from_pct": 100, "to_pct": 120, "rate_bp": 5000}},
                             {{"from_pct": 120, "rate_bp": 8000}}],
            "cap_fen": {}, "gates": [{{"metric": "effective_visits", "min": 5}}]}}"#,
        kind.as_str(),
        base * 2
    );
    Ok(IncentiveRules::from_json(&text)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs the bench and prints one line per figure.
///
/// # Errors
///
/// When generation fails or a computed figure is not what the generator made.
pub fn run(bench: &KpiBench) -> Result<()> {
    let last = Date::new(2026, 11, 30).ok_or_else(|| anyhow::anyhow!("date"))?;
    let days = bench.days.max(100);
    let first = last.add_days(1 - i64::from(days));
    let ctx = KpiContext {
        calendar: TeamCalendar::default(),
        required_customer_fields: Vec::new(),
        as_of: last.start_ms(CN) + 20 * HOUR,
    };

    // One rep's two years.
    let mut ids = Ids(1);
    let started = Instant::now();
    let mut mine = KpiRecords::default();
    rep_records(&mut mine, "rep-0000", 0, first, days, &mut ids)?;
    let generate_s = started.elapsed().as_secs_f64();
    let periods =
        [PeriodKind::Week, PeriodKind::Month, PeriodKind::Quarter].map(|k| Period::containing(k, last));
    let monthly = rules(PeriodKind::Month, 300_000, 40)?;

    // The phone's dashboard: those records written into a real store (SQLite) through its API,
    // then `Store::my_figures_for` reading the KPI projection and computing the three periods
    // and the month's payout. Reference, same store and run: listing the month's visits.
    let started = Instant::now();
    let (_dir, store, written) = phone_store(&mine, &monthly)?;
    let fill_s = started.elapsed().as_secs_f64();
    let (month_start, month_end) = periods[1].span_ms(CN);
    let mut dashboard = Vec::new();
    let mut reference = Vec::new();
    let mut shown = None;
    for _ in 0..bench.samples.max(1) {
        let started = Instant::now();
        let figures = store.my_figures_for(&periods, ctx.as_of)?;
        dashboard.push(started.elapsed().as_secs_f64() * 1000.0);
        shown = Some(figures);
        let started = Instant::now();
        std::hint::black_box(store.visits_between(month_start, month_end)?);
        reference.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    dashboard.sort_by(f64::total_cmp);
    reference.sort_by(f64::total_cmp);
    let shown = shown.ok_or_else(|| anyhow::anyhow!("no sample"))?;
    let month = &shown[1];

    // The same figures from the records themselves (the relay's path, which makes each record's
    // row and verifies each slip): they must agree with the phone's.
    let started = Instant::now();
    let index = KpiIndex::new(&mine);
    let from_records: Vec<_> = periods.iter().map(|p| index.rep(&ctx, *p, "rep-0000").facts).collect();
    let from_records_ms = started.elapsed().as_secs_f64() * 1000.0;
    for (phone, relay) in shown.iter().zip(&from_records) {
        if phone.figures.facts.values != relay.values {
            bail!(
                "the phone and the records disagree on {}: {:?} against {:?}",
                relay.period,
                phone.figures.facts.values,
                relay.values
            );
        }
    }
    let effective = month.figures.facts.get(fieldsync_core::kpi::Metric::EffectiveVisits).unwrap_or(0);
    if effective == 0 {
        bail!("the generated month has no effective visit");
    }
    let payout = month.payout.as_ref().map_err(|e| anyhow::anyhow!("no payout: {e}"))?;
    emit(json!({
        "bench": "kpi", "figure": "dashboard", "days": days, "records": written,
        "visits": mine.visits.len(), "activities": mine.activities.len(), "deals": mine.deals.len(),
        "month_effective_visits": effective, "month_payout_fen": payout.payout_fen,
        "p50_ms": percentile(&dashboard, 0.5), "p99_ms": percentile(&dashboard, 0.99),
        "reference_p50_ms": percentile(&reference, 0.5),
        "ratio_p50": percentile(&dashboard, 0.5) / percentile(&reference, 0.5).max(1e-6),
        "from_records_ms": from_records_ms, "fill_s": fill_s, "generate_s": generate_s,
    }));

    // The team's last year: the repair path, then the sandbox over four quarters.
    let mut team = KpiRecords::default();
    let year_first = last.add_days(-364);
    let started = Instant::now();
    for r in 0..bench.reps {
        rep_records(&mut team, &format!("rep-{r:04}"), r, year_first, 365, &mut ids)?;
    }
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let index = KpiIndex::new(&team);
    let mut month_facts = Vec::new();
    let mut quarter_facts = Vec::new();
    let mut p = Period::containing(PeriodKind::Month, year_first).next();
    while p.first_day() <= last {
        month_facts.extend(index.team(&ctx, p).into_iter().map(|f| f.facts));
        p = p.next();
    }
    let mut q = Period::containing(PeriodKind::Quarter, year_first).next();
    while q.first_day() <= last {
        quarter_facts.extend(index.team(&ctx, q).into_iter().map(|f| f.facts));
        q = q.next();
    }
    let repair_s = started.elapsed().as_secs_f64();
    emit(json!({
        "bench": "kpi", "figure": "repair_team_year", "reps": bench.reps,
        "visits": team.visits.len(), "activities": team.activities.len(), "deals": team.deals.len(),
        "months": month_facts.len() / bench.reps.max(1) as usize, "quarters": quarter_facts.len() / bench.reps.max(1) as usize,
        "s": repair_s, "generate_s": generate_s,
    }));

    scoreboards(bench, &team, &monthly, ctx.as_of)?;

    let book = RuleBook { versions: vec![rules(PeriodKind::Quarter, 900_000, 150)?] };
    let candidate = rules(PeriodKind::Quarter, 1_000_000, 140)?;
    let started = Instant::now();
    let report = sandbox(&book, &candidate, &quarter_facts, 4)?;
    let sandbox_ms = started.elapsed().as_secs_f64() * 1000.0;
    if report.reps.len() != bench.reps as usize {
        bail!("the sandbox reported {} reps, not {}", report.reps.len(), bench.reps);
    }
    emit(json!({
        "bench": "kpi", "figure": "sandbox", "reps": bench.reps, "quarters": report.periods.len(),
        "current_fen": report.current_total_fen, "candidate_fen": report.candidate_total_fen,
        "change_bp": report.change_bp, "ms": sandbox_ms,
    }));
    Ok(())
}

/// The relay's scoreboard refresh of the team whose year of records is `team`: its rows stored
/// by the repair path in a real relay database, then what `Relay::scoreboard_tick` does for one
/// due team (the indexed read of the six periods' rows, the boards computed) and what the writer
/// does with them (each document written and saved).
fn scoreboards(bench: &KpiBench, team: &KpiRecords, monthly: &IncentiveRules, now: i64) -> Result<()> {
    use crate::relay::boards::{board_periods, team_boards};
    use crate::relay::kpi::{TeamKpi, rows_of, team_rows};
    use crate::storage::RelayStorage;
    use crate::storage::sqlite::SqliteStorage;
    use automerge::transaction::Transactable;

    let dir = tempfile::tempdir()?;
    let storage = SqliteStorage::open(dir.path())?;
    let tenant = storage.create_tenant("bench", 0)?;
    let team_id = storage.create_team(&tenant, "bench", 0)?;
    let (rows, links) = rows_of(&team_id, team);
    storage.kpi_rebuild(&team_id, &rows, &links, now)?;
    let mut rules = fieldsync_core::model::TeamRules::defaults();
    rules.incentive_rules = vec![serde_json::to_string(monthly)?];

    let started = Instant::now();
    let periods = board_periods(Date::of_instant(now, CN));
    let lo = periods.iter().map(|p| p.span_ms(CN).0).min().unwrap_or(now);
    let hi = periods.iter().map(|p| p.span_ms(CN).1).max().unwrap_or(now);
    let index = team_rows(&storage, &team_id, lo, hi)?;
    let read_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let names = std::collections::HashMap::new();
    let boards = team_boards(&team_id, &TeamKpi { index, rules }, &periods, &names, [7; 16], now);
    let compute_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut table_bytes = 0usize;
    for (board, table) in &boards {
        for (kind, written) in [
            ("scoreboard", write_saved(board, kind_name(board))?),
            ("team_table", write_saved(table, kind_name(table))?),
        ] {
            bytes += written;
            if kind == "team_table" {
                table_bytes = table_bytes.max(written);
            }
        }
    }
    let write_ms = started.elapsed().as_secs_f64() * 1000.0;
    // What a phone adds to its dashboard per period: loading the month's saved scoreboard and
    // reading it as a record (the store's lookup by period is one indexed row).
    let saved = saved_doc(&boards[3].0, "scoreboard")?;
    let started = Instant::now();
    let samples = bench.samples.max(1);
    for _ in 0..samples {
        let doc = automerge::Automerge::load(&saved)?;
        let board: fieldsync_core::model::Scoreboard = fieldsync_core::model::read_record(&doc)?;
        std::hint::black_box(board);
    }
    let phone_read_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(samples);
    let reps = boards.iter().map(|(_, t)| t.reps.len()).max().unwrap_or(0);
    if reps != bench.reps as usize {
        bail!("the boards count {reps} reps, not {}", bench.reps);
    }
    emit(json!({
        "bench": "kpi", "figure": "scoreboards", "reps": bench.reps, "periods": periods.len(),
        "rows_stored": rows.len(), "read_ms": read_ms, "compute_ms": compute_ms, "write_ms": write_ms,
        "total_ms": read_ms + compute_ms + write_ms, "saved_bytes": bytes, "largest_table_bytes": table_bytes,
        "phone_board_read_ms": phone_read_ms,
    }));

    fn kind_name<R: fieldsync_core::model::Record>(_: &R) -> &'static str {
        R::KIND.as_str()
    }
    fn write_saved<R: fieldsync_core::model::Record>(record: &R, kind: &str) -> Result<usize> {
        Ok(saved_doc(record, kind)?.len())
    }
    fn saved_doc<R: fieldsync_core::model::Record>(record: &R, kind: &str) -> Result<Vec<u8>> {
        let mut doc = automerge::Automerge::new();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "kind", kind)?;
        fieldsync_core::model::write_record(&mut tx, record)?;
        tx.commit();
        Ok(doc.save())
    }
    Ok(())
}
