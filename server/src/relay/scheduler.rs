//! The stall scheduler (DESIGN §6 Alerts), inside the writer so its alerts are ordinary log
//! entries written in the same transaction as the scheduler's bookkeeping.
//!
//! - Every accepted change to a deal replaces its `opportunity_schedule` row (stage, times, the
//!   rep) and makes it due for a look; a visit records its start as the deal's latest visit; a
//!   change to the team's rules makes every open deal of the team due for a look.
//! - A tick reads only rows whose `next_due_at` has passed (an index; never a scan of the
//!   deals), assesses each with [`fieldsync_core::funnel::assess`] — the code the phones run for
//!   their reminders — and for each supervisor or escalation trigger not raised before writes an
//!   `Alert` document as the relay's own actor. Its id derives from the trigger key, and raised
//!   keys are stored with it, so a restart or a second tick never raises it twice.
//! - Grace: while the rep has not synced since a trigger came due, their phone may hold the work
//!   that answers it, so the alert is held until the rep syncs (which releases it at once) or
//!   the team's grace period runs out. Every alert says when the rep last synced.

use std::collections::HashSet;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use fieldsync_core::DeviceId;
use fieldsync_core::funnel::{self, DealTimes, StallTrigger};
use fieldsync_core::kpi::{ActivityRow, DealRow, KpiRow};
use fieldsync_core::model::{
    Activity, Alert, LeadCard, Opportunity, Provenance, Record, RecordKind, SCHEMA_VERSION, Stage,
    StallLevel, TeamRules, Visit,
};

use super::{Batch, CachedDoc, Writer};
use crate::storage::{AlertRow, DocumentFlag, LogEntry, ScheduleRow, ScheduleWrite, StorageError};

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    /// Due rows read.
    pub examined: u32,
    /// Alert documents written.
    pub raised: u32,
    /// Deals whose due alert waits for the rep's sync.
    pub held: u32,
    /// Whether more rows (deals or customers) were due than the tick's limit took.
    pub more: bool,
    /// Owned customers whose pool rule fell due, read.
    pub pool_examined: u32,
    /// Customers returned to the public pool.
    pub returned_to_pool: u32,
}

