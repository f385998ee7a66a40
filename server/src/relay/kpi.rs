//! KPIs on the relay (docs/kpi.md): a team's metric figures, projected payouts and the strategy
//! sandbox, computed from the documents the relay stores with the core's own functions
//! ([`fieldsync_core::kpi`]), so a supervisor's table agrees with the reps' phones.
//!
//! This is the repair path of issue 14: it reads every stored snapshot of the team page by page
//! (not the writer's cache: no sync job waits behind it), so its cost grows with the team's
//! documents. Each record counts for the user whose device created it (the identity table);
//! a deal counts for its `owner` when that names a user of the team, else for its creator's user.
//! A document that does not read as its kind is left out, as the phones leave it out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use automerge::Automerge;
use fieldsync_core::DocId;
use fieldsync_core::kpi::{
    Aggregate, ByRep, Date, KpiContext, KpiIndex, KpiRecords, Metric, Period, PeriodKind, RepFigures,
    RuleBook, brief, team_aggregates, weekly_brief,
};
use fieldsync_core::model::{
    Activity, Customer, Opportunity, Record, RecordKind, ServiceSlip, TeamRules, Visit, read_record,
};

use crate::storage::{AlertRow, RelayStorage, StorageError};

/// The team's rules as the KPIs read them: its rules document when it reads and validates, the
/// defaults otherwise (as on the phones).
pub fn team_rules(storage: &dyn RelayStorage, team_id: &str) -> Result<TeamRules, StorageError> {
    let Some(id) = storage.team_rules_document(team_id)? else { return Ok(TeamRules::defaults()) };
    let Some(stored) = storage.load_document(id)? else { return Ok(TeamRules::defaults()) };
    Ok(Automerge::load(&stored.snapshot)
        .ok()
        .and_then(|doc| read_record::<TeamRules>(&doc).ok())
        .filter(|rules| rules.validate().is_ok())
        .unwrap_or_else(TeamRules::defaults))
}

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
                if let Some(v) = read::<Visit>(doc, id)
                    && let Some(rep) = user_of(*v.provenance.created_by.as_bytes())?
                {
                    records.visits.push(ByRep { rep, record: v });
                }
            }
            RecordKind::Activity => {
                if let Some(a) = read::<Activity>(doc, id)
                    && let Some(rep) = user_of(*a.provenance.created_by.as_bytes())?
                {
                    records.activities.push(ByRep { rep, record: a });
                }
            }
            RecordKind::Customer => {
                if let Some(c) = read::<Customer>(doc, id)
                    && let Some(rep) = user_of(*c.provenance.created_by.as_bytes())?
                {
                    records.customers.push(ByRep { rep, record: c });
                }
            }
            RecordKind::ServiceSlip => records.slips.extend(read::<ServiceSlip>(doc, id)),
            RecordKind::Opportunity => {
                if let Some(mut d) = read::<Opportunity>(doc, id)
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

/// A team's KPI inputs as last computed: its rules and its records made into rows (each visit
/// classified, each slip verified), with the team's log position they were read at.
#[derive(Debug)]
pub struct TeamKpi {
    /// The team's rules in force.
    pub rules: TeamRules,
    /// Every rep's rows.
    pub index: KpiIndex,
}

/// Teams' [`TeamKpi`], reused while a team's log has not moved: a supervisor who opens the table
/// again, or another rep of the team, reads no document. A pushed change (or a rules change, a
/// merge, an ownership write: all are log entries) moves the log head and the next query reads
/// the team again. At most [`KpiCache::TEAMS`] teams are kept, the most recently used.
#[derive(Debug, Default)]
pub struct KpiCache {
    teams: Mutex<Vec<(String, u64, Arc<TeamKpi>)>>,
    /// Held while a team's documents are read: one scan at a time on the relay, and requests
    /// that arrive meanwhile take its result instead of scanning again.
    reading: Mutex<()>,
}

impl KpiCache {
    /// Teams kept.
    pub const TEAMS: usize = 4;

    /// The team's KPI inputs, read from its documents unless the cached ones are current.
    pub fn team(&self, storage: &dyn RelayStorage, team_id: &str) -> Result<Arc<TeamKpi>, StorageError> {
        if let Some(hit) = self.current(storage, team_id)? {
            return Ok(hit);
        }
        let _reading = self.reading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = self.current(storage, team_id)? {
            return Ok(hit);
        }
        let head = storage.head_seq(team_id)?;
        let rules = team_rules(storage, team_id)?;
        let records = team_records(storage, team_id)?;
        let fresh = Arc::new(TeamKpi { rules, index: KpiIndex::new(&records) });
        let mut teams = self.teams.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        teams.retain(|(t, _, _)| t != team_id);
        teams.push((team_id.to_owned(), head, fresh.clone()));
        if teams.len() > Self::TEAMS {
            teams.remove(0);
        }
        Ok(fresh)
    }

    /// The cached inputs of `team_id` if its log has not moved since they were read.
    fn current(
        &self,
        storage: &dyn RelayStorage,
        team_id: &str,
    ) -> Result<Option<Arc<TeamKpi>>, StorageError> {
        let head = storage.head_seq(team_id)?;
        let mut teams = self.teams.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(at) = teams.iter().position(|(t, h, _)| t == team_id && *h == head) else { return Ok(None) };
        let hit = teams.remove(at);
        let found = hit.2.clone();
        teams.push(hit);
        Ok(Some(found))
    }
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
    let team = KpiCache::default().team(storage, team_id)?;
    Ok(board_of(&team, period, now))
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

/// The rule book in force for a team, if it has one.
pub fn rule_book(rules: &TeamRules) -> Option<RuleBook> {
    rules.rule_book().ok().flatten()
}

/// The record in `doc` when it reads as `R` and carries the id it is stored under.
fn read<R: Record>(doc: &Automerge, id: DocId) -> Option<R> {
    read_record::<R>(doc).ok().filter(|r| r.id() == id)
}
