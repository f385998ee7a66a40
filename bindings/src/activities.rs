//! Follow-ups through the FFI (docs/follow-ups.md): one-tap calls started and finished, other
//! follow-ups logged, a customer's timeline and the rep's follow-up to-do. Thin copies of
//! `fieldsync_core` calls; types are spelled as in docs/protocol.md (`call`, `sample_sent`, …).

use fieldsync_core::model::{Activity, ActivityType, NewActivity, NextAction};
use fieldsync_core::store::{ActivityResult, ActivitySummary, TimelineCursor, TimelineKind};

use crate::FfiError;
use crate::capture::{id, invalid};
use crate::error::guard;
use crate::store::FieldStore;

/// What comes next after a follow-up.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiNextAction {
    /// What the rep will do.
    pub what: String,
    /// When it is due, Unix ms.
    pub due_at: i64,
    /// When it was done; null while open.
    pub done_at: Option<i64>,
}

/// A follow-up as stored.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiActivity {
    /// Its id.
    pub id: String,
    /// `call`, `message`, `meeting`, `email`, `visit`, `payment_follow_up`, `sample_sent`,
    /// `inquiry_received` or `quote_sent`.
    pub activity_type: String,
    /// The type as reps read it (电话, 寄样, …).
    pub label: String,
    /// The customer.
    pub customer_id: String,
    /// The deal, if any.
    pub opportunity_id: Option<String>,
    /// The visit, for a visit activity.
    pub visit_id: Option<String>,
    /// Whom it was with.
    pub contact: Option<String>,
    /// The number called, as dialled.
    pub phone: Option<String>,
    /// When, Unix ms.
    pub at: i64,
    /// How long, seconds.
    pub duration_s: Option<i64>,
    /// What was said (empty until written).
    pub summary: String,
    /// How it ended.
    pub outcome: Option<String>,
    /// What comes next.
    pub next_action: Option<FfiNextAction>,
}

/// The fields of a follow-up the rep logs.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiNewActivity {
    /// The type, spelled as in [`FfiActivity::activity_type`].
    pub activity_type: String,
    /// The customer.
    pub customer_id: String,
    /// The deal it was about.
    pub opportunity_id: Option<String>,
    /// The visit, for a visit activity.
    pub visit_id: Option<String>,
    /// Whom it was with.
    pub contact: Option<String>,
    /// The number, for a call or message.
    pub phone: Option<String>,
    /// When, Unix ms.
    pub at: i64,
    /// How long, seconds.
    pub duration_s: Option<i64>,
    /// What was said.
    pub summary: String,
    /// How it ended.
    pub outcome: Option<String>,
    /// What comes next.
    pub next_action: Option<FfiNextAction>,
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiTimelineEntry {
    /// `visit`, `activity`, `deal` or `lead_card`.
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// When, Unix ms.
    pub at: i64,
    /// One line for the list.
    pub line: String,
}

/// A page of a customer's timeline, newest first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiTimelinePage {
    /// The entries.
    pub entries: Vec<FfiTimelineEntry>,
    /// Pass these two as `before_at`/`before_id` for the next page; null when there is none.
    pub next_before_at: Option<i64>,
    /// See `next_before_at`.
    pub next_before_id: Option<String>,
}

/// A follow-up in a list.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiActivitySummary {
    /// Its id.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The deal, if any.
    pub opportunity_id: Option<String>,
    /// The type.
    pub activity_type: String,
    /// When, Unix ms.
    pub at: i64,
    /// The first 60 characters of what was said.
    pub summary_head: String,
    /// The open next action.
    pub next_action_what: Option<String>,
    /// When it is due.
    pub next_action_due_at: Option<i64>,
}

/// The rep's follow-up to-do.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiFollowUpTodo {
    /// Open next actions due by the time asked about, earliest first.
    pub due: Vec<FfiActivitySummary>,
    /// Calls started over a day ago with nothing written.
    pub calls_without_summary: Vec<FfiActivitySummary>,
    /// The user's customers that return to the pool soon unless followed up, earliest first.
    pub returning_to_pool: Vec<crate::ownership::FfiPoolWarning>,
}

impl From<Activity> for FfiActivity {
    fn from(a: Activity) -> Self {
        FfiActivity {
            id: a.id.to_string(),
            activity_type: a.activity_type.as_str().to_owned(),
            label: a.activity_type.label_zh().to_owned(),
            customer_id: a.customer_id.to_string(),
            opportunity_id: a.opportunity_id.map(|i| i.to_string()),
            visit_id: a.visit_id.map(|i| i.to_string()),
            contact: a.contact,
            phone: a.phone,
            at: a.at,
            duration_s: a.duration_s,
            summary: a.summary,
            outcome: a.outcome,
            next_action: a.next_action.map(|n| FfiNextAction {
                what: n.what,
                due_at: n.due_at,
                done_at: n.done_at,
            }),
        }
    }
}

impl From<ActivitySummary> for FfiActivitySummary {
    fn from(a: ActivitySummary) -> Self {
        let (what, due) = a.next_action.unzip();
        FfiActivitySummary {
            id: a.id.to_string(),
            customer_id: a.customer_id.to_string(),
            opportunity_id: a.opportunity_id.map(|i| i.to_string()),
            activity_type: a.activity_type.as_str().to_owned(),
            at: a.at,
            summary_head: a.summary_head,
            next_action_what: what,
            next_action_due_at: due,
        }
    }
}

