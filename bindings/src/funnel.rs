//! The funnel and supervisors' alerts through the FFI: deals and their stage moves with the
//! documents each stage needs, the rep's stall reminders (computed offline with the relay's own
//! rules), a supervisor's funnel queries, alerts as they sync in (a subscription handle), and
//! reading an alert out of a received Web Push message. Thin copies of `fieldsync_core` calls.

use std::sync::{Arc, Mutex};

use fieldsync_core::DocId;
use fieldsync_core::funnel::payload::{self, PayloadError};
use fieldsync_core::model::{Alert, EvidenceKind, Opportunity, StallKind, StallLevel};
use fieldsync_core::push::{EndpointSecurity, PushEndpoint, SubscriptionKeys};
use fieldsync_core::store::{AlertSubscription, StageConversion, StageCount, StalledDeal};

use crate::FfiError;
use crate::error::guard;
use crate::store::{FfiStage, FieldStore};

/// A kind of document a stage may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiEvidenceKind {
    /// 技术文件
    TechnicalDocument,
    /// 报价单
    Quote,
    /// 签字合同
    SignedContract,
}

/// Who hears about a stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiStallLevel {
    /// The rep's own phone, before the supervisor.
    Reminder,
    /// The supervisor.
    Supervisor,
    /// The level above, after more days.
    Escalation,
}

/// Which stage rule a deal broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiStallKind {
    /// No visit, stage move or document for `no_activity_days`.
    NoActivity,
    /// In the stage longer than `max_stage_days`.
    StageTooLong,
}

macro_rules! mirror {
    ($ffi:ident, $core:ident, [$($variant:ident),+]) => {
        impl From<$core> for $ffi {
            fn from(value: $core) -> Self {
                match value { $($core::$variant => $ffi::$variant),+ }
            }
        }
        impl From<$ffi> for $core {
            fn from(value: $ffi) -> Self {
                match value { $($ffi::$variant => $core::$variant),+ }
            }
        }
    };
}

mirror!(FfiEvidenceKind, EvidenceKind, [TechnicalDocument, Quote, SignedContract]);
mirror!(FfiStallLevel, StallLevel, [Reminder, Supervisor, Escalation]);
mirror!(FfiStallKind, StallKind, [NoActivity, StageTooLong]);

/// One stage move.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiStageChange {
    /// The stage left (`None` for the first).
    pub from_stage: Option<FfiStage>,
    /// The stage entered.
    pub to_stage: FfiStage,
    /// When, Unix ms.
    pub at: i64,
    /// Why, in the rep's words.
    pub note: Option<String>,
}

/// A document attached to a deal.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiDealDocument {
    /// SHA-256 of the file (its blob name).
    pub sha256: String,
    /// What it is.
    pub kind: FfiEvidenceKind,
    /// File name.
    pub name: String,
    /// When it was attached, Unix ms.
    pub added_at: i64,
}

/// A deal with its stage history and documents (the funnel screen's view of it).
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiDeal {
    /// Document id.
    pub id: String,
    /// The customer's id.
    pub customer_id: String,
    /// The owning rep.
    pub owner: String,
    /// Short description.
    pub title: String,
    /// Current stage.
    pub stage: FfiStage,
    /// When it entered the stage, Unix ms.
    pub stage_entered_at: i64,
    /// Every move, oldest first.
    pub history: Vec<FfiStageChange>,
    /// Attached documents.
    pub documents: Vec<FfiDealDocument>,
    /// Expected value (minor units) and its currency.
    pub amount_minor: Option<i64>,
    /// ISO 4217 code of the amount.
    pub currency: Option<String>,
}

/// A deal past (or near) its stage rule.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiStalledDeal {
    /// The deal's id.
    pub opportunity_id: String,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner: String,
    /// Its stage.
    pub stage: FfiStage,
    /// When it entered the stage.
    pub stage_entered_at: i64,
    /// Its last activity.
    pub last_activity_at: i64,
    /// The highest level due.
    pub level: FfiStallLevel,
    /// The rules broken at that level.
    pub kinds: Vec<FfiStallKind>,
    /// When the first of them fell due.
    pub due_at: i64,
    /// When the next one falls due.
    pub next_due_at: Option<i64>,
}

