//! The scoreboards (docs/kpi.md, "Scoreboards"): per team and period, a [`Scoreboard`] document
//! every member of the team receives (the team's mean and median of each metric, so a rep's
//! phone shows "me against the team" offline) and a [`TeamTable`] document only supervisors and
//! admins receive (every rep's figures and projected payout). The relay writes both as its own
//! actor, for the running and the previous week, month and quarter.
//!
//! The writer notes which teams' KPI rows or rules a batch changed ([`Boards::touch`]). The
//! scheduler's loop ([`super::Relay::scoreboard_tick`]) recomputes those teams' boards from
//! their kept rows (an indexed read of two quarters of rows, no document loaded), and every
//! team's once a day in team time (rates over working days elapsed move with the calendar),
//! off the writer thread; the writer then writes the documents whose figures changed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use fieldsync_core::DocId;
use fieldsync_core::kpi::{Date, Period, PeriodKind};
use fieldsync_core::model::{
    MetricValue, Provenance, RepLine, ScoreLine, Scoreboard, TeamTable, read_record, scoreboard_id,
    team_table_id,
};
use fieldsync_core::{DeviceId, UnixMillis};

use super::kpi::{TeamKpi, board_of, context, team_rules};
use crate::storage::StorageError;

/// Which teams' boards are due, shared by the writer (which notes changes) and the scheduler's
/// loop (which recomputes them).
#[derive(Debug, Default)]
pub struct Boards {
    state: Mutex<BoardState>,
}

#[derive(Debug, Default)]
struct BoardState {
    /// Teams whose rows or rules changed since their boards were last computed.
    dirty: HashSet<String>,
    /// Per team: its UTC offset and the team-time day its boards were last computed on.
    computed: HashMap<String, (i32, Date)>,
}

impl Boards {
    /// Notes that `team`'s KPI rows or rules changed.
    pub fn touch(&self, team: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.dirty.insert(team.to_owned());
    }

    /// Of `teams`, those whose boards are due at `now`: changed since, never computed by this
    /// process, or last computed on an earlier team-time day. Each is taken out of the changed
    /// set before its rows are read, so a change committed meanwhile makes it due again.
    fn take_due(&self, teams: Vec<String>, now: i64) -> Vec<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        for team in teams {
            let fresh =
                state.computed.get(&team).is_some_and(|&(offset, day)| Date::of_instant(now, offset) == day);
            if state.dirty.remove(&team) || !fresh {
                due.push(team);
            }
        }
        due
    }

    fn computed(&self, team: &str, offset: i32, day: Date) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.computed.insert(team.to_owned(), (offset, day));
    }

    /// A team whose boards could not be computed is due again at the next tick.
    fn failed(&self, team: &str) {
        self.touch(team);
    }
}

/// The periods a team's boards are kept for at `today`: the running and the previous week,
/// month and quarter.
pub fn board_periods(today: Date) -> Vec<Period> {
    [PeriodKind::Week, PeriodKind::Month, PeriodKind::Quarter]
        .into_iter()
        .flat_map(|kind| {
            let now = Period::containing(kind, today);
            [now.previous(), now]
        })
        .collect()
}

/// A team's boards for `periods`, from its kept rows, by the relay `actor` at `now`.
pub fn team_boards(
    team_id: &str,
    team: &TeamKpi,
    periods: &[Period],
    names: &HashMap<String, String>,
    actor: [u8; 16],
    now: UnixMillis,
) -> Vec<(Scoreboard, TeamTable)> {
    let provenance = Provenance { created_at: now, created_by: DeviceId::from_bytes(actor) };
    periods
        .iter()
        .map(|&period| {
            let board = board_of(team, period, now);
            let label = period.to_string();
            let scoreboard = Scoreboard {
                id: scoreboard_id(team_id, &label),
                team_id: team_id.to_owned(),
                period: label.clone(),
                reps: board.reps.len() as u32,
                team: board
                    .team
                    .iter()
                    .map(|(metric, a)| ScoreLine {
                        metric: metric.as_str().to_owned(),
                        reps: a.reps,
                        mean: a.mean,
                        median: a.median,
                    })
                    .collect(),
                computed_at: now,
                provenance,
            };
            let payouts = board.payouts.as_ref().ok();
            let table = TeamTable {
                id: team_table_id(team_id, &label),
                team_id: team_id.to_owned(),
                period: label,
                reps: board
                    .reps
                    .iter()
                    .enumerate()
                    .map(|(i, figures)| {
                        let rep = figures.facts.rep.clone();
                        let payout = payouts.and_then(|p| p.get(i));
                        RepLine {
                            name: names.get(&rep).cloned().unwrap_or_else(|| rep.clone()),
                            rep,
                            metrics: figures
                                .facts
                                .values
                                .iter()
                                .map(|(m, &value)| MetricValue { metric: m.as_str().to_owned(), value })
                                .collect(),
                            payout_fen: payout.map(|p| p.payout_fen),
                            payout_band: payout.map(|p| p.band.to_string()),
                        }
                    })
                    .collect(),
                payout_unavailable: board.payouts.as_ref().err().cloned(),
                computed_at: now,
                provenance,
            };
            (scoreboard, table)
        })
        .collect()
}

