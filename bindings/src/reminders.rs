//! The rep's reminders through the FFI (docs/follow-ups.md): stall triggers and due next actions
//! in one list by due time, for the app to schedule its local notifications from. A thin copy of
//! `Store::due_reminders`.

use fieldsync_core::store::{Reminder, ReminderKind};

use crate::FfiError;
use crate::error::guard;
use crate::funnel::{FfiStallKind, FfiStallLevel, non_empty};
use crate::store::FieldStore;

/// What a reminder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiReminderKind {
    /// A deal's stage rule falls due (see `stall_kind` and `level`).
    Stall,
    /// A follow-up's next action falls due and is not done.
    NextAction,
    /// One of the user's customers returns to the pool at `returns_at` unless followed up.
    PoolReturn,
}

/// One reminder for the rep.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiReminder {
    /// What it is for.
    pub kind: FfiReminderKind,
    /// The stage rule, for a stall.
    pub stall_kind: Option<FfiStallKind>,
    /// Who hears about the stall at `due_at`, for a stall.
    pub level: Option<FfiStallLevel>,
    /// When the customer returns to the pool, Unix ms, for a pool return.
    pub returns_at: Option<i64>,
    /// When it falls due, Unix ms (may be past).
    pub due_at: i64,
    /// The customer.
    pub customer_id: String,
    /// The deal, if any.
    pub opportunity_id: Option<String>,
    /// The follow-up, for a next action.
    pub activity_id: Option<String>,
    /// The deal's title, or what the next action says.
    pub what: String,
    /// Stable for the same reminder: use it as the notification's identity.
    pub key: String,
}

impl From<Reminder> for FfiReminder {
    fn from(r: Reminder) -> Self {
        let (kind, stall_kind, level, returns_at) = match r.kind {
            ReminderKind::Stall { kind, level } => {
                (FfiReminderKind::Stall, Some(kind.into()), Some(level.into()), None)
            }
            ReminderKind::NextAction => (FfiReminderKind::NextAction, None, None, None),
            ReminderKind::PoolReturn { returns_at } => {
                (FfiReminderKind::PoolReturn, None, None, Some(returns_at))
            }
        };
        FfiReminder {
            kind,
            stall_kind,
            level,
            returns_at,
            due_at: r.due_at,
            customer_id: r.customer_id.to_string(),
            opportunity_id: r.opportunity_id.map(|id| id.to_string()),
            activity_id: r.activity_id.map(|id| id.to_string()),
            what: r.what,
            key: r.key,
        }
    }
}

#[uniffi::export]
impl FieldStore {
    /// The rep's reminders due by `until` (Unix ms), earliest first, by the store's clock: the
    /// stall triggers of `owner`'s open deals, the open next actions this phone logged, and the
    /// user's customers whose warning before returning to the pool has begun.
    /// Past-due ones stay until dealt with; schedule the rest as local notifications.
    pub fn due_reminders(&self, owner: String, until: i64) -> Result<Vec<FfiReminder>, FfiError> {
        guard(|| {
            non_empty("the owner", &owner)?;
            let store = self.core();
            Ok(store.due_reminders(&owner, store.now_ms(), until)?.into_iter().map(Into::into).collect())
        })
    }
}