/// Deals in one stage.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiStageCount {
    /// The stage.
    pub stage: FfiStage,
    /// Deals in it.
    pub deals: u64,
    /// Their CNY amounts summed, in fen.
    pub amount_cny_minor: i64,
}

/// One rep's funnel.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiOwnerFunnel {
    /// The rep.
    pub owner: String,
    /// Per stage, in funnel order.
    pub stages: Vec<FfiStageCount>,
}

/// The team's funnel and each rep's.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiFunnelReport {
    /// The team, per stage in funnel order.
    pub team: Vec<FfiStageCount>,
    /// Each rep.
    pub by_owner: Vec<FfiOwnerFunnel>,
}

/// Conversion from one stage to the next.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiStageConversion {
    /// The stage entered.
    pub from_stage: FfiStage,
    /// The next stage.
    pub to_stage: FfiStage,
    /// Deals that entered `from_stage`.
    pub entered: u64,
    /// Of those, deals that went on to `to_stage` or beyond.
    pub advanced: u64,
    /// `advanced / entered`; `None` when nothing entered.
    pub rate: Option<f64>,
}

/// A stalled deal reported to supervisors by the relay.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiAlert {
    /// The alert's id.
    pub id: String,
    /// The deal's id.
    pub opportunity_id: String,
    /// The customer's id.
    pub customer_id: String,
    /// The deal's title.
    pub title: String,
    /// The rep.
    pub owner: String,
    /// The stage it is stuck in.
    pub stage: FfiStage,
    /// Supervisor or escalation.
    pub level: FfiStallLevel,
    /// The rules broken.
    pub kinds: Vec<FfiStallKind>,
    /// When it entered the stage.
    pub stage_entered_at: i64,
    /// Its last activity the relay knew of.
    pub last_activity_at: i64,
    /// When the rule fell due.
    pub due_at: i64,
    /// The rule's threshold, days.
    pub threshold_days: u32,
    /// When the rep's devices last synced (`None`: never): how stale the relay's view is.
    pub rep_last_sync_at: Option<i64>,
    /// When the relay raised it.
    pub raised_at: i64,
}

/// Keys for a Web Push subscription this device makes (for a UnifiedPush distributor or a
/// browser push service). Keep `secret` in the platform's secure storage: it decrypts alerts.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiPushKeys {
    /// The private key and auth secret, to store and pass back to `decode_alert_push`.
    pub secret: Vec<u8>,
    /// The public key (`p256dh`), base64url, for the subscription.
    pub p256dh: String,
    /// The auth secret, base64url, for the subscription.
    pub auth: String,
}

/// Told about alerts as syncs bring them.
#[uniffi::export(with_foreign)]
pub trait AlertListener: Send + Sync {
    /// New alerts, after they are stored.
    fn on_alerts(&self, alerts: Vec<FfiAlert>);
}

/// A live alert subscription; `close()` (or dropping it) stops the calls.
#[derive(Debug, uniffi::Object)]
pub struct FfiAlertSubscription {
    inner: Mutex<Option<AlertSubscription>>,
}

#[uniffi::export]
impl FfiAlertSubscription {
    /// Stops the calls. Closing twice is harmless.
    pub fn close(&self) {
        if let Some(subscription) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take() {
            subscription.cancel();
        }
    }
}

impl From<Opportunity> for FfiDeal {
    fn from(o: Opportunity) -> Self {
        FfiDeal {
            id: o.id.to_string(),
            customer_id: o.customer_id.to_string(),
            owner: o.owner,
            title: o.title,
            stage: o.stage.into(),
            stage_entered_at: o.stage_entered_at,
            history: o
                .stage_history
                .into_iter()
                .map(|c| FfiStageChange {
                    from_stage: c.from.map(Into::into),
                    to_stage: c.to.into(),
                    at: c.at,
                    note: c.note,
                })
                .collect(),
            documents: o
                .evidence
                .into_iter()
                .map(|e| FfiDealDocument {
                    sha256: e.sha256,
                    kind: e.kind.into(),
                    name: e.name,
                    added_at: e.added_at,
                })
                .collect(),
            amount_minor: o.amount.as_ref().map(|a| a.minor_units),
            currency: o.amount.map(|a| a.currency),
        }
    }
}

