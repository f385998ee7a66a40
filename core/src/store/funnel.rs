//! The funnel on the phone: documents attached to deals, the rep's stall reminders computed
//! offline with the relay's own rules ([`crate::funnel`]), and a supervisor's funnel queries over
//! the team's synced deals. Everything reads the projection tables (migration 0005), never the
//! Automerge documents.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use rusqlite::{Connection, params};

use super::error::{Result, StoreError};
use super::projection::hydrate;
use super::query::{OPPORTUNITY_COLUMNS, OpportunitySummary, opportunity_row};
use super::{Store, blobs, capture};
use crate::clock::UnixMillis;
use crate::funnel::{Assessment, DealTimes, StallTrigger, assess};
use crate::ids::DocId;
use crate::model::{Alert, DealEvidence, EvidenceKind, Opportunity, Record, Stage, StallLevel, TeamRules};

/// The rules in force on this phone: the team's synced rules when they read and validate, the
/// defaults before the first sync. Rules that fail to read are reported by the relay when an
/// admin pushes them; a phone that somehow holds such a document keeps working on the defaults
/// rather than refusing every stage move.
pub(crate) fn effective_rules(conn: &Connection) -> Result<TeamRules> {
    match capture::team_rules(conn) {
        Ok(Some(rules)) if rules.validate().is_ok() => Ok(rules),
        Ok(_) | Err(StoreError::CorruptDocument { .. }) => Ok(TeamRules::defaults()),
        Err(other) => Err(other),
    }
}

/// Every open deal (of `owner`, when given) with the times its stage rule reads at `now`.
pub(super) fn open_deal_times(
    conn: &Connection,
    owner: Option<&str>,
    now: UnixMillis,
) -> Result<Vec<(OpportunitySummary, DealTimes)>> {
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS},
                max(o.last_activity_at,
                    coalesce((SELECT max(v.started_at) FROM visit_index v
                              WHERE v.opportunity_id = o.doc_id), 0),
                    coalesce((SELECT max(a.at) FROM activity_index a
                              WHERE a.opportunity_id = o.doc_id AND a.has_summary), 0))
         FROM opportunity_index o
         WHERE o.stage NOT IN ('Won', 'Lost') AND (?1 IS NULL OR o.owner = ?1)"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows =
        statement.query_map(params![owner], |row| Ok((opportunity_row(row)?, row.get::<_, i64>(9)?)))?;
    let mut deals = Vec::new();
    for row in rows {
        let (deal, activity) = row?;
        let times = DealTimes {
            opportunity_id: deal.id,
            stage: deal.stage,
            stage_entered_at: deal.stage_entered_at,
            // A visit or follow-up dated in the future (a phone clock set ahead) cannot hold off
            // a stall: activity counts up to now. Follow-ups count once they say what was said
            // (`has_summary`), on the relay alike.
            last_activity_at: activity.min(now),
        };
        deals.push((deal, times));
    }
    Ok(deals)
}

/// A deal that broke (or is about to break) its stage rule.
#[derive(Debug, Clone, PartialEq)]
pub struct StalledDeal {
    /// The deal.
    pub deal: OpportunitySummary,
    /// Its last activity: stage entry, attached document or visit.
    pub last_activity_at: UnixMillis,
    /// The highest level due.
    pub level: StallLevel,
    /// Every trigger due, in due order.
    pub due: Vec<StallTrigger>,
    /// When the next trigger falls due.
    pub next_due_at: Option<UnixMillis>,
}

/// Deals in one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCount {
    /// The stage.
    pub stage: Stage,
    /// How many deals are in it.
    pub deals: u64,
    /// Their summed amount in minor units (deals in other currencies than CNY are not summed).
    pub amount_cny_minor: i64,
}

/// Deals per stage for the team and for each rep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelReport {
    /// The whole team, every stage in funnel order.
    pub team: Vec<StageCount>,
    /// Each owner's counts, owners in name order.
    pub by_owner: Vec<(String, Vec<StageCount>)>,
}

/// How many deals that entered a stage went on to a later one.
#[derive(Debug, Clone, PartialEq)]
pub struct StageConversion {
    /// The stage entered.
    pub from: Stage,
    /// The next stage in the funnel.
    pub to: Stage,
    /// Deals that ever entered `from`.
    pub entered: u64,
    /// Of those, deals that later entered `to` or any stage after it (won included).
    pub advanced: u64,
}

impl StageConversion {
    /// `advanced / entered`, `None` when nothing entered.
    pub fn rate(&self) -> Option<f64> {
        (self.entered > 0).then(|| self.advanced as f64 / self.entered as f64)
    }
}

