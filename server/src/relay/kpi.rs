//! KPIs on the relay (docs/kpi.md): a team's metric figures, projected payouts, the strategy
//! sandbox and the weekly brief, with the core's own functions ([`fieldsync_core::kpi`]), so a
//! supervisor's table agrees with the reps' phones.
//!
//! The writer keeps one KPI row per record in its batch ([`super::Writer::kpi_touched`]), and the
//! figures read those rows ([`team_rows`]). The repair path ([`team_records`]) reads every stored
//! document of the team instead: the rebuild of a team's rows, the weekly brief, and the tests'
//! check of the kept rows. Each record counts for the user whose device created it (the
//! identity table); a deal counts for its `owner` when that names a user of the team, else for
//! its creator's user. A document that does not read as its kind is left out, as on the phones.

use std::collections::{BTreeMap, HashMap};

use fieldsync_core::DocId;
use fieldsync_core::kpi::{
    ActivityRow, Aggregate, ByRep, CustomerRow, Date, DealRow, KpiContext, KpiIndex, KpiRecords, KpiRow,
    Metric, Period, PeriodKind, RepFigures, VisitRow, brief, team_aggregates, weekly_brief,
};
use fieldsync_core::model::{
    Activity, Customer, Opportunity, RecordKind, ServiceSlip, TeamRules, Visit, read_record,
};

use crate::storage::{AlertRow, KpiRowWrite, RelayStorage, StorageError};

pub use super::scan::team_rules;

/// The KPI context of a team at `now`: its calendar and required customer fields.
pub fn context(rules: &TeamRules, now: i64) -> KpiContext {
    KpiContext {
        // `team_rules` hands out validated rules only, whose calendar reads.
        calendar: rules.calendar().unwrap_or_default(),
        required_customer_fields: rules.required_customer_fields.clone(),
        as_of: now,
    }
}

