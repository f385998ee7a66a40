//! Follow-ups between visits (issue 13): logging them offline, finishing a call with what was
//! said, the customer's timeline and the rep's follow-up to-do. Everything reads the projection
//! tables of migration 0008.

use rusqlite::{Connection, params};

use super::Store;
use super::documents::StoredDoc;
use super::error::{Result, StoreError};
use super::projection::hydrate;
use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{
    Activity, ActivityType, Customer, Draft, NewActivity, NextAction, Opportunity, Provenance, Record,
    RecordKind, ValidationError, Visit,
};

/// How long a call may wait for its summary before it is on the rep's to-do.
pub const CALL_SUMMARY_GRACE_MS: i64 = 24 * 3_600_000;
/// The most entries one timeline page returns.
pub const MAX_TIMELINE_PAGE: u32 = 200;

/// What a rep adds when a follow-up is over (a call they came back from).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityResult {
    /// How long it took, seconds.
    pub duration_s: Option<i64>,
    /// How it ended (接通, 未接).
    pub outcome: Option<String>,
    /// What was said.
    pub summary: String,
    /// What comes next.
    pub next_action: Option<NextAction>,
}

/// One follow-up as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySummary {
    /// The activity.
    pub id: DocId,
    /// Its customer.
    pub customer_id: DocId,
    /// Its deal.
    pub opportunity_id: Option<DocId>,
    /// What kind.
    pub activity_type: ActivityType,
    /// When it happened.
    pub at: UnixMillis,
    /// The first 60 characters of what was said (empty: not written yet).
    pub summary_head: String,
    /// The open next action and when it is due.
    pub next_action: Option<(String, UnixMillis)>,
}

/// What kind of entry a timeline row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineKind {
    /// A visit (`at`: its start, or its planned time).
    Visit,
    /// A follow-up (`at`: when it happened).
    Activity,
    /// A deal (`at`: when it entered its current stage).
    Deal,
    /// A scanned lead card (`at`: when it was scanned).
    LeadCard,
}

impl TimelineKind {
    fn parse(s: &str) -> Option<TimelineKind> {
        Some(match s {
            "visit" => TimelineKind::Visit,
            "activity" => TimelineKind::Activity,
            "deal" => TimelineKind::Deal,
            "lead_card" => TimelineKind::LeadCard,
            _ => return None,
        })
    }
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// What it is.
    pub kind: TimelineKind,
    /// The record.
    pub id: DocId,
    /// When (see [`TimelineKind`]).
    pub at: UnixMillis,
    /// One line for the list: the activity type and what was said, the deal's title and stage,
    /// the card's name and company, the visit's photo count.
    pub line: String,
}

/// Where a timeline page ends: pass it as `before` for the next (older) page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineCursor {
    /// The last entry's time.
    pub at: UnixMillis,
    /// The last entry's id (entries at the same time are ordered by id).
    pub id: DocId,
}

/// A page of a customer's timeline, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePage {
    /// The entries.
    pub entries: Vec<TimelineEntry>,
    /// The cursor for the next page, when there may be more.
    pub next: Option<TimelineCursor>,
}

/// The rep's follow-up to-do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FollowUpTodo {
    /// Open next actions due by the time asked about, earliest first.
    pub due: Vec<ActivitySummary>,
    /// Calls this phone started more than a day ago that still say nothing.
    pub calls_without_summary: Vec<ActivitySummary>,
    /// This user's customers that return to the pool within the team's warning period unless
    /// followed up ([`Store::pool_warnings`]), earliest first; empty before enrolling.
    pub returning_to_pool: Vec<super::PoolWarning>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> StoreError {
    StoreError::Invalid(ValidationError::new(RecordKind::Activity, field, problem))
}

/// Loads `id` as a record of kind `R`, or says which reference is wrong.
fn referenced<R: Record>(conn: &Connection, id: DocId) -> Result<R> {
    super::find_in(conn, id)?.ok_or(StoreError::NotFound { kind: R::KIND, id })
}

