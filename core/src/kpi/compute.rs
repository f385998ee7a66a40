//! Computing the catalogue's metrics from the records themselves: visits with their evidence and
//! slips, activities, deals and customers. Pure: the phone runs it on its store, the relay on the
//! team's documents, and both get the same numbers for the same records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::calendar::{Date, Period, TeamCalendar};
use super::metric::{Metric, RepFacts};
use crate::clock::UnixMillis;
use crate::evidence::verify_slip;
use crate::ids::DocId;
use crate::model::{Activity, ActivityType, Customer, EvidenceKind, Opportunity, ServiceSlip, Stage, Visit};

const DAY_MS: i64 = 86_400_000;
const BP: i64 = 10_000;

/// Why a visit does not count as effective, the first shortfall found in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// Flags that say something about the camera, not about where or when the photo was taken: a
/// camera that writes local time without its zone (most do) or a bad Orientation tag. They do
/// not cost a visit its "effective" (docs/kpi.md).
pub const INFORMATIONAL_FLAGS: &[&str] = &["no_time_zone", "orientation_invalid"];

/// Whether any of `flags` casts doubt on the evidence (any flag not in [`INFORMATIONAL_FLAGS`]).
fn doubted(flags: &[crate::model::EvidenceFlag]) -> bool {
    flags.iter().any(|f| !INFORMATIONAL_FLAGS.contains(&f.code.as_str()))
}

/// Whether a visit is effective (有效拜访): an on-site check-in with no doubting flag, at least
/// one on-site photo with no doubting flag, and a customer-signed slip that verifies. `slips` are the slips
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
    if doubted(&visit.flags) {
        return Err(Shortfall::CheckInFlagged);
    }
    let on_site: Vec<_> = visit.photos.iter().filter(|p| p.on_site == Some(true)).collect();
    if on_site.is_empty() {
        return Err(Shortfall::NoOnSitePhoto);
    }
    if on_site.iter().all(|p| doubted(&p.flags)) {
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

/// The customer fields the completeness metric can check; a required field not in this list
/// cannot be checked and does not count against the rep.
pub const CHECKED_CUSTOMER_FIELDS: &[&str] =
    &["company_name", "contacts", "phones", "address", "location", "tags", "credit_code"];

fn has_field(customer: &Customer, field: &str) -> bool {
    match field {
        "company_name" => !customer.company_name.trim().is_empty(),
        "contacts" => !customer.contacts.is_empty(),
        "phones" => !customer.phones.is_empty() || customer.contacts.iter().any(|c| !c.phones.is_empty()),
        "address" => customer.address.as_deref().is_some_and(|a| !a.trim().is_empty()),
        "location" => customer.location.is_some(),
        "tags" => !customer.tags.is_empty(),
        "credit_code" => customer.credit_code.as_deref().is_some_and(|c| !c.trim().is_empty()),
        _ => true,
    }
}

/// What the metrics read of one visit: when it was, how it was recorded, and its verdict
/// (classified with its slips when the row is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRow {
    /// The customer visited.
    pub customer: String,
    /// When it was planned.
    pub planned_at: UnixMillis,
    /// The check-in.
    pub started_at: Option<UnixMillis>,
    /// When the record was made.
    pub created_at: UnixMillis,
    /// Ended, with notes.
    pub complete: bool,
    /// `None` when effective, else the first shortfall.
    pub shortfall: Option<Shortfall>,
}

impl VisitRow {
    /// The row of `visit`, classified with `slips` (the slips recorded for it).
    pub fn of(visit: &Visit, slips: &[&ServiceSlip]) -> VisitRow {
        VisitRow {
            customer: visit.customer_id.to_string(),
            planned_at: visit.planned_at,
            started_at: visit.started_at,
            created_at: visit.provenance.created_at,
            complete: visit.ended_at.is_some() && !visit.notes.trim().is_empty(),
            shortfall: classify_visit(visit, slips).err(),
        }
    }

    /// Where the visit falls in time: its check-in, or its plan when it never began.
    pub fn at(&self) -> UnixMillis {
        self.started_at.unwrap_or(self.planned_at)
    }
}

/// What the metrics read of one follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The customer.
    pub customer: String,
    /// When it happened.
    pub at: UnixMillis,
    /// A payment follow-up (催款).
    pub payment: bool,
    /// It says what was said.
    pub summary: bool,
    /// When the record was made.
    pub created_at: UnixMillis,
    /// Its next action's due time.
    pub next_due: Option<UnixMillis>,
    /// When the next action was done.
    pub next_done: Option<UnixMillis>,
}

