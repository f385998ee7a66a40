//! Computing the catalogue's metrics from the records themselves: visits with their evidence and
//! slips, activities, deals and customers. Pure: the phone runs it on its store, the relay on the
//! team's documents, and both get the same numbers for the same records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::calendar::{Date, Period, TeamCalendar};
use super::metric::{Metric, RepFacts};
use crate::clock::UnixMillis;
use crate::evidence::verify_slip;
use crate::ids::DocId;
use crate::model::{Activity, ActivityType, Customer, EvidenceKind, Opportunity, ServiceSlip, Stage, Visit};

const DAY_MS: i64 = 86_400_000;
const BP: i64 = 10_000;

/// Why a visit does not count as effective, the first shortfall found in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortfall {
    /// The rep never checked in.
    NoCheckIn,
    /// The customer's site is unknown, so on-site cannot be proven.
    SiteUnknown,
    /// The check-in fix was off site.
    OffSite,
    /// The check-in carries a plausibility flag (mock location, impossible travel, clock…).
    CheckInFlagged,
    /// No photo was taken on site.
    NoOnSitePhoto,
    /// Every on-site photo carries a flag (EXIF far from the fix, …).
    PhotoFlagged,
    /// No service slip for the visit.
    NoSlip,
    /// A slip exists but the customer has not signed it.
    SlipNotSigned,
    /// The signed slip does not verify (changed after signing, wrong key, bad signature).
    SlipUnverified,
}

impl Shortfall {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Shortfall::NoCheckIn => "no_check_in",
            Shortfall::SiteUnknown => "site_unknown",
            Shortfall::OffSite => "off_site",
            Shortfall::CheckInFlagged => "check_in_flagged",
            Shortfall::NoOnSitePhoto => "no_on_site_photo",
            Shortfall::PhotoFlagged => "photo_flagged",
            Shortfall::NoSlip => "no_slip",
            Shortfall::SlipNotSigned => "slip_not_signed",
            Shortfall::SlipUnverified => "slip_unverified",
        }
    }
}

/// Whether a visit is effective (有效拜访): an on-site check-in with no flag, at least one
/// on-site photo with no flag, and a customer-signed slip that verifies. `slips` are the slips
/// recorded for this visit (any order); one verifying slip is enough.
pub fn classify_visit(visit: &Visit, slips: &[&ServiceSlip]) -> Result<(), Shortfall> {
    if visit.started_at.is_none() {
        return Err(Shortfall::NoCheckIn);
    }
    match visit.on_site {
        None => return Err(Shortfall::SiteUnknown),
        Some(false) => return Err(Shortfall::OffSite),
        Some(true) => {}
    }
    if !visit.flags.is_empty() {
        return Err(Shortfall::CheckInFlagged);
    }
    let on_site: Vec<_> = visit.photos.iter().filter(|p| p.on_site == Some(true)).collect();
    if on_site.is_empty() {
        return Err(Shortfall::NoOnSitePhoto);
    }
    if on_site.iter().all(|p| !p.flags.is_empty()) {
        return Err(Shortfall::PhotoFlagged);
    }
    let mine: Vec<_> = slips.iter().filter(|s| s.visit_id == visit.id).collect();
    if mine.is_empty() {
        return Err(Shortfall::NoSlip);
    }
    if !mine.iter().any(|s| s.is_signed()) {
        return Err(Shortfall::SlipNotSigned);
    }
    if mine.iter().any(|s| s.is_signed() && verify_slip(s).is_ok()) {
        Ok(())
    } else {
        Err(Shortfall::SlipUnverified)
    }
}

/// A record and the rep it counts for (the user whose device made it, as the relay's identity
/// table or the phone's own user says).
#[derive(Debug, Clone)]
pub struct ByRep<T> {
    /// The rep's user id.
    pub rep: String,
    /// The record.
    pub record: T,
}

/// The records the metrics read. Deals count for their `owner`.
#[derive(Debug, Clone, Default)]
pub struct KpiRecords {
    /// Visits.
    pub visits: Vec<ByRep<Visit>>,
    /// Service slips (matched to visits by `visit_id`).
    pub slips: Vec<ServiceSlip>,
    /// Follow-ups.
    pub activities: Vec<ByRep<Activity>>,
    /// Deals.
    pub deals: Vec<Opportunity>,
    /// Customers, for the data-quality metrics.
    pub customers: Vec<ByRep<Customer>>,
}

/// What the computation needs besides records.
#[derive(Debug, Clone)]
pub struct KpiContext {
    /// The team's calendar and zone.
    pub calendar: TeamCalendar,
    /// The customer fields the team requires (TeamRules `required_customer_fields`).
    pub required_customer_fields: Vec<String>,
    /// Now: a period still running is counted up to here (working days elapsed, next actions
    /// already due).
    pub as_of: UnixMillis,
}