impl From<Alert> for FfiAlert {
    fn from(a: Alert) -> Self {
        FfiAlert {
            id: a.id.to_string(),
            opportunity_id: a.opportunity_id.to_string(),
            customer_id: a.customer_id.to_string(),
            title: a.opportunity_title,
            owner: a.owner,
            stage: a.stage.into(),
            level: a.level.into(),
            kinds: a.kinds.into_iter().map(Into::into).collect(),
            stage_entered_at: a.stage_entered_at,
            last_activity_at: a.last_activity_at,
            due_at: a.due_at,
            threshold_days: a.threshold_days,
            rep_last_sync_at: a.rep_last_sync_at,
            raised_at: a.raised_at,
        }
    }
}

impl From<StalledDeal> for FfiStalledDeal {
    fn from(s: StalledDeal) -> Self {
        let at_level: Vec<_> = s.due.iter().filter(|t| t.level == s.level).collect();
        FfiStalledDeal {
            opportunity_id: s.deal.id.to_string(),
            title: s.deal.title,
            owner: s.deal.owner,
            stage: s.deal.stage.into(),
            stage_entered_at: s.deal.stage_entered_at,
            last_activity_at: s.last_activity_at,
            level: s.level.into(),
            kinds: at_level.iter().map(|t| t.kind.into()).collect(),
            due_at: at_level.iter().map(|t| t.due_at).min().unwrap_or_default(),
            next_due_at: s.next_due_at,
        }
    }
}

impl From<StageCount> for FfiStageCount {
    fn from(c: StageCount) -> Self {
        FfiStageCount { stage: c.stage.into(), deals: c.deals, amount_cny_minor: c.amount_cny_minor }
    }
}

impl From<StageConversion> for FfiStageConversion {
    fn from(c: StageConversion) -> Self {
        FfiStageConversion {
            from_stage: c.from.into(),
            to_stage: c.to.into(),
            entered: c.entered,
            advanced: c.advanced,
            rate: c.rate(),
        }
    }
}

impl From<PayloadError> for FfiError {
    fn from(error: PayloadError) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}

pub(crate) fn non_empty(what: &str, value: &str) -> Result<(), FfiError> {
    if value.trim().is_empty() {
        return Err(FfiError::InvalidInput { message: format!("{what} is empty") });
    }
    Ok(())
}

#[uniffi::export]
impl FieldStore {
    /// Reads a deal with its history and documents.
    pub fn deal(&self, opportunity_id: String) -> Result<FfiDeal, FfiError> {
        guard(|| {
            let id: DocId = opportunity_id.parse()?;
            Ok(self.core().get::<Opportunity>(id)?.into())
        })
    }