impl ActivityRow {
    /// The row of `activity`.
    pub fn of(activity: &Activity) -> ActivityRow {
        ActivityRow {
            customer: activity.customer_id.to_string(),
            at: activity.at,
            payment: activity.activity_type == ActivityType::PaymentFollowUp,
            summary: activity.has_summary(),
            created_at: activity.provenance.created_at,
            next_due: activity.next_action.as_ref().map(|n| n.due_at),
            next_done: activity.next_action.as_ref().and_then(|n| n.done_at),
        }
    }

    /// The earliest and latest time a period must include for the row to count in it.
    pub fn span(&self) -> (UnixMillis, UnixMillis) {
        let due = self.next_due.unwrap_or(self.at);
        (self.at.min(due), self.at.max(due))
    }
}

/// What the metrics read of one deal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealRow {
    /// The customer.
    pub customer: String,
    /// Now won.
    pub won: bool,
    /// When it entered won or lost, if it is closed.
    pub closed_at: Option<UnixMillis>,
    /// When the record was made.
    pub created_at: UnixMillis,
    /// It has an amount (any currency).
    pub has_amount: bool,
    /// Its amount in CNY fen (0 in another currency).
    pub amount_fen: i64,
    /// Its margin in CNY fen.
    pub margin_fen: i64,
    /// When each quote was attached.
    pub quotes: Vec<UnixMillis>,
    /// When it first reached 方案提交 or later (not lost).
    pub proposed_at: Option<UnixMillis>,
}

impl DealRow {
    /// The row of `deal`.
    pub fn of(deal: &Opportunity) -> DealRow {
        DealRow {
            customer: deal.customer_id.to_string(),
            won: deal.stage == Stage::Won,
            closed_at: closed_at(deal),
            created_at: deal.provenance.created_at,
            has_amount: deal.amount.is_some(),
            amount_fen: cny(&deal.amount),
            margin_fen: cny(&deal.margin),
            quotes: deal
                .evidence
                .iter()
                .filter(|e| e.kind == EvidenceKind::Quote)
                .map(|e| e.added_at)
                .collect(),
            proposed_at: deal
                .stage_history
                .iter()
                .filter(|c| c.to != Stage::Lost && c.to >= Stage::ProposalSubmitted)
                .map(|c| c.at)
                .min(),
        }
    }
}

/// What the metrics read of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    /// When the record was made.
    pub created_at: UnixMillis,
    /// Merged into another record.
    pub merged: bool,
    /// Which of [`CHECKED_CUSTOMER_FIELDS`] it has.
    pub present: Vec<String>,
}

impl CustomerRow {
    /// The row of `customer`.
    pub fn of(customer: &Customer) -> CustomerRow {
        CustomerRow {
            created_at: customer.provenance.created_at,
            merged: customer.merged_into.is_some(),
            present: CHECKED_CUSTOMER_FIELDS
                .iter()
                .filter(|f| has_field(customer, f))
                .map(|f| f.to_string())
                .collect(),
        }
    }

    fn has(&self, field: &str) -> bool {
        !CHECKED_CUSTOMER_FIELDS.contains(&field) || self.present.iter().any(|p| p == field)
    }
}

/// One record as the metrics read it: what the phone keeps in its KPI projection, one row per
/// record, so a dashboard reads rows instead of documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "row", rename_all = "snake_case")]
pub enum KpiRow {
    /// A visit.
    Visit(VisitRow),
    /// A follow-up.
    Activity(ActivityRow),
    /// A deal.
    Deal(DealRow),
    /// A customer.
    Customer(CustomerRow),
}

impl KpiRow {
    /// The time span a period must touch for the row to count in it: a visit's time, a
    /// follow-up's time and its next action's due time, a deal's or customer's creation (a deal
    /// is read for every period, its first win and the year before matter).
    pub fn span(&self) -> (UnixMillis, UnixMillis) {
        match self {
            KpiRow::Visit(v) => (v.at(), v.at()),
            KpiRow::Activity(a) => a.span(),
            KpiRow::Deal(d) => (d.created_at, d.created_at),
            KpiRow::Customer(c) => (c.created_at, c.created_at),
        }
    }