/// One rep's figures for a period, with the visit shortfalls behind `visits_not_effective`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepFigures {
    /// The metric values.
    pub facts: RepFacts,
    /// How many visits fell short, by first reason.
    pub shortfalls: BTreeMap<Shortfall, u32>,
}

fn rate_bp(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| part * BP / whole)
}

fn cny(money: &Option<crate::model::Money>) -> i64 {
    money.as_ref().filter(|m| m.currency == "CNY").map_or(0, |m| m.minor_units)
}

fn has_field(customer: &Customer, field: &str) -> bool {
    match field {
        "company_name" => !customer.company_name.trim().is_empty(),
        "contacts" => !customer.contacts.is_empty(),
        "phones" => !customer.phones.is_empty() || customer.contacts.iter().any(|c| !c.phones.is_empty()),
        "address" => customer.address.as_deref().is_some_and(|a| !a.trim().is_empty()),
        "location" => customer.location.is_some(),
        "tags" => !customer.tags.is_empty(),
        "credit_code" => customer.credit_code.as_deref().is_some_and(|c| !c.trim().is_empty()),
        // A field the model does not know cannot be checked; it does not count against the rep.
        _ => true,
    }
}

/// Where a visit falls in time: its check-in, or its plan when it never began.
fn visit_time(visit: &Visit) -> UnixMillis {
    visit.started_at.unwrap_or(visit.planned_at)
}

/// A deal's close, if it is now won or lost: the time it entered that stage.
fn closed_at(deal: &Opportunity) -> Option<UnixMillis> {
    deal.stage.is_closed().then_some(deal.stage_entered_at)
}

/// The earliest won close of each customer, for "new" and "existing" customers.
fn first_wins(deals: &[Opportunity]) -> HashMap<DocId, UnixMillis> {
    let mut first: HashMap<DocId, UnixMillis> = HashMap::new();
    for deal in deals.iter().filter(|d| d.stage == Stage::Won) {
        let at = deal.stage_entered_at;
        first.entry(deal.customer_id).and_modify(|t| *t = (*t).min(at)).or_insert(at);
    }
    first
}

/// Won amount (CNY fen) of the deals with existing customers closed in `[start, end)`.
fn repeat_won(deals: &[&Opportunity], first: &HashMap<DocId, UnixMillis>, start: i64, end: i64) -> i64 {
    deals
        .iter()
        .filter(|d| d.stage == Stage::Won)
        .filter(|d| (start..end).contains(&d.stage_entered_at))
        .filter(|d| first.get(&d.customer_id).is_some_and(|t| *t < d.stage_entered_at))
        .map(|d| cny(&d.amount))
        .sum()
}

/// Every rep the records name, sorted.
pub fn reps_in(records: &KpiRecords) -> BTreeSet<String> {
    let mut reps = BTreeSet::new();
    reps.extend(records.visits.iter().map(|v| v.rep.clone()));
    reps.extend(records.activities.iter().map(|a| a.rep.clone()));
    reps.extend(records.customers.iter().map(|c| c.rep.clone()));
    reps.extend(records.deals.iter().filter(|d| !d.owner.is_empty()).map(|d| d.owner.clone()));
    reps
}

/// The records indexed for computing many reps and periods: each rep's records, the slips by
/// visit, each customer's first win, and each visit's verdict once it is classified (a slip's
/// signature is verified once, however many periods read it).
#[derive(Debug)]
pub struct KpiIndex<'a> {
    records: &'a KpiRecords,
    by_rep: BTreeMap<&'a str, RepRows>,
    first_win: HashMap<DocId, UnixMillis>,
    slips_by_visit: HashMap<DocId, Vec<&'a ServiceSlip>>,
    verdicts: HashMap<DocId, Result<(), Shortfall>>,
}

#[derive(Debug, Default)]
struct RepRows {
    visits: Vec<usize>,
    activities: Vec<usize>,
    deals: Vec<usize>,
    customers: Vec<usize>,
}

impl<'a> KpiIndex<'a> {
    /// Indexes `records`.
    pub fn new(records: &'a KpiRecords) -> Self {
        let mut by_rep: BTreeMap<&str, RepRows> = BTreeMap::new();
        for (i, v) in records.visits.iter().enumerate() {
            by_rep.entry(&v.rep).or_default().visits.push(i);
        }
        for (i, a) in records.activities.iter().enumerate() {
            by_rep.entry(&a.rep).or_default().activities.push(i);
        }
        for (i, d) in records.deals.iter().enumerate().filter(|(_, d)| !d.owner.is_empty()) {
            by_rep.entry(&d.owner).or_default().deals.push(i);
        }
        for (i, c) in records.customers.iter().enumerate() {
            by_rep.entry(&c.rep).or_default().customers.push(i);
        }
        let mut slips_by_visit: HashMap<DocId, Vec<&ServiceSlip>> = HashMap::new();
        for slip in &records.slips {
            slips_by_visit.entry(slip.visit_id).or_default().push(slip);
        }
        KpiIndex {
            records,
            by_rep,
            first_win: first_wins(&records.deals),
            slips_by_visit,
            verdicts: HashMap::new(),
        }
    }