    /// Attaches a document (technical document, quote, signed contract) to a deal.
    pub fn attach_deal_document(
        &self,
        opportunity_id: String,
        kind: FfiEvidenceKind,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<FfiDeal, FfiError> {
        guard(|| {
            non_empty("the document name", &name)?;
            let id: DocId = opportunity_id.parse()?;
            Ok(self.core().attach_deal_evidence(id, kind.into(), &name, &bytes)?.into())
        })
    }

    /// Moves a deal to another stage. A forward move into a stage whose documents are missing
    /// fails with `InvalidInput` naming them; backward moves are always allowed and recorded.
    pub fn move_stage(
        &self,
        opportunity_id: String,
        to: FfiStage,
        note: Option<String>,
    ) -> Result<FfiDeal, FfiError> {
        guard(|| {
            let id: DocId = opportunity_id.parse()?;
            Ok(self.core().move_stage(id, to.into(), note.filter(|n| !n.trim().is_empty()))?.into())
        })
    }

    /// The rep's reminders: their open deals with a trigger due now (by the store's clock),
    /// reminder level and up.
    pub fn stall_reminders(&self, owner: String) -> Result<Vec<FfiStalledDeal>, FfiError> {
        guard(|| {
            non_empty("the owner", &owner)?;
            let now = self.core().now_ms();
            Ok(self
                .core()
                .stalled_deals(Some(&owner), StallLevel::Reminder, now)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// A supervisor's stalled deals across the team (supervisor level and up), worst first.
    pub fn stalled_deals(&self) -> Result<Vec<FfiStalledDeal>, FfiError> {
        guard(|| {
            let now = self.core().now_ms();
            Ok(self
                .core()
                .stalled_deals(None, StallLevel::Supervisor, now)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Deals per stage for the team and per rep.
    pub fn funnel_report(&self) -> Result<FfiFunnelReport, FfiError> {
        guard(|| {
            let report = self.core().funnel_report()?;
            Ok(FfiFunnelReport {
                team: report.team.into_iter().map(Into::into).collect(),
                by_owner: report
                    .by_owner
                    .into_iter()
                    .map(|(owner, stages)| FfiOwnerFunnel {
                        owner,
                        stages: stages.into_iter().map(Into::into).collect(),
                    })
                    .collect(),
            })
        })
    }

    /// Stage-to-stage conversion for one rep, or the team when `owner` is `None`.
    pub fn stage_conversion(&self, owner: Option<String>) -> Result<Vec<FfiStageConversion>, FfiError> {
        guard(|| Ok(self.core().stage_conversion(owner.as_deref())?.into_iter().map(Into::into).collect()))
    }

    /// The alerts synced to this device, newest first.
    pub fn alerts(&self, limit: u32) -> Result<Vec<FfiAlert>, FfiError> {
        guard(|| Ok(self.core().alerts(limit)?.into_iter().map(Into::into).collect()))
    }

    /// Calls `listener` with the alerts each sync brings, until the handle is closed.
    pub fn subscribe_alerts(
        &self,
        listener: Arc<dyn AlertListener>,
    ) -> Result<Arc<FfiAlertSubscription>, FfiError> {
        guard(|| {
            if self.core().is_closed() {
                return Err(FfiError::StoreUnavailable { message: "the store is closed".into() });
            }
            let subscription = self.core().subscribe_alerts(move |alerts| {
                listener.on_alerts(alerts.iter().cloned().map(Into::into).collect());
            });
            Ok(Arc::new(FfiAlertSubscription { inner: Mutex::new(Some(subscription)) }))
        })
    }
}

/// Makes the keys of a new Web Push subscription (P-256 key pair and auth secret).
#[uniffi::export]
pub fn create_push_keys() -> Result<FfiPushKeys, FfiError> {
    guard(|| {
        let keys = SubscriptionKeys::generate().map_err(|e| FfiError::Storage { message: e.to_string() })?;
        let (p256dh, auth) = keys.public_base64url();
        Ok(FfiPushKeys { secret: keys.to_secret_bytes().to_vec(), p256dh, auth })
    })
}

/// The subscription JSON to register with the relay for `endpoint` (the URL the push
/// distributor gave this device; https only).
#[uniffi::export]
pub fn push_subscription_json(secret: Vec<u8>, endpoint: String) -> Result<String, FfiError> {
    guard(|| {
        let keys = SubscriptionKeys::from_secret_bytes(&secret)
            .map_err(|e| FfiError::InvalidInput { message: e.to_string() })?;
        let endpoint = PushEndpoint::parse(&endpoint, EndpointSecurity::HttpsOnly)
            .map_err(|e| FfiError::InvalidInput { message: e.to_string() })?;
        Ok(keys.subscription(endpoint).to_json())
    })
}

/// Decrypts a received Web Push message body with the subscription's secret and reads the
/// alert in it. Anything else (other keys, a damaged or foreign message) is `InvalidInput`.
#[uniffi::export]
pub fn decode_alert_push(secret: Vec<u8>, body: Vec<u8>) -> Result<FfiAlert, FfiError> {
    guard(|| {
        let keys = SubscriptionKeys::from_secret_bytes(&secret)
            .map_err(|e| FfiError::InvalidInput { message: e.to_string() })?;
        Ok(payload::decode_push(&keys, &body)?.into())
    })
}