    /// A deal's row: read whatever the period.
    pub fn is_deal(&self) -> bool {
        matches!(self, KpiRow::Deal(_))
    }
}

impl KpiRecords {
    /// Every record's row with its document and rep: visits classified with their slips (each
    /// slip verified once), deals for their `owner` (those without one left out).
    pub fn rows(&self) -> Vec<(DocId, String, KpiRow)> {
        let mut slips_by_visit: HashMap<DocId, Vec<&ServiceSlip>> = HashMap::new();
        for slip in &self.slips {
            slips_by_visit.entry(slip.visit_id).or_default().push(slip);
        }
        let visits = self.visits.iter().map(|v| {
            let slips = slips_by_visit.get(&v.record.id).map(Vec::as_slice).unwrap_or(&[]);
            (v.record.id, v.rep.clone(), KpiRow::Visit(VisitRow::of(&v.record, slips)))
        });
        let activities = self
            .activities
            .iter()
            .map(|a| (a.record.id, a.rep.clone(), KpiRow::Activity(ActivityRow::of(&a.record))));
        let deals = self
            .deals
            .iter()
            .filter(|d| !d.owner.is_empty())
            .map(|d| (d.id, d.owner.clone(), KpiRow::Deal(DealRow::of(d))));
        let customers = self
            .customers
            .iter()
            .map(|c| (c.record.id, c.rep.clone(), KpiRow::Customer(CustomerRow::of(&c.record))));
        visits.chain(activities).chain(deals).chain(customers).collect()
    }
}

/// One rep's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepRows {
    /// Visits.
    pub visits: Vec<VisitRow>,
    /// Follow-ups.
    pub activities: Vec<ActivityRow>,
    /// Deals.
    pub deals: Vec<DealRow>,
    /// Customers.
    pub customers: Vec<CustomerRow>,
}

impl RepRows {
    /// Files `row` under its kind.
    pub fn push(&mut self, row: KpiRow) {
        match row {
            KpiRow::Visit(v) => self.visits.push(v),
            KpiRow::Activity(a) => self.activities.push(a),
            KpiRow::Deal(d) => self.deals.push(d),
            KpiRow::Customer(c) => self.customers.push(c),
        }
    }
}

/// The records made into rows, by rep, ready for many reps and periods. Each visit is
/// classified once (its slip's signature verified once), however many periods read it.
#[derive(Debug, Clone, Default)]
pub struct KpiIndex {
    by_rep: BTreeMap<String, RepRows>,
    /// Each customer's earliest won close, over every rep's deals.
    first_win: HashMap<String, UnixMillis>,
}

impl KpiIndex {
    /// Indexes `records`.
    pub fn new(records: &KpiRecords) -> Self {
        let mut by_rep: BTreeMap<String, RepRows> = BTreeMap::new();
        for (_, rep, row) in records.rows() {
            by_rep.entry(rep).or_default().push(row);
        }
        Self::from_rows(by_rep)
    }

    /// Indexes rows already made (the phone's KPI projection), by rep.
    pub fn from_rows(by_rep: BTreeMap<String, RepRows>) -> Self {
        let mut first_win: HashMap<String, UnixMillis> = HashMap::new();
        for deal in by_rep.values().flat_map(|r| &r.deals).filter(|d| d.won) {
            if let Some(at) = deal.closed_at {
                first_win.entry(deal.customer.clone()).and_modify(|t| *t = (*t).min(at)).or_insert(at);
            }
        }
        KpiIndex { by_rep, first_win }
    }

    /// Every rep the records name, sorted.
    pub fn reps(&self) -> Vec<String> {
        self.by_rep.keys().cloned().collect()
    }

    /// One rep's figures for `period`.
    pub fn rep(&self, ctx: &KpiContext, period: Period, rep: &str) -> RepFigures {
        let empty = RepRows::default();
        figures_of(self.by_rep.get(rep).unwrap_or(&empty), &self.first_win, ctx, period, rep)
    }