/// The activity's customer, deal and visit exist here and belong together.
fn check_references(conn: &Connection, activity: &Activity) -> Result<()> {
    referenced::<Customer>(conn, activity.customer_id)?;
    if let Some(deal_id) = activity.opportunity_id {
        let deal: Opportunity = referenced(conn, deal_id)?;
        if deal.customer_id != activity.customer_id {
            return Err(invalid("opportunity_id", format!("deal {deal_id} is another customer's")));
        }
    }
    if let Some(visit_id) = activity.visit_id {
        let visit: Visit = referenced(conn, visit_id)?;
        if visit.customer_id != activity.customer_id {
            return Err(invalid("visit_id", format!("visit {visit_id} is to another customer")));
        }
    }
    Ok(())
}

fn summary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ActivitySummary> {
    let kind: String = row.get(3)?;
    let activity_type = ActivityType::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("activity type {kind}").into(),
        )
    })?;
    let due: Option<i64> = row.get(6)?;
    let what: Option<String> = row.get(7)?;
    Ok(ActivitySummary {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        opportunity_id: row.get(2)?,
        activity_type,
        at: row.get(4)?,
        summary_head: row.get(5)?,
        next_action: what.zip(due),
    })
}

const SUMMARY_COLUMNS: &str =
    "doc_id, customer_id, opportunity_id, activity_type, at, summary_head, next_action_due_at, next_action";