    /// Every rep the records name, sorted.
    pub fn reps(&self) -> Vec<String> {
        self.by_rep.keys().map(|r| r.to_string()).collect()
    }

    /// One rep's figures for `period`.
    pub fn rep(&mut self, ctx: &KpiContext, period: Period, rep: &str) -> RepFigures {
        figures_with(self, ctx, period, rep)
    }

    /// Every rep's figures for `period`, by rep.
    pub fn team(&mut self, ctx: &KpiContext, period: Period) -> Vec<RepFigures> {
        let reps = self.reps();
        reps.iter().map(|rep| figures_with(self, ctx, period, rep)).collect()
    }
}

/// Computes every rep's figures for `period` (see docs/kpi.md for each definition).
pub fn team_figures(records: &KpiRecords, ctx: &KpiContext, period: Period) -> Vec<RepFigures> {
    KpiIndex::new(records).team(ctx, period)
}

/// Computes one rep's figures for `period`.
pub fn rep_figures(records: &KpiRecords, ctx: &KpiContext, period: Period, rep: &str) -> RepFigures {
    KpiIndex::new(records).rep(ctx, period, rep)
}

fn figures_with(index: &mut KpiIndex<'_>, ctx: &KpiContext, period: Period, rep: &str) -> RepFigures {
    let records = index.records;
    let empty = RepRows::default();
    let rows = index.by_rep.get(rep).unwrap_or(&empty);
    let rep_visits: Vec<usize> = rows.visits.clone();
    let rep_activities = rows.activities.iter().map(|&i| &records.activities[i].record);
    let rep_deals: Vec<&Opportunity> = rows.deals.iter().map(|&i| &records.deals[i]).collect();
    let rep_customers: Vec<&Customer> =
        rows.customers.iter().map(|&i| &records.customers[i].record).collect();
    let offset = ctx.calendar.utc_offset_minutes;
    let (start, end) = period.span_ms(offset);
    let in_period = |t: UnixMillis| (start..end).contains(&t);
    let mut values = BTreeMap::new();
    let mut shortfalls = BTreeMap::new();
    let mut touched: BTreeSet<DocId> = BTreeSet::new();
    // Data quality: (complete, total) and (timely, total) over the records made in the period.
    let (mut complete, mut made) = (0i64, 0i64);
    let (mut timely, mut timed) = (0i64, 0i64);

    let (mut effective, mut short) = (0i64, 0i64);
    for visit in rep_visits.iter().map(|&i| &records.visits[i].record) {
        if !in_period(visit_time(visit)) {
            continue;
        }
        if let Some(started) = visit.started_at {
            touched.insert(visit.customer_id);
            timed += 1;
            if visit.provenance.created_at <= started + DAY_MS {
                timely += 1;
            }
            made += 1;
            if visit.ended_at.is_some() && !visit.notes.trim().is_empty() {
                complete += 1;
            }
        }
        if visit.started_at.is_none() && visit.planned_at >= ctx.as_of {
            // A visit still ahead is neither effective nor short yet.
            continue;
        }
        let slips = &index.slips_by_visit;
        let verdict = *index
            .verdicts
            .entry(visit.id)
            .or_insert_with(|| classify_visit(visit, slips.get(&visit.id).map(Vec::as_slice).unwrap_or(&[])));
        match verdict {
            Ok(()) => effective += 1,
            Err(reason) => {
                short += 1;
                *shortfalls.entry(reason).or_insert(0u32) += 1;
            }
        }
    }
    values.insert(Metric::EffectiveVisits, effective);
    values.insert(Metric::VisitsNotEffective, short);

    let (mut payment, mut due, mut on_time) = (0i64, 0i64, 0i64);
    for activity in rep_activities {
        if in_period(activity.at) {
            touched.insert(activity.customer_id);
            if activity.activity_type == ActivityType::PaymentFollowUp {
                payment += 1;
            }
            made += 1;
            if activity.has_summary() {
                complete += 1;
            }
            timed += 1;
            if activity.provenance.created_at <= activity.at + DAY_MS {
                timely += 1;
            }
        }
        if let Some(next) = &activity.next_action
            && in_period(next.due_at)
            && (next.due_at <= ctx.as_of || next.done_at.is_some())
        {
            due += 1;
            if next.done_at.is_some_and(|d| d <= next.due_at) {
                on_time += 1;
            }
        }
    }
    values.insert(Metric::PaymentFollowUps, payment);
    if let Some(v) = rate_bp(on_time, due) {
        values.insert(Metric::NextActionsOnTime, v);
    }

    // Working days so far: the whole period once it is over, up to today while it runs.
    let today = Date::of_instant(ctx.as_of, offset);
    let working = period.days().filter(|d| *d <= today && ctx.calendar.is_working_day(*d)).count() as i64;
    if working > 0 {
        values.insert(Metric::CustomerTouchesPerDay, touched.len() as i64 * 1000 / working);
    }

    let (mut quotes, mut closed_new, mut won_new, mut margin, mut output) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let (mut opened, mut proposed) = (0i64, 0i64);
    let first_win = &index.first_win;
    for deal in rep_deals.iter().copied() {
        quotes +=
            deal.evidence.iter().filter(|e| e.kind == EvidenceKind::Quote && in_period(e.added_at)).count()
                as i64;
        if let Some(closed) = closed_at(deal).filter(|t| in_period(*t)) {
            let existing = first_win.get(&deal.customer_id).is_some_and(|t| *t < closed);
            if !existing {
                closed_new += 1;
                won_new += i64::from(deal.stage == Stage::Won);
            }
            if deal.stage == Stage::Won {
                margin += cny(&deal.margin);
                output += cny(&deal.amount);
            }
        }
        if in_period(deal.provenance.created_at) {
            opened += 1;
            made += 1;
            if deal.amount.is_some() {
                complete += 1;
            }
            let reached = deal
                .stage_history
                .iter()
                .any(|c| c.at < end && c.to != Stage::Lost && c.to >= Stage::ProposalSubmitted);
            proposed += i64::from(reached);
        }
    }
    values.insert(Metric::QuoteRevisions, quotes);
    if let Some(v) = rate_bp(won_new, closed_new) {
        values.insert(Metric::NewCustomerWinRate, v);
    }
    values.insert(Metric::GrossMargin, margin);
    values.insert(Metric::Output, output);
    if let Some(v) = rate_bp(proposed, opened) {
        values.insert(Metric::LeadToProposal, v);
    }
    let (ly_start, ly_end) = period.year_before().span_ms(offset);
    let now_repeat = repeat_won(&rep_deals, first_win, start, end);
    let then_repeat = repeat_won(&rep_deals, first_win, ly_start, ly_end);
    if then_repeat > 0 {
        // Growth may be negative: this division truncates toward zero.
        let growth = (i128::from(now_repeat - then_repeat) * i128::from(BP) / i128::from(then_repeat)) as i64;
        values.insert(Metric::RepeatPurchaseGrowth, growth.min(Metric::RepeatPurchaseGrowth.value_range().1));
    }

    for customer in rep_customers {
        if customer.merged_into.is_some() || !in_period(customer.provenance.created_at) {
            continue;
        }
        made += 1;
        let fields = ctx.required_customer_fields.iter().map(String::as_str).chain(["company_name"]);
        if fields.into_iter().all(|f| has_field(customer, f)) {
            complete += 1;
        }
    }
    if let Some(v) = rate_bp(complete, made) {
        values.insert(Metric::DataCompleteness, v);
    }
    if let Some(v) = rate_bp(timely, timed) {
        values.insert(Metric::DataTimeliness, v);
    }
    RepFigures { facts: RepFacts { rep: rep.to_string(), period, values }, shortfalls }
}

/// A team's mean and median of one metric over the reps for whom it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// How many reps it is defined for.
    pub reps: u32,
    /// The sum.
    pub sum: i64,
    /// The mean, rounded down.
    pub mean: i64,
    /// The median (the two middle values' mean, rounded down, for an even count).
    pub median: i64,
}

/// The team's aggregate of every metric defined for at least one rep.
pub fn team_aggregates(facts: &[RepFacts]) -> BTreeMap<Metric, Aggregate> {
    let mut by_metric: BTreeMap<Metric, Vec<i64>> = BTreeMap::new();
    for fact in facts {
        for (&metric, &value) in &fact.values {
            by_metric.entry(metric).or_default().push(value);
        }
    }
    by_metric
        .into_iter()
        .map(|(metric, mut values)| {
            values.sort_unstable();
            let n = values.len() as i64;
            let sum: i64 = values.iter().sum();
            let mid = values.len() / 2;
            let median = if values.len() % 2 == 1 {
                values[mid]
            } else {
                (values[mid - 1] + values[mid]).div_euclid(2)
            };
            (metric, Aggregate { reps: n as u32, sum, mean: sum.div_euclid(n), median })
        })
        .collect()
}