impl Writer {
    /// Records what the scheduler needs from the deals, visits and rules this batch touched.
    pub(super) fn schedule_touched(&mut self, batch: &mut Batch) -> Result<(), StorageError> {
        for (id, kind, team) in std::mem::take(&mut batch.funnel) {
            let Some(cached) = self.cache.get(&id) else { continue };
            match kind {
                RecordKind::Opportunity => {
                    let Ok(deal) = fieldsync_core::model::read_record::<Opportunity>(&cached.doc) else {
                        continue;
                    };
                    if deal.stage == Stage::Won {
                        // A won deal holds its customer out of the pool (when the team says so).
                        self.note_follow_up(deal.customer_id, &team, deal.stage_entered_at, true, batch)?;
                    }
                    let rep =
                        self.storage.deal_rep(&team, &deal.owner, *deal.provenance.created_by.as_bytes())?;
                    if self.limits.kpi_upkeep {
                        let row =
                            super::kpi::row_write(id, &team, rep.clone(), &KpiRow::Deal(DealRow::of(&deal)));
                        batch.kpi_rows.push(row);
                        batch.kpi_read.insert(id, super::kpi::Source::Done);
                    }
                    batch.schedule.push(ScheduleWrite::Deal(ScheduleRow {
                        doc_id: id,
                        team_id: team,
                        rep_user_id: rep,
                        customer_id: deal.customer_id,
                        owner: deal.owner.clone(),
                        title: deal.title.clone(),
                        stage: deal.stage.as_str().to_owned(),
                        stage_entered_at: deal.stage_entered_at,
                        doc_activity_at: funnel::deal_activity(&deal),
                        // Every trigger falls after the stage entry: look at it from there.
                        next_due_at: (!deal.stage.is_closed()).then_some(deal.stage_entered_at),
                        held: false,
                    }));
                }
                RecordKind::Visit => {
                    let Ok(visit) = fieldsync_core::model::read_record::<Visit>(&cached.doc) else {
                        continue;
                    };
                    if let (Some(opportunity_id), Some(at)) = (visit.opportunity_id, visit.started_at) {
                        // A visit only moves stalls later, so the deal's next look stays as it is.
                        batch.schedule.push(ScheduleWrite::DealActivity { opportunity_id, at });
                    }
                    if let (Some(at), Some(true)) = (visit.started_at, visit.on_site) {
                        // Checked in on site: an effective follow-up for the pool rule.
                        self.note_follow_up(visit.customer_id, &team, at, false, batch)?;
                    }
                    if self.limits.kpi_upkeep {
                        batch.kpi_read.insert(id, super::kpi::Source::Visit(Box::new(visit)));
                    }
                }
                RecordKind::Activity => {
                    let Ok(activity) = fieldsync_core::model::read_record::<Activity>(&cached.doc) else {
                        continue;
                    };
                    // A follow-up that says what was said is activity on its deal, as on the phone.
                    if let (Some(opportunity_id), true) = (activity.opportunity_id, activity.has_summary()) {
                        batch.schedule.push(ScheduleWrite::DealActivity { opportunity_id, at: activity.at });
                    }
                    if activity.has_summary() {
                        // What was said: an effective follow-up for the pool rule.
                        self.note_follow_up(activity.customer_id, &team, activity.at, false, batch)?;
                    }
                    if self.limits.kpi_upkeep {
                        let rep = self.kpi_user(&team, *activity.provenance.created_by.as_bytes(), batch)?;
                        batch.kpi_rows.push(super::kpi::row_write(
                            id,
                            &team,
                            rep,
                            &KpiRow::Activity(ActivityRow::of(&activity)),
                        ));
                        batch.kpi_read.insert(id, super::kpi::Source::Done);
                    }
                    // It names a contact and a number: reps see it with its customer's record.
                    batch.document_customers.push((id, team, Some(activity.customer_id)));
                }
                RecordKind::LeadCard => {
                    let Ok(card) = fieldsync_core::model::read_record::<LeadCard>(&cached.doc) else {
                        continue;
                    };
                    // A scanned person's name and numbers: with its customer's record, once linked.
                    batch.document_customers.push((id, team, card.customer_id));
                }
                RecordKind::TeamRules => {
                    self.rules_changed(&team, batch);
                    batch.schedule.push(ScheduleWrite::Team { team_id: team, at: 0 });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Looks at up to `limit` due deals at `now` and raises their alerts.
    pub(super) fn tick(
        &mut self,
        now: i64,
        limit: u32,
        batch: &mut Batch,
    ) -> Result<TickReport, StorageError> {
        let rows = self.storage.due_deals(now, limit)?;
        let mut report = TickReport {
            examined: rows.len() as u32,
            more: rows.len() as u32 == limit,
            ..TickReport::default()
        };
        for row in rows {
            let rules = self.effective_rules(&row.team_id, now, batch)?;
            let (next_due_at, held, raised) = self.look_at(&row, &rules, now, batch)?;
            report.raised += raised;
            report.held += u32::from(held);
            batch.schedule.push(ScheduleWrite::Evaluated { doc_id: row.doc_id, next_due_at, held });
        }
        Ok(report)
    }

    /// One deal: returns when to look again, whether an alert is held, and how many were raised.
    fn look_at(
        &mut self,
        row: &ScheduleRow,
        rules: &TeamRules,
        now: i64,
        batch: &mut Batch,
    ) -> Result<(Option<i64>, bool, u32), StorageError> {
        let Some(stage) = Stage::parse(&row.stage) else {
            tracing::warn!(doc_id = %row.doc_id, stage = row.stage, "scheduled deal has an unknown stage");
            return Ok((None, false, 0));
        };
        let visited = self.storage.last_visit(row.doc_id)?.unwrap_or(i64::MIN);
        let deal = DealTimes {
            opportunity_id: row.doc_id,
            stage,
            stage_entered_at: row.stage_entered_at,
            // A visit dated ahead (a phone clock set forward) cannot hold off a stall.
            last_activity_at: row.doc_activity_at.max(visited.min(now)),
        };
        // Reminders are the phone's; the relay reads only supervisor and escalation triggers.
        let (due, later): (Vec<StallTrigger>, Vec<StallTrigger>) = rules
            .stage_rule(stage)
            .map(|rule| funnel::triggers(&deal, rule))
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.level != StallLevel::Reminder)
            .partition(|t| t.due_at <= now);
        let later = later.iter().map(|t| t.due_at).min();
        if due.is_empty() {
            return Ok((later, false, 0));
        }
        let keys: Vec<String> = due.iter().map(|t| t.key(&deal)).collect();
        let raised: HashSet<String> = self.storage.raised_keys(&keys)?.into_iter().collect();
        let fresh: Vec<(&StallTrigger, &String)> = due
            .iter()
            .zip(&keys)
            .filter(|(_, key)| !raised.contains(*key) && !batch.raised_keys.contains(*key))
            .collect();
        if fresh.is_empty() {
            return Ok((later, false, 0));
        }
        let last_sync = match &row.rep_user_id {
            Some(user) => self.storage.user_last_sync(user)?,
            None => None,
        };
        // Each trigger is held while the rep (when known) has not synced since it fell due and
        // its grace period lasts; the others go out now.
        let grace = rules.alert_grace_ms();
        let holds = |t: &StallTrigger| {
            row.rep_user_id.is_some()
                && last_sync.is_none_or(|at| at < t.due_at)
                && now < t.due_at.saturating_add(grace)
        };
        let (held, fresh): (Vec<_>, Vec<_>) = fresh.into_iter().partition(|(t, _)| holds(t));
        let hold_until = held.iter().map(|(t, _)| t.due_at.saturating_add(grace)).min();
        let next = match (later, hold_until) {
            (Some(l), Some(h)) => Some(l.min(h)),
            (l, h) => l.or(h),
        };
        let mut count = 0;
        for level in [StallLevel::Supervisor, StallLevel::Escalation] {
            let at_level: Vec<_> = fresh.iter().filter(|(t, _)| t.level == level).collect();
            let Some((first, key)) = at_level.first() else { continue };
            let alert = Alert {
                id: funnel::alert_id(key),
                key: (*key).clone(),
                opportunity_id: row.doc_id,
                customer_id: row.customer_id,
                opportunity_title: row.title.clone(),
                owner: row.owner.clone(),
                stage,
                level,
                kinds: at_level.iter().map(|(t, _)| t.kind).collect(),
                stage_entered_at: row.stage_entered_at,
                last_activity_at: deal.last_activity_at,
                due_at: first.due_at,
                threshold_days: first.threshold_days,
                rep_last_sync_at: last_sync,
                raised_at: now,
                provenance: Provenance { created_at: now, created_by: DeviceId::from_bytes(self.actor) },
            };
            let trigger_keys: Vec<String> = at_level.iter().map(|(_, k)| (*k).clone()).collect();
            self.write_alert(&alert, &row.team_id, trigger_keys, batch)?;
            count += 1;
        }
        Ok((next, hold_until.is_some(), count))
    }

    /// Writes `alert` as a new document by the relay's actor, queued like a pushed change.
    fn write_alert(
        &mut self,
        alert: &Alert,
        team: &str,
        trigger_keys: Vec<String>,
        batch: &mut Batch,
    ) -> Result<(), StorageError> {
        let id = alert.id;
        let backend = |e: &dyn std::fmt::Display| StorageError::Backend(format!("alert {id}: {e}"));
        alert.validate().map_err(|e| backend(&e))?;
        let tenant =
            self.storage.team_tenant(team)?.ok_or_else(|| backend(&format!("team {team} is unknown")))?;
        let mut doc = Automerge::new().with_actor(ActorId::from(&self.actor[..]));
        let mut tx = doc.transaction();
        tx.put(ROOT, "kind", RecordKind::Alert.as_str()).map_err(|e| backend(&e))?;
        tx.put(ROOT, "schema", SCHEMA_VERSION).map_err(|e| backend(&e))?;
        autosurgeon::reconcile(&mut tx, alert).map_err(|e| backend(&e))?;
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(alert.raised_at));
        let hash = hash.ok_or_else(|| backend(&"the alert made no change"))?;
        let change = doc.get_change_by_hash(&hash).ok_or_else(|| backend(&"its change is missing"))?;
        batch.entries.push(LogEntry {
            team_id: team.to_owned(),
            doc_id: id,
            hash: hash.0,
            actor: self.actor,
            bytes: change.raw_bytes().to_vec(),
        });
        batch.hashes.insert(hash.0);
        batch.raised_keys.extend(trigger_keys.iter().cloned());
        batch.alerts.push(AlertRow {
            alert_id: id,
            key: alert.key.clone(),
            trigger_keys,
            team_id: team.to_owned(),
            opportunity_id: alert.opportunity_id,
            level: alert.level.as_str().to_owned(),
            payload: funnel::payload::encode(alert),
            raised_at: alert.raised_at,
        });
        self.cache.put(
            id,
            CachedDoc {
                doc,
                tenant_id: tenant,
                team_id: team.to_owned(),
                kind: RecordKind::Alert,
                sealed: false,
                saved: None,
            },
        );
        batch.touch(id);
        Ok(())
    }

    /// The team's rules when they read and validate; the defaults otherwise (flagged on the
    /// rules document), so a broken rules document can neither stop alerts nor cause a storm.
    /// Read once per team per batch (identity resolution and the scheduler share it).
    pub(super) fn effective_rules(
        &mut self,
        team: &str,
        now: i64,
        batch: &mut Batch,
    ) -> Result<TeamRules, StorageError> {
        if let Some(rules) = batch.rules.get(team) {
            return Ok(rules.clone());
        }
        let rules = self.read_rules(team, now, batch)?;
        batch.rules.insert(team.to_owned(), rules.clone());
        Ok(rules)
    }

    fn read_rules(&mut self, team: &str, now: i64, batch: &mut Batch) -> Result<TeamRules, StorageError> {
        let defaults = TeamRules::defaults;
        let Some(id) = self.storage.team_rules_document(team)? else { return Ok(defaults()) };
        let meta = match self.document_meta(id) {
            Ok(Some(meta)) => meta,
            Ok(None) => return Ok(defaults()),
            Err(super::Verdict::Storage(e)) => return Err(e),
            Err(super::Verdict::Reject(..)) => return Ok(defaults()),
        };
        let read = self
            .cache
            .get(&id)
            .ok_or_else(|| "not loaded".to_owned())
            .and_then(|cached| {
                fieldsync_core::model::read_record::<TeamRules>(&cached.doc).map_err(|e| e.to_string())
            })
            .and_then(|rules| rules.validate().map(|()| rules).map_err(|e| e.to_string()));
        match read {
            Ok(rules) => Ok(rules),
            Err(problem) => {
                tracing::warn!(team, %id, problem, "team rules unusable; the scheduler uses the defaults");
                batch.flags.push(DocumentFlag {
                    tenant_id: meta.tenant_id,
                    team_id: team.to_owned(),
                    doc_id: id,
                    kind: RecordKind::TeamRules.as_str().to_owned(),
                    code: "rules_unusable".into(),
                    message: format!("stall alerts use the default rules: {problem}"),
                    device_id: [0; 16],
                    flagged_at: now,
                });
                Ok(defaults())
            }
        }
    }
}
