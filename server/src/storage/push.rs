//! What the relay stores to deliver alerts: the devices' push subscriptions, one delivery per
//! (alert, subscription) queued when an alert is fanned out, and the log of every attempt
//! (docs/push.md). The deliverer (`crate::delivery`) drives it; nothing here does network I/O.

use super::{Role, StorageResult};

/// A 16-byte id (alert, subscription, device).
pub type Id16 = [u8; 16];

/// Which push service carries a subscription's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// RFC 8030 Web Push (browsers, UnifiedPush distributors).
    WebPush,
    /// Firebase Cloud Messaging, HTTP v1 API.
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

impl ProviderKind {
    /// Stored and wire name: `webpush`, `fcm`, `apns`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::WebPush => "webpush",
            ProviderKind::Fcm => "fcm",
            ProviderKind::Apns => "apns",
        }
    }

    /// Parses a stored or wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [ProviderKind::WebPush, ProviderKind::Fcm, ProviderKind::Apns].into_iter().find(|p| p.as_str() == s)
    }
}

/// An alert's level as the `alerts` table stores it, and who receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    /// The team's supervisors.
    Supervisor,
    /// Escalated: the team's supervisors and admins.
    Escalation,
}

impl AlertLevel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Supervisor => "supervisor",
            AlertLevel::Escalation => "escalation",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "supervisor" => Some(AlertLevel::Supervisor),
            "escalation" => Some(AlertLevel::Escalation),
            _ => None,
        }
    }

    /// The roles that receive alerts of this level.
    pub fn recipients(self) -> &'static [Role] {
        match self {
            AlertLevel::Supervisor => &[Role::Supervisor],
            AlertLevel::Escalation => &[Role::Supervisor, Role::Admin],
        }
    }
}

/// A subscription to store, already validated by the HTTP handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPushSubscription {
    /// The registering device.
    pub device_id: Id16,
    /// Its user.
    pub user_id: String,
    /// Its team.
    pub team_id: String,
    /// The push service.
    pub provider: ProviderKind,
    /// Web Push endpoint URL, FCM registration token or APNs device token.
    pub address: String,
    /// Web Push receiver public key (uncompressed P-256).
    pub p256dh: Option<[u8; 65]>,
    /// Web Push auth secret.
    pub auth: Option<[u8; 16]>,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRow {
    /// Its id.
    pub subscription_id: Id16,
    /// The device that registered it.
    pub device_id: Id16,
    /// Its user.
    pub user_id: String,
    /// Its team.
    pub team_id: String,
    /// The push service.
    pub provider: ProviderKind,
    /// Endpoint or token.
    pub address: String,
    /// Web Push receiver public key.
    pub p256dh: Option<Vec<u8>>,
    /// Web Push auth secret.
    pub auth: Option<Vec<u8>>,
    /// When registered (relay time, unix ms).
    pub created_at: i64,
}

/// An alert the deliverer just fanned out: its deliveries are queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FannedOutAlert {
    /// The alert.
    pub alert_id: Id16,
    /// Its team.
    pub team_id: String,
    /// Who receives it.
    pub level: AlertLevel,
    /// The push payload (`fieldsync_core::funnel::payload::encode`).
    pub payload: Vec<u8>,
    /// Deliveries queued (one per recipient subscription).
    pub deliveries: u32,
}

/// A delivery the deliverer claimed and must attempt now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The alert.
    pub alert_id: Id16,
    /// The deal it is about (its hex is the push `Topic`, so a newer alert replaces an
    /// undelivered older one for the same deal).
    pub opportunity_id: Vec<u8>,
    /// Its level.
    pub level: AlertLevel,
    /// The push payload.
    pub payload: Vec<u8>,
    /// Where to.
    pub subscription: PushSubscriptionRow,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When the delivery was queued.
    pub queued_at: i64,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// The push service took it (2xx): done, never sent again.
    Delivered,
    /// Try again at this time (unix ms).
    RetryAt(i64),
    /// The subscription is gone (404/410): remove it, and every delivery still pending to it.
    SubscriptionGone,
    /// Give up on this delivery (rejected, too many attempts, expired).
    Failed,
}

/// One attempt, to record with its consequence in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The alert.
    pub alert_id: Id16,
    /// The subscription.
    pub subscription_id: Id16,
    /// Team (for the log's readers).
    pub team_id: String,
    /// The push service.
    pub provider: ProviderKind,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// `accepted`, `retry`, `gone`, `rejected`, `timeout`, `unreachable`, `expired`, `gave_up`.
    pub outcome: &'static str,
    /// What went wrong, in words.
    pub error: Option<String>,
    /// When (relay time).
    pub at: i64,
    /// What happens to the delivery.
    pub next: DeliveryNext,
}

/// A line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLogEntry {
    /// The alert.
    pub alert_id: Id16,
    /// The subscription.
    pub subscription_id: Id16,
    /// The push service.
    pub provider: ProviderKind,
    /// Attempt number.
    pub attempt: u32,
    /// HTTP status.
    pub status: Option<u16>,
    /// Outcome name.
    pub outcome: String,
    /// Error text.
    pub error: Option<String>,
    /// When.
    pub at: i64,
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Queued or waiting for a retry.
    pub pending: u64,
    /// Accepted by the push service.
    pub delivered: u64,
    /// Their subscription went away.
    pub gone: u64,
    /// Given up.
    pub failed: u64,
}

/// Storage for push delivery; every `RelayStorage` backend implements it.
pub trait PushStorage {
    /// Stores a subscription and returns its id. An address belongs to one device: the same
    /// device registering an active address again updates its own row (new keys, same id);
    /// another device gets [`StorageError::Conflict`](super::StorageError::Conflict) while that
    /// row is active, unless its device was revoked (then the old row is removed and the caller
    /// gets a fresh one). A removed row is never revived: a new registration gets a new id.
    fn add_push_subscription(&self, subscription: &NewPushSubscription, now: i64) -> StorageResult<Id16>;
    /// A subscription that has not been removed.
    fn push_subscription(&self, subscription_id: Id16) -> StorageResult<Option<PushSubscriptionRow>>;
    /// The active subscriptions a device registered.
    fn device_push_subscriptions(&self, device_id: Id16) -> StorageResult<Vec<PushSubscriptionRow>>;
    /// Removes a subscription (nothing is sent to it again; its pending deliveries end as
    /// `gone`). `false` when it was not active.
    fn remove_push_subscription(&self, subscription_id: Id16, reason: &str, now: i64) -> StorageResult<bool>;
    /// Fans out up to `limit` alerts not fanned out yet, oldest first: one pending delivery per
    /// active subscription of the alert's recipients, and `fanned_out_at` set, in one transaction.
    fn fan_out_alerts(&self, now: i64, limit: u32) -> StorageResult<Vec<FannedOutAlert>>;
    /// Claims up to `limit` pending deliveries due at `now`: each is leased until `lease_until`
    /// (not claimed again before then, even by another deliverer) and its attempt counted.
    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StorageResult<Vec<ClaimedDelivery>>;
    /// Records attempts in the log and applies their consequences, in one transaction.
    fn record_delivery_attempts(&self, attempts: &[DeliveryAttempt]) -> StorageResult<()>;
    /// When the next pending delivery falls due, if any.
    fn next_delivery_due(&self) -> StorageResult<Option<i64>>;
    /// A team's delivery log, newest first.
    fn delivery_log(&self, team_id: &str, limit: u32) -> StorageResult<Vec<DeliveryLogEntry>>;
    /// Deliveries per state, over all teams.
    fn delivery_counts(&self) -> StorageResult<DeliveryCounts>;
}