fn next_action(next: Option<FfiNextAction>) -> Option<NextAction> {
    next.map(|n| NextAction { what: n.what, due_at: n.due_at, done_at: n.done_at })
}

fn optional_id(text: Option<String>) -> Result<Option<fieldsync_core::DocId>, FfiError> {
    text.as_deref().map(id).transpose()
}

fn activity_type(text: &str) -> Result<ActivityType, FfiError> {
    ActivityType::parse(text).ok_or_else(|| {
        let known: Vec<&str> = ActivityType::ALL.iter().map(|t| t.as_str()).collect();
        invalid(format!("unknown activity type \"{text}\"; use one of {}", known.join(", ")))
    })
}

#[uniffi::export]
impl FieldStore {
    /// Logs a follow-up. The customer (and the deal and visit, when given) must be on this phone;
    /// a bad field is `InvalidInput` naming it, an unknown customer `NotFound`; nothing is saved.
    pub fn log_activity(&self, activity: FfiNewActivity) -> Result<FfiActivity, FfiError> {
        guard(|| {
            let saved = self.core().log_activity(NewActivity {
                activity_type: activity_type(&activity.activity_type)?,
                customer_id: id(&activity.customer_id)?,
                opportunity_id: optional_id(activity.opportunity_id)?,
                visit_id: optional_id(activity.visit_id)?,
                contact: activity.contact,
                phone: activity.phone,
                at: activity.at,
                duration_s: activity.duration_s,
                summary: activity.summary,
                outcome: activity.outcome,
                next_action: next_action(activity.next_action),
            })?;
            Ok(saved.into())
        })
    }

    /// One tap on a customer's number: records a call started now and returns it, before the app
    /// opens the dialler. Call [`FieldStore::finish_call`] when the rep comes back.
    pub fn start_call(&self, customer_id: String, phone: String) -> Result<FfiActivity, FfiError> {
        guard(|| Ok(self.core().start_call(id(&customer_id)?, phone, None)?.into()))
    }

    /// Completes a call (or any follow-up): how long, how it ended, what was said, what is next.
    pub fn finish_call(
        &self,
        activity_id: String,
        duration_s: Option<i64>,
        outcome: Option<String>,
        summary: String,
        next_action: Option<FfiNextAction>,
    ) -> Result<FfiActivity, FfiError> {
        guard(|| {
            let result =
                ActivityResult { duration_s, outcome, summary, next_action: self::next_action(next_action) };
            Ok(self.core().finish_activity(id(&activity_id)?, result)?.into())
        })
    }

    /// Marks a follow-up's next action done.
    pub fn complete_next_action(&self, activity_id: String) -> Result<FfiActivity, FfiError> {
        guard(|| Ok(self.core().complete_next_action(id(&activity_id)?)?.into()))
    }

    /// Reads a follow-up.
    pub fn activity(&self, activity_id: String) -> Result<FfiActivity, FfiError> {
        guard(|| Ok(self.core().get::<Activity>(id(&activity_id)?)?.into()))
    }

    /// A customer's visits, follow-ups, deals and lead cards, newest first, `limit` (1–200) at a
    /// time. Pass the previous page's `next_before_at`/`next_before_id` for the next one.
    pub fn customer_timeline(
        &self,
        customer_id: String,
        before_at: Option<i64>,
        before_id: Option<String>,
        limit: u32,
    ) -> Result<FfiTimelinePage, FfiError> {
        guard(|| {
            let before = match (before_at, before_id) {
                (Some(at), Some(before)) => Some(TimelineCursor { at, id: id(&before)? }),
                (None, None) => None,
                _ => return Err(invalid("give both before_at and before_id, or neither")),
            };
            let page = self.core().customer_timeline(id(&customer_id)?, before, limit)?;
            Ok(FfiTimelinePage {
                entries: page
                    .entries
                    .into_iter()
                    .map(|e| FfiTimelineEntry {
                        kind: match e.kind {
                            TimelineKind::Visit => "visit",
                            TimelineKind::Activity => "activity",
                            TimelineKind::Deal => "deal",
                            TimelineKind::LeadCard => "lead_card",
                        }
                        .to_owned(),
                        id: e.id.to_string(),
                        at: e.at,
                        line: e.line,
                    })
                    .collect(),
                next_before_at: page.next.map(|c| c.at),
                next_before_id: page.next.map(|c| c.id.to_string()),
            })
        })
    }

    /// This phone's follow-up to-do now: next actions due by `until`, calls left without a
    /// summary for over a day, and the user's customers about to return to the pool.
    pub fn follow_up_todo(&self, until: i64) -> Result<FfiFollowUpTodo, FfiError> {
        guard(|| {
            let store = self.core();
            let todo = store.follow_up_todo(store.now_ms(), until)?;
            Ok(FfiFollowUpTodo {
                due: todo.due.into_iter().map(Into::into).collect(),
                calls_without_summary: todo.calls_without_summary.into_iter().map(Into::into).collect(),
                returning_to_pool: todo.returning_to_pool.into_iter().map(Into::into).collect(),
            })
        })
    }
}
