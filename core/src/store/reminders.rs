//! The rep's reminders on the phone, offline, in one list by due time: the stall rules' dated
//! triggers on the rep's open deals ([`crate::funnel::triggers`], the relay's own rules), the
//! open next actions of the follow-ups this phone logged, and the user's customers about to
//! return to the public pool (the relay's own rule, [`crate::model::return_due_at`]). The app
//! schedules one kind of local notification from it, whatever the reminder is for.

use super::Store;
use super::activities::due_next_actions;
use super::error::Result;
use super::funnel::{effective_rules, open_deal_times};
use super::ownership::pool_returns;
use crate::clock::UnixMillis;
use crate::funnel::triggers;
use crate::ids::DocId;
use crate::model::{StallKind, StallLevel};

/// What a reminder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderKind {
    /// A deal's stage rule falls due: the rep's own reminder, or the moment the supervisor
    /// (`level`) hears about it.
    Stall {
        /// Which rule.
        kind: StallKind,
        /// Who hears about it at `due_at`.
        level: StallLevel,
    },
    /// A follow-up's next action falls due and is not done.
    NextAction,
    /// One of the user's customers returns to the pool at `returns_at` unless followed up; the
    /// reminder falls due the team's warning period (`pool_warn_days`) before.
    PoolReturn {
        /// When the relay's scheduler returns it, by what this phone holds.
        returns_at: UnixMillis,
    },
}

/// One reminder for the rep.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    /// What it is for.
    pub kind: ReminderKind,
    /// When it falls due (it may be past: a phone that was off still reminds).
    pub due_at: UnixMillis,
    /// The customer.
    pub customer_id: DocId,
    /// The deal: the stalled one, or the one the follow-up was about.
    pub opportunity_id: Option<DocId>,
    /// The follow-up, for a next action.
    pub activity_id: Option<DocId>,
    /// What to show: the deal's title, what the next action says, or the company's name.
    pub what: String,
    /// The same reminder always has the same key (the stall trigger's alert key, the activity
    /// and its due time, or the customer and its return time), so the app schedules each
    /// notification once; a follow-up that moves the return time gives a new key.
    pub key: String,
}

impl Store {
    /// The rep's reminders due by `until`, earliest first, as the phone's clock reads `now`:
    /// every stall trigger of `owner`'s open deals (each level, as [`Store::stalled_deals`]
    /// reports them to the rep), every open next action of the follow-ups this device logged
    /// (as [`Store::follow_up_todo`] lists them), and, once enrolled, the user's customers whose
    /// warning before returning to the pool has begun by `until`. Past-due ones are included
    /// until they are dealt with: new activity on the deal starts a new period, a done next
    /// action drops out, an effective follow-up moves the return.
    pub fn due_reminders(&self, owner: &str, now: UnixMillis, until: UnixMillis) -> Result<Vec<Reminder>> {
        let me = self.device_id().to_string();
        self.db.read(|conn| {
            let rules = effective_rules(conn)?;
            let mut reminders = Vec::new();
            for (deal, times) in open_deal_times(conn, Some(owner), now)? {
                let Some(rule) = rules.stage_rule(times.stage) else { continue };
                for trigger in triggers(&times, rule).into_iter().filter(|t| t.due_at <= until) {
                    reminders.push(Reminder {
                        kind: ReminderKind::Stall { kind: trigger.kind, level: trigger.level },
                        due_at: trigger.due_at,
                        customer_id: deal.customer_id,
                        opportunity_id: Some(deal.id),
                        activity_id: None,
                        what: deal.title.clone(),
                        key: trigger.key(&times),
                    });
                }
            }
            for next in due_next_actions(conn, &me, until)? {
                let Some((what, due_at)) = next.next_action else { continue };
                reminders.push(Reminder {
                    kind: ReminderKind::NextAction,
                    due_at,
                    customer_id: next.customer_id,
                    opportunity_id: next.opportunity_id,
                    activity_id: Some(next.id),
                    what,
                    key: format!("{}/next_action/{due_at}", next.id),
                });
            }
            // The warning starts `pool_warn_days` before the return: those starting by `until`.
            let warn_ms = rules.pool_warn_ms();
            for warning in pool_returns(conn, now, |_| until.saturating_add(warn_ms))? {
                reminders.push(Reminder {
                    kind: ReminderKind::PoolReturn { returns_at: warning.returns_at },
                    due_at: warning.returns_at.saturating_sub(warn_ms),
                    customer_id: warning.customer_id,
                    opportunity_id: None,
                    activity_id: None,
                    key: format!("{}/pool_return/{}", warning.customer_id, warning.returns_at),
                    what: warning.company_name,
                });
            }
            reminders.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.key.cmp(&b.key)));
            Ok(reminders)
        })
    }
}