const OPEN_STAGES: [Stage; 5] = [
    Stage::FirstContact,
    Stage::NeedsConfirmed,
    Stage::ProposalSubmitted,
    Stage::Negotiation,
    Stage::ContractSigning,
];

impl Store {
    /// Attaches a document (technical document, quote, signed contract) to a deal: the bytes are
    /// stored as a blob and queued for upload in the same transaction as the deal's change.
    /// Attaching counts as activity on the deal.
    pub fn attach_deal_evidence(
        &self,
        opportunity_id: DocId,
        kind: EvidenceKind,
        name: &str,
        bytes: &[u8],
    ) -> Result<Opportunity> {
        if bytes.is_empty() {
            return Err(StoreError::Invalid(crate::model::ValidationError::new(
                Opportunity::KIND,
                "evidence",
                "the document is empty",
            )));
        }
        let now = self.clock.now_ms();
        let by = self.device_id();
        let blob = blobs::write(&blobs::dir_for(self.db.path()), bytes)?;
        self.db.write(|tx| {
            let mut stored = self.load_for_write::<Opportunity>(tx, opportunity_id)?;
            let mut opportunity: Opportunity = hydrate(&stored.doc, opportunity_id)?;
            if !opportunity.evidence.iter().any(|e| e.sha256 == blob.sha256) {
                opportunity.evidence.push(DealEvidence {
                    sha256: blob.sha256.clone(),
                    kind,
                    name: name.trim().to_owned(),
                    added_at: now,
                    added_by: by,
                });
            }
            opportunity.validate()?;
            blobs::queue(tx, &blob, now)?;
            self.commit_change(tx, opportunity_id, &mut stored, now, |am_tx| {
                crate::model::write_record(am_tx, &opportunity).map_err(|e| e.to_string())
            })?;
            hydrate(&stored.doc, opportunity_id)
        })
    }

    /// Open deals whose stage rule has a trigger due at `now`, worst first, then longest
    /// overdue. `owner` limits it to one rep's deals (the rep's own reminders); `min_level`
    /// drops lesser triggers (a supervisor asks for [`StallLevel::Supervisor`]).
    pub fn stalled_deals(
        &self,
        owner: Option<&str>,
        min_level: StallLevel,
        now: UnixMillis,
    ) -> Result<Vec<StalledDeal>> {
        self.db.read(|conn| {
            let rules = effective_rules(conn)?;
            let mut stalled = Vec::new();
            for (deal, times) in open_deal_times(conn, owner, now)? {
                let Assessment { due, next_due_at } = assess(&times, &rules, now);
                let due: Vec<_> = due.into_iter().filter(|t| t.level >= min_level).collect();
                if let Some(level) = due.iter().map(|t| t.level).max() {
                    stalled.push(StalledDeal {
                        deal,
                        last_activity_at: times.last_activity_at,
                        level,
                        due,
                        next_due_at,
                    });
                }
            }
            stalled.sort_by_key(|s| (std::cmp::Reverse(s.level), s.due.first().map(|t| t.due_at)));
            Ok(stalled)
        })
    }