/// Every record of `team_id` the metrics read, each with the rep it counts for.
pub fn team_records(storage: &dyn RelayStorage, team_id: &str) -> Result<KpiRecords, StorageError> {
    let mut users: HashMap<[u8; 16], Option<String>> = HashMap::new();
    let mut user_of = |device: [u8; 16]| -> Result<Option<String>, StorageError> {
        if let Some(known) = users.get(&device) {
            return Ok(known.clone());
        }
        let user = storage.device_user(team_id, device)?;
        users.insert(device, user.clone());
        Ok(user)
    };
    let mut records = KpiRecords::default();
    super::scan::each_team_document(storage, team_id, |id, kind, doc| {
        match kind {
            RecordKind::Visit => {
                if let Some(v) = super::scan::read::<Visit>(doc, id)
                    && let Some(rep) = user_of(*v.provenance.created_by.as_bytes())?
                {
                    records.visits.push(ByRep { rep, record: v });
                }
            }
            RecordKind::Activity => {
                if let Some(a) = super::scan::read::<Activity>(doc, id)
                    && let Some(rep) = user_of(*a.provenance.created_by.as_bytes())?
                {
                    records.activities.push(ByRep { rep, record: a });
                }
            }
            RecordKind::Customer => {
                if let Some(c) = super::scan::read::<Customer>(doc, id)
                    && let Some(rep) = user_of(*c.provenance.created_by.as_bytes())?
                {
                    records.customers.push(ByRep { rep, record: c });
                }
            }
            RecordKind::ServiceSlip => records.slips.extend(super::scan::read::<ServiceSlip>(doc, id)),
            RecordKind::Opportunity => {
                if let Some(mut d) = super::scan::read::<Opportunity>(doc, id)
                    && let Some(rep) =
                        storage.deal_rep(team_id, &d.owner, *d.provenance.created_by.as_bytes())?
                {
                    d.owner = rep;
                    records.deals.push(d);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(records)
}

/// A team's KPI inputs: its rules and its rows (each visit's verdict made when it was written).
#[derive(Debug)]
pub struct TeamKpi {
    /// The team's rules in force.
    pub rules: TeamRules,
    /// Every rep's rows.
    pub index: KpiIndex,
}

/// The team's inputs from its documents: the repair path (every document read and made into
/// rows, every slip verified).
pub fn team_from_documents(storage: &dyn RelayStorage, team_id: &str) -> Result<TeamKpi, StorageError> {
    let rules = team_rules(storage, team_id)?;
    let records = team_records(storage, team_id)?;
    Ok(TeamKpi { rules, index: KpiIndex::new(&records) })
}

/// The team's KPI rows that a period within `[lo, hi)` may count, and every deal: an indexed
/// read of those rows, no document loaded. The rows must have been rebuilt for the team
/// ([`RelayStorage::kpi_team_rebuilt`]); the writer keeps them after that.
pub fn team_rows(
    storage: &dyn RelayStorage,
    team_id: &str,
    lo: i64,
    hi: i64,
) -> Result<KpiIndex, StorageError> {
    let mut by_rep: BTreeMap<String, fieldsync_core::kpi::RepRows> = BTreeMap::new();
    for (rep, text) in storage.kpi_rows(team_id, lo, hi)? {
        match serde_json::from_str::<KpiRow>(&text) {
            Ok(row) => by_rep.entry(rep).or_default().push(row),
            // Written by this relay: a row that does not read is a bug, and a rebuild fixes it.
            Err(e) => {
                tracing::error!(team_id, error = %e, "a KPI row does not read; rebuild the team's rows")
            }
        }
    }
    Ok(KpiIndex::from_rows(by_rep))
}

/// A team's figures for one period: every rep's, the team's mean and median, and each rep's
/// payout under the rules in force (when the team has rules for this period's kind).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TeamBoard {
    /// The period.
    pub period: Period,
    /// Every rep's figures, by rep id.
    pub reps: Vec<RepFigures>,
    /// The team's aggregates per metric.
    pub team: BTreeMap<Metric, Aggregate>,
    /// Each rep's payout (same order as `reps`), or why none is computed.
    pub payouts: Result<Vec<fieldsync_core::kpi::Payout>, String>,
}

/// The board of `period` from a team's KPI inputs at `now`.
pub fn board_of(team: &TeamKpi, period: Period, now: i64) -> TeamBoard {
    let ctx = context(&team.rules, now);
    let reps = team.index.team(&ctx, period);
    let facts: Vec<_> = reps.iter().map(|r| r.facts.clone()).collect();
    let payouts = match team.rules.rule_book() {
        Ok(Some(book)) => book.evaluate(&facts).map_err(|e| e.to_string()),
        Ok(None) => Err("the team has no incentive rules".into()),
        Err(e) => Err(e.to_string()),
    };
    TeamBoard { period, team: team_aggregates(&facts), reps, payouts }
}

/// Computes the board of `period` for `team_id` at `now`, reading the team's documents.
pub fn team_board(
    storage: &dyn RelayStorage,
    team_id: &str,
    period: Period,
    now: i64,
) -> Result<TeamBoard, StorageError> {
    Ok(board_of(&team_from_documents(storage, team_id)?, period, now))
}

/// The key of a team's brief for `week`: an alert key, unique, so a week's brief is written once.
pub fn brief_key(team_id: &str, week: Period) -> String {
    format!("brief/{team_id}/{week}")
}

/// When the brief of the week before is due in the week containing `now`: the team's weekday and
/// hour in team time (docs/kpi.md, "The weekly brief").
pub fn brief_moment(rules: &TeamRules, now: i64) -> (Period, i64) {
    let offset = context(rules, now).calendar.utc_offset_minutes;
    let this_week = Period::containing(PeriodKind::Week, Date::of_instant(now, offset));
    let day = this_week.first_day().add_days(i64::from(rules.brief_weekday.clamp(1, 7)) - 1);
    (this_week.previous(), day.start_ms(offset) + i64::from(rules.brief_hour.min(23)) * 3_600_000)
}

/// The brief of every team whose brief moment of this week has passed at `now` and whose brief
/// of the week before is not written yet, each computed from the team's documents, as the
/// alert row that stores and delivers it (level `escalation`: supervisors and admins).
pub fn due_briefs(storage: &dyn RelayStorage, now: i64) -> Result<Vec<AlertRow>, StorageError> {
    let mut due = Vec::new();
    for team in storage.teams()? {
        let rules = team_rules(storage, &team)?;
        let (week, moment) = brief_moment(&rules, now);
        let key = brief_key(&team, week);
        if now < moment || !storage.raised_keys(std::slice::from_ref(&key))?.is_empty() {
            continue;
        }
        let records = team_records(storage, &team)?;
        let ctx = context(&rules, now);
        let figures = KpiIndex::new(&records).team(&ctx, week);
        let mut names = BTreeMap::new();
        for rep in figures.iter().map(|f| &f.facts.rep) {
            if let Some(user) = storage.user_info(rep)? {
                names.insert(rep.clone(), user.name);
            }
        }
        let offset = ctx.calendar.utc_offset_minutes;
        let brief = weekly_brief(&team, week, offset, &records.deals, &figures, &names, now);
        let opportunity_id = brief
            .biggest_deal
            .as_ref()
            .and_then(|d| d.deal_id.parse::<DocId>().ok())
            .unwrap_or(DocId::from_bytes([0; 16]));
        due.push(AlertRow {
            alert_id: fieldsync_core::funnel::alert_id(&key),
            key: key.clone(),
            trigger_keys: vec![key],
            team_id: team,
            opportunity_id,
            level: "escalation".into(),
            payload: brief::encode(&brief),
            raised_at: now,
        });
    }
    Ok(due)
}

// ---------------------------------------------------------------- upkeep in the writer's batch

/// What the scheduler already read of a document the batch touched.
#[derive(Debug)]
pub(super) enum Source {
    /// Its row is in the batch already.
    Done,
    /// A visit, whose row waits for its slips.
    Visit(Box<Visit>),
}

/// What the writer stores of `row`: the row of document `id` for `rep` (`None`: no user of the
/// team made it, and any row it had is removed).
pub(super) fn row_write(id: DocId, team: &str, rep: Option<String>, row: &KpiRow) -> KpiRowWrite {
    let (lo, hi) = row.span();
    KpiRowWrite {
        doc_id: id,
        team_id: team.to_owned(),
        rep,
        lo,
        hi,
        is_deal: row.is_deal(),
        row: serde_json::to_string(row).expect("a KPI row serialises"),
    }
}

/// Every row of a team's records with the slip → visit links: the rebuild from documents.
pub fn rows_of(team: &str, records: &KpiRecords) -> (Vec<KpiRowWrite>, Vec<(DocId, DocId)>) {
    let rows =
        records.rows().into_iter().map(|(id, rep, row)| row_write(id, team, Some(rep), &row)).collect();
    let links = records.slips.iter().map(|s| (s.id, s.visit_id)).collect();
    (rows, links)
}

fn storage_error(verdict: super::Verdict) -> StorageError {
    match verdict {
        super::Verdict::Storage(e) => e,
        super::Verdict::Reject(_, m) => StorageError::Backend(m),
    }
}

impl super::Writer {
    /// Rebuilds a team's KPI rows from its stored documents (between batches, so storage holds
    /// every committed change); returns how many rows were written.
    pub(super) fn rebuild_kpi(&mut self, team_id: &str) -> Result<u64, StorageError> {
        let records = team_records(self.storage.as_ref(), team_id)?;
        let (rows, links) = rows_of(team_id, &records);
        self.storage.kpi_rebuild(
            team_id,
            &rows,
            &links,
            fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock),
        )?;
        Ok(rows.len() as u64)
    }

    /// The user of `team` whose device is `device`, once per batch.
    pub(super) fn kpi_user(
        &self,
        team: &str,
        device: [u8; 16],
        batch: &mut super::Batch,
    ) -> Result<Option<String>, StorageError> {
        if let Some(known) = batch.kpi_users.get(&device) {
            return Ok(known.clone());
        }
        let user = self.storage.device_user(team, device)?;
        batch.kpi_users.insert(device, user.clone());
        Ok(user)
    }

    /// The KPI rows of the visits, follow-ups, deals, customers and slips this batch touched,
    /// for the batch's commit: a pushed change touches its record's row only (and a slip its
    /// visit's), never a scan. Rows the scheduler made already are not made again.
    pub(super) fn kpi_touched(&mut self, batch: &mut super::Batch) -> Result<(), StorageError> {
        if !self.limits.kpi_upkeep {
            return Ok(());
        }
        let mut visits: Vec<DocId> = Vec::new();
        for id in batch.touched.clone() {
            if matches!(batch.kpi_read.get(&id), Some(Source::Done)) {
                continue;
            }
            let Some(cached) = self.cache.get(&id) else { continue };
            let (kind, team) = (cached.kind, cached.team_id.clone());
            match kind {
                RecordKind::Visit => visits.push(id),
                RecordKind::ServiceSlip => {
                    if let Ok(slip) = read_record::<ServiceSlip>(&cached.doc) {
                        batch.kpi_slips.push((id, slip.visit_id));
                        visits.push(slip.visit_id);
                    }
                }
                RecordKind::Customer => {
                    if let Ok(customer) = read_record::<Customer>(&cached.doc) {
                        let rep = self.kpi_user(&team, *customer.provenance.created_by.as_bytes(), batch)?;
                        batch.kpi_rows.push(row_write(
                            id,
                            &team,
                            rep,
                            &KpiRow::Customer(CustomerRow::of(&customer)),
                        ));
                    }
                }
                RecordKind::Activity => {
                    if let Ok(activity) = read_record::<Activity>(&cached.doc) {
                        let rep = self.kpi_user(&team, *activity.provenance.created_by.as_bytes(), batch)?;
                        batch.kpi_rows.push(row_write(
                            id,
                            &team,
                            rep,
                            &KpiRow::Activity(ActivityRow::of(&activity)),
                        ));
                    }
                }
                RecordKind::Opportunity => {
                    if let Ok(deal) = read_record::<Opportunity>(&cached.doc) {
                        let rep = self.storage.deal_rep(
                            &team,
                            &deal.owner,
                            *deal.provenance.created_by.as_bytes(),
                        )?;
                        batch.kpi_rows.push(row_write(id, &team, rep, &KpiRow::Deal(DealRow::of(&deal))));
                    }
                }
                _ => {}
            }
        }
        visits.sort_unstable();
        visits.dedup();
        // One query for the stored slips of every visit of the batch.
        let mut stored_slips: HashMap<DocId, Vec<DocId>> = HashMap::new();
        if !visits.is_empty() {
            for (slip, visit) in self.storage.kpi_slips_for(&visits)? {
                stored_slips.entry(visit).or_default().push(slip);
            }
        }
        for id in visits {
            let visit = match batch.kpi_read.remove(&id) {
                Some(Source::Visit(visit)) => *visit,
                _ => {
                    // A slip's visit not in this batch: it may be unknown yet (its row comes with it).
                    match self.document_meta(id) {
                        Ok(Some(meta)) if meta.kind == RecordKind::Visit => {}
                        Ok(_) => continue,
                        Err(super::Verdict::Reject(..)) => continue,
                        Err(e) => return Err(storage_error(e)),
                    }
                    let Some(cached) = self.cache.get(&id) else { continue };
                    let Ok(visit) = read_record::<Visit>(&cached.doc) else { continue };
                    visit
                }
            };
            let team = match self.cache.get(&id) {
                Some(cached) => cached.team_id.clone(),
                None => continue,
            };
            let mut slip_ids = stored_slips.remove(&id).unwrap_or_default();
            slip_ids.extend(batch.kpi_slips.iter().filter(|(_, v)| *v == id).map(|(s, _)| *s));
            slip_ids.sort_unstable();
            slip_ids.dedup();
            let mut slips = Vec::with_capacity(slip_ids.len());
            for slip_id in slip_ids {
                match self.document_meta(slip_id) {
                    Ok(Some(meta)) if meta.kind == RecordKind::ServiceSlip => {}
                    Ok(_) | Err(super::Verdict::Reject(..)) => continue,
                    Err(e) => return Err(storage_error(e)),
                }
                if let Some(cached) = self.cache.get(&slip_id)
                    && let Ok(slip) = read_record::<ServiceSlip>(&cached.doc)
                {
                    slips.push(slip);
                }
            }
            let refs: Vec<&ServiceSlip> = slips.iter().collect();
            let rep = self.kpi_user(&team, *visit.provenance.created_by.as_bytes(), batch)?;
            batch.kpi_rows.push(row_write(id, &team, rep, &KpiRow::Visit(VisitRow::of(&visit, &refs))));
        }
        Ok(())
    }
}