impl super::Relay {
    /// Recomputes the boards of every team that is due at `now_ms` (see [`Boards`]) from its
    /// kept rows, off the writer thread, and has the writer write those whose figures changed.
    /// Returns how many documents were written. The scheduler's loop calls it every interval;
    /// tests call it on a fake clock.
    pub async fn scoreboard_tick(&self, now_ms: i64) -> Result<u32, super::RelayError> {
        let relay = self.clone();
        let due = tokio::task::spawn_blocking(move || -> Result<Vec<_>, super::RelayError> {
            let teams = relay.storage.teams()?;
            let actor = relay.storage.relay_actor()?;
            let mut out = Vec::new();
            for team in relay.boards.take_due(teams, now_ms) {
                match relay.compute_boards(&team, actor, now_ms) {
                    Ok(boards) => out.push((team, boards)),
                    Err(e) => {
                        relay.boards.failed(&team);
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(|_| super::RelayError::Unavailable)??;
        let mut written = 0;
        for (team, boards) in due {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let sent =
                self.writer.send(super::Job::Boards(super::BoardsJob { team: team.clone(), boards, reply }));
            if sent.await.is_err() {
                self.boards.failed(&team);
                return Err(super::RelayError::Unavailable);
            }
            match answer.await {
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => {
                    self.boards.failed(&team);
                    return Err(e);
                }
                Err(_) => {
                    self.boards.failed(&team);
                    return Err(super::RelayError::Unavailable);
                }
            }
        }
        Ok(written)
    }

    /// One team's boards at `now` (blocking).
    fn compute_boards(
        &self,
        team: &str,
        actor: [u8; 16],
        now: i64,
    ) -> Result<Vec<(Scoreboard, TeamTable)>, super::RelayError> {
        let rules = team_rules(self.storage.as_ref(), team)?;
        let offset = context(&rules, now).calendar.utc_offset_minutes;
        let today = Date::of_instant(now, offset);
        let periods = board_periods(today);
        let lo = periods.iter().map(|p| p.span_ms(offset).0).min().unwrap_or(now);
        let hi = periods.iter().map(|p| p.span_ms(offset).1).max().unwrap_or(now);
        let index = self.team_rows(team, lo, hi)?;
        let mut names = HashMap::new();
        for rep in index.reps() {
            if let Some(user) = self.storage.user_info(&rep)? {
                names.insert(rep, user.name);
            }
        }
        let boards = team_boards(team, &TeamKpi { index, rules }, &periods, &names, actor, now);
        self.boards.computed(team, offset, today);
        Ok(boards)
    }
}

/// Whether two boards of the same document say the same (when they were computed aside).
fn same_scoreboard(a: &Scoreboard, b: &Scoreboard) -> bool {
    a.team_id == b.team_id && a.period == b.period && a.reps == b.reps && a.team == b.team
}

fn same_table(a: &TeamTable, b: &TeamTable) -> bool {
    a.team_id == b.team_id
        && a.period == b.period
        && a.reps == b.reps
        && a.payout_unavailable == b.payout_unavailable
}

impl super::Writer {
    /// The stored record of relay document `id`, if there is one and it reads.
    fn stored_board<R: fieldsync_core::model::Record>(
        &mut self,
        id: DocId,
    ) -> Result<Option<R>, StorageError> {
        match self.document_meta(id) {
            Ok(Some(_)) => {}
            Ok(None) | Err(super::Verdict::Reject(..)) => return Ok(None),
            Err(super::Verdict::Storage(e)) => return Err(e),
        }
        Ok(self.cache.get(&id).and_then(|c| read_record(&c.doc).ok()))
    }

    /// Writes a team's boards whose figures differ from the stored ones (keeping each
    /// document's first provenance); returns how many documents changed.
    pub(super) fn write_boards(
        &mut self,
        job: &super::BoardsJob,
        batch: &mut super::Batch,
    ) -> Result<u32, StorageError> {
        let mut written = 0;
        for (scoreboard, table) in &job.boards {
            match self.stored_board::<Scoreboard>(scoreboard.id)? {
                Some(old) if same_scoreboard(&old, scoreboard) => {}
                // A period nobody has figures in gets no document until someone has.
                None if scoreboard.reps == 0 => {}
                old => {
                    let mut new = scoreboard.clone();
                    if let Some(old) = old {
                        new.provenance = old.provenance;
                    }
                    self.relay_write(&new, &job.team, batch)?;
                    written += 1;
                }
            }
            match self.stored_board::<TeamTable>(table.id)? {
                Some(old) if same_table(&old, table) => {}
                None if table.reps.is_empty() => {}
                old => {
                    let mut new = table.clone();
                    if let Some(old) = old {
                        new.provenance = old.provenance;
                    }
                    self.relay_write(&new, &job.team, batch)?;
                    written += 1;
                }
            }
        }
        Ok(written)
    }
}