    /// Deals per stage for the team and per owner.
    pub fn funnel_report(&self) -> Result<FunnelReport> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT owner, stage, count(*), coalesce(sum(CASE WHEN currency = 'CNY' THEN amount_minor END), 0)
                 FROM opportunity_index GROUP BY owner, stage",
            )?;
            let mut by_owner: BTreeMap<String, BTreeMap<Stage, (u64, i64)>> = BTreeMap::new();
            let mut team: BTreeMap<Stage, (u64, i64)> = BTreeMap::new();
            let rows = statement.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })?;
            for row in rows {
                let (owner, stage, deals, amount) = row?;
                let Some(stage) = Stage::parse(&stage) else { continue };
                let add = |entry: &mut (u64, i64)| {
                    entry.0 += deals as u64;
                    entry.1 += amount;
                };
                add(by_owner.entry(owner).or_default().entry(stage).or_default());
                add(team.entry(stage).or_default());
            }
            let counts = |m: &BTreeMap<Stage, (u64, i64)>| {
                Stage::ALL
                    .iter()
                    .map(|&stage| {
                        let (deals, amount_cny_minor) = m.get(&stage).copied().unwrap_or_default();
                        StageCount { stage, deals, amount_cny_minor }
                    })
                    .collect::<Vec<_>>()
            };
            Ok(FunnelReport {
                team: counts(&team),
                by_owner: by_owner.iter().map(|(owner, m)| (owner.clone(), counts(m))).collect(),
            })
        })
    }

    /// Stage-to-stage conversion along the funnel, for one owner or (`None`) the team: of the
    /// deals that ever entered a stage, how many later entered a further one. Backward moves
    /// and re-entries count a deal once.
    pub fn stage_conversion(&self, owner: Option<&str>) -> Result<Vec<StageConversion>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT h.opportunity_id, h.to_stage, min(h.at) FROM stage_history_index h
                 JOIN opportunity_index o ON o.doc_id = h.opportunity_id
                 WHERE ?1 IS NULL OR o.owner = ?1
                 GROUP BY h.opportunity_id, h.to_stage",
            )?;
            // For each deal: the furthest open stage it reached (won counts as past all of them).
            let mut furthest: BTreeMap<String, Vec<Stage>> = BTreeMap::new();
            for row in statement
                .query_map(params![owner], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            {
                let (id, stage) = row?;
                if let Some(stage) = Stage::parse(&stage) {
                    furthest.entry(id).or_default().push(stage);
                }
            }
            let mut out = Vec::with_capacity(OPEN_STAGES.len());
            for pair in
                OPEN_STAGES.windows(2).chain(std::iter::once(&[Stage::ContractSigning, Stage::Won][..]))
            {
                let (from, to) = (pair[0], pair[1]);
                let entered = furthest.values().filter(|stages| stages.contains(&from));
                let (mut n, mut advanced) = (0, 0);
                for stages in entered {
                    n += 1;
                    if stages.iter().any(|&s| s != Stage::Lost && s >= to) {
                        advanced += 1;
                    }
                }
                out.push(StageConversion { from, to, entered: n, advanced });
            }
            Ok(out)
        })
    }

    /// The alerts synced to this device, newest first.
    pub fn alerts(&self, limit: u32) -> Result<Vec<Alert>> {
        self.db.read(|conn| {
            let ids: Vec<DocId> = conn
                .prepare_cached("SELECT doc_id FROM alert_index ORDER BY raised_at DESC, doc_id LIMIT ?1")?
                .query_map([limit], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut alerts = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(stored) = super::documents::load(conn, id)? {
                    alerts.push(hydrate(&stored.doc, id)?);
                }
            }
            Ok(alerts)
        })
    }
}

type AlertListener = Arc<dyn Fn(&[Alert]) + Send + Sync>;

/// The functions told about alerts as they arrive.
#[derive(Default)]
pub(crate) struct AlertListeners {
    next_id: u64,
    listeners: Vec<(u64, AlertListener)>,
}

impl fmt::Debug for AlertListeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertListeners").field("count", &self.listeners.len()).finish()
    }
}

/// A registration made by [`Store::subscribe_alerts`]; dropping or cancelling it stops the
/// calls.
#[derive(Debug)]
pub struct AlertSubscription {
    registry: Weak<Mutex<AlertListeners>>,
    id: u64,
}

impl AlertSubscription {
    /// Stops the calls (also done on drop). Cancelling twice is harmless.
    pub fn cancel(&self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.lock().unwrap_or_else(|p| p.into_inner()).listeners.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Drop for AlertSubscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl Store {
    /// Calls `listener` with the alerts each sync brings, after they are stored (a supervisor's
    /// device shows them at once). The subscription lasts until the returned handle is cancelled
    /// or dropped.
    pub fn subscribe_alerts(&self, listener: impl Fn(&[Alert]) + Send + Sync + 'static) -> AlertSubscription {
        let mut registry = self.alert_listeners.lock().unwrap_or_else(|p| p.into_inner());
        registry.next_id += 1;
        let id = registry.next_id;
        registry.listeners.push((id, Arc::new(listener)));
        AlertSubscription { registry: Arc::downgrade(&self.alert_listeners), id }
    }

    /// Tells the listeners about newly stored alerts. A listener that panics is logged and
    /// skipped; it cannot undo the sync that stored them.
    pub(crate) fn notify_alerts(&self, ids: &[DocId]) {
        if ids.is_empty() {
            return;
        }
        let listeners: Vec<AlertListener> = {
            let registry = self.alert_listeners.lock().unwrap_or_else(|p| p.into_inner());
            registry.listeners.iter().map(|(_, l)| l.clone()).collect()
        };
        if listeners.is_empty() {
            return;
        }
        let alerts: Vec<Alert> = ids.iter().filter_map(|id| self.find::<Alert>(*id).ok().flatten()).collect();
        for listener in listeners {
            let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(&alerts)));
            if called.is_err() {
                eprintln!("fieldsync: an alert listener panicked; the alerts are stored all the same");
            }
        }
    }
}