    /// Every rep's figures for `period`, by rep.
    pub fn team(&self, ctx: &KpiContext, period: Period) -> Vec<RepFigures> {
        self.by_rep.iter().map(|(rep, rows)| figures_of(rows, &self.first_win, ctx, period, rep)).collect()
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

/// A deal closes when it is now won or lost: the time it entered that stage.
fn closed_at(deal: &Opportunity) -> Option<UnixMillis> {
    deal.stage.is_closed().then_some(deal.stage_entered_at)
}

/// Won amount (CNY fen) of the deals with existing customers closed in `[start, end)`.
fn repeat_won(deals: &[DealRow], first: &HashMap<String, UnixMillis>, start: i64, end: i64) -> i64 {
    deals
        .iter()
        .filter(|d| d.won)
        .filter_map(|d| d.closed_at.filter(|t| (start..end).contains(t)).map(|t| (d, t)))
        .filter(|(d, t)| first.get(&d.customer).is_some_and(|first| first < t))
        .map(|(d, _)| d.amount_fen)
        .sum()
}

fn figures_of(
    rows: &RepRows,
    first_win: &HashMap<String, UnixMillis>,
    ctx: &KpiContext,
    period: Period,
    rep: &str,
) -> RepFigures {
    let offset = ctx.calendar.utc_offset_minutes;
    let (start, end) = period.span_ms(offset);
    let in_period = |t: UnixMillis| (start..end).contains(&t);
    let mut values = BTreeMap::new();
    let mut shortfalls = BTreeMap::new();
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    // Data quality: (complete, total) and (timely, total) over the records made in the period.
    let (mut complete, mut made) = (0i64, 0i64);
    let (mut timely, mut timed) = (0i64, 0i64);

    let (mut effective, mut short) = (0i64, 0i64);
    for visit in &rows.visits {
        if !in_period(visit.at()) {
            continue;
        }
        if let Some(started) = visit.started_at {
            touched.insert(&visit.customer);
            timed += 1;
            if visit.created_at <= started + DAY_MS {
                timely += 1;
            }
            made += 1;
            if visit.complete {
                complete += 1;
            }
        }
        if visit.started_at.is_none() && visit.planned_at >= ctx.as_of {
            // A visit still ahead is neither effective nor short yet.
            continue;
        }
        match visit.shortfall {
            None => effective += 1,
            Some(reason) => {
                short += 1;
                *shortfalls.entry(reason).or_insert(0u32) += 1;
            }
        }
    }
    values.insert(Metric::EffectiveVisits, effective);
    values.insert(Metric::VisitsNotEffective, short);

    let (mut payment, mut due, mut on_time) = (0i64, 0i64, 0i64);
    for activity in &rows.activities {
        if in_period(activity.at) {
            touched.insert(&activity.customer);
            if activity.payment {
                payment += 1;
            }
            made += 1;
            if activity.summary {
                complete += 1;
            }
            timed += 1;
            if activity.created_at <= activity.at + DAY_MS {
                timely += 1;
            }
        }
        if let Some(due_at) = activity.next_due
            && in_period(due_at)
            && (due_at <= ctx.as_of || activity.next_done.is_some())
        {
            due += 1;
            if activity.next_done.is_some_and(|d| d <= due_at) {
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
    for deal in &rows.deals {
        quotes += deal.quotes.iter().filter(|t| in_period(**t)).count() as i64;
        if let Some(closed) = deal.closed_at.filter(|t| in_period(*t)) {
            let existing = first_win.get(&deal.customer).is_some_and(|t| *t < closed);
            if !existing {
                closed_new += 1;
                won_new += i64::from(deal.won);
            }
            if deal.won {
                margin += deal.margin_fen;
                output += deal.amount_fen;
            }
        }
        if in_period(deal.created_at) {
            opened += 1;
            made += 1;
            if deal.has_amount {
                complete += 1;
            }
            proposed += i64::from(deal.proposed_at.is_some_and(|t| t < end));
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
    let now_repeat = repeat_won(&rows.deals, first_win, start, end);
    let then_repeat = repeat_won(&rows.deals, first_win, ly_start, ly_end);
    if then_repeat > 0 {
        // Growth may be negative: this division truncates toward zero.
        let growth = (i128::from(now_repeat - then_repeat) * i128::from(BP) / i128::from(then_repeat)) as i64;
        values.insert(Metric::RepeatPurchaseGrowth, growth.min(Metric::RepeatPurchaseGrowth.value_range().1));
    }

    for customer in &rows.customers {
        if customer.merged || !in_period(customer.created_at) {
            continue;
        }
        made += 1;
        let fields = ctx.required_customer_fields.iter().map(String::as_str).chain(["company_name"]);
        if fields.into_iter().all(|f| customer.has(f)) {
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