/// The open next actions due by `until` of the follow-ups device `me` logged, earliest first (at
/// most 500): the to-do's list and the reminders' alike.
pub(super) fn due_next_actions(
    conn: &Connection,
    me: &str,
    until: UnixMillis,
) -> Result<Vec<ActivitySummary>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM activity_index
             WHERE next_action_due_at <= ?1 AND created_by = ?2
             ORDER BY next_action_due_at, doc_id LIMIT 500"
        ))?
        .query_map(params![until, me], summary_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

impl Store {
    /// Logs a follow-up, offline. The customer (and the deal and visit, when given) must be on
    /// this phone and belong together; the record's own rules are checked first. Nothing is
    /// saved on any error.
    pub fn log_activity(&self, draft: NewActivity) -> Result<Activity> {
        let now = self.clock.now_ms();
        let provenance = Provenance { created_at: now, created_by: self.device_id() };
        let activity = draft.into_record(DocId::generate(), provenance);
        activity.validate()?;
        self.db.write(|tx| {
            check_references(tx, &activity)?;
            self.insert_record(tx, &activity, now)?;
            Ok(())
        })?;
        Ok(activity)
    }

    /// Starts a call to `phone` now: the activity is saved at once (the rep may not come back to
    /// the app), and [`Store::finish_activity`] adds what was said.
    pub fn start_call(&self, customer_id: DocId, phone: String, contact: Option<String>) -> Result<Activity> {
        self.log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id,
            opportunity_id: None,
            visit_id: None,
            contact,
            phone: Some(phone),
            at: self.clock.now_ms(),
            duration_s: None,
            summary: String::new(),
            outcome: None,
            next_action: None,
        })
    }

    /// Completes a follow-up with its result: duration, outcome, what was said, what is next.
    pub fn finish_activity(&self, id: DocId, result: ActivityResult) -> Result<Activity> {
        self.edit_activity(id, |activity| {
            activity.duration_s = result.duration_s;
            activity.outcome = result.outcome;
            activity.summary = result.summary;
            activity.next_action = result.next_action;
        })
    }

    /// Marks the activity's next action done now.
    pub fn complete_next_action(&self, id: DocId) -> Result<Activity> {
        let now = self.clock.now_ms();
        self.edit_activity(id, |activity| {
            if let Some(next) = activity.next_action.as_mut() {
                next.done_at.get_or_insert(now.max(activity.at));
            }
        })
    }

    fn edit_activity(&self, id: DocId, edit: impl FnOnce(&mut Activity)) -> Result<Activity> {
        let now = self.clock.now_ms();
        self.db.write(|tx| {
            let mut stored: StoredDoc = self.load_for_write::<Activity>(tx, id)?;
            let mut activity: Activity = hydrate(&stored.doc, id)?;
            edit(&mut activity);
            activity.validate()?;
            self.commit_change(tx, id, &mut stored, now, |am| {
                crate::model::write_record(am, &activity).map_err(|e| e.to_string())
            })?;
            hydrate(&stored.doc, id)
        })
    }

    /// A customer's visits, follow-ups, deals and lead cards, newest first, `limit` (at most
    /// [`MAX_TIMELINE_PAGE`]) at a time; `before` continues after a previous page.
    pub fn customer_timeline(
        &self,
        customer_id: DocId,
        before: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        let limit = limit.clamp(1, MAX_TIMELINE_PAGE);
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT kind, doc_id, at, first, second FROM (
                     SELECT 'visit' AS kind, doc_id, at, CAST(photo_count AS TEXT) AS first, '' AS second
                       FROM visit_index WHERE customer_id = ?1
                     UNION ALL
                     SELECT 'activity', doc_id, at, activity_type, summary_head
                       FROM activity_index WHERE customer_id = ?1
                     UNION ALL
                     SELECT 'deal', doc_id, stage_entered_at, title, stage
                       FROM opportunity_index WHERE customer_id = ?1
                     UNION ALL
                     SELECT 'lead_card', doc_id, scanned_at, coalesce(name, ''), coalesce(company, '')
                       FROM lead_card_index WHERE customer_id = ?1
                 )
                 WHERE ?2 IS NULL OR at < ?2 OR (at = ?2 AND doc_id < ?3)
                 ORDER BY at DESC, doc_id DESC LIMIT ?4",
            )?;
            let rows = statement.query_map(
                params![
                    customer_id.to_string(),
                    before.map(|c| c.at),
                    before.map(|c| c.id.to_string()),
                    i64::from(limit)
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, DocId>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )?;
            let mut entries = Vec::new();
            for row in rows {
                let (kind, id, at, first, second) = row?;
                let Some(kind) = TimelineKind::parse(&kind) else { continue };
                entries.push(TimelineEntry { kind, id, at, line: timeline_line(kind, &first, &second) });
            }
            let next = (entries.len() == limit as usize)
                .then(|| entries.last().map(|e| TimelineCursor { at: e.at, id: e.id }))
                .flatten();
            Ok(TimelinePage { entries, next })
        })
    }

    /// This phone's follow-up to-do at `now`: open next actions due by `until` (of follow-ups
    /// this device logged), calls it started over a day ago that still have no summary, and the
    /// user's customers about to return to the pool.
    pub fn follow_up_todo(&self, now: UnixMillis, until: UnixMillis) -> Result<FollowUpTodo> {
        let me = self.device_id().to_string();
        self.db.read(|conn| {
            let due = due_next_actions(conn, &me, until)?;
            let returning_to_pool =
                super::ownership::pool_returns(conn, now, |rules| now.saturating_add(rules.pool_warn_ms()))?;
            let calls_without_summary = conn
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM activity_index
                     WHERE activity_type = 'call' AND NOT has_summary AND at <= ?1 AND created_by = ?2
                     ORDER BY at, doc_id LIMIT 500"
                ))?
                .query_map(params![now.saturating_sub(CALL_SUMMARY_GRACE_MS), me], summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(FollowUpTodo { due, calls_without_summary, returning_to_pool })
        })
    }

    /// Every open next action of the team overdue at `now`, earliest first: what a supervisor
    /// looks at.
    pub fn overdue_next_actions(&self, now: UnixMillis, limit: u32) -> Result<Vec<ActivitySummary>> {
        self.db.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM activity_index WHERE next_action_due_at < ?1
                     ORDER BY next_action_due_at, doc_id LIMIT ?2"
                ))?
                .query_map(params![now, i64::from(limit.min(10_000))], summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// The list line of a timeline entry from its two projection columns.
fn timeline_line(kind: TimelineKind, first: &str, second: &str) -> String {
    match kind {
        TimelineKind::Visit => format!("拜访 · {first} 张照片"),
        TimelineKind::Activity => {
            let label = ActivityType::parse(first).map_or(first, |t| t.label_zh());
            if second.is_empty() {
                format!("{label} · (未填写沟通内容)")
            } else {
                format!("{label} · {second}")
            }
        }
        TimelineKind::Deal => {
            let stage = crate::model::Stage::parse(second).map_or(second, |s| s.label_zh());
            format!("商机 · {first} · {stage}")
        }
        TimelineKind::LeadCard => {
            [first, second].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" · ")
        }
    }
}
