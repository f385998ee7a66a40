//! Where a supervisor's device asks the relay to send its alerts (docs/protocol.md, Push): the
//! relay's VAPID key, and registering, listing and removing this device's push subscriptions.
//! The relay checks every subscription again; these calls only carry it, with the device's token.

use serde::Deserialize;

use super::{RelayClient, SyncError, relay_token};
use crate::push::PushSubscription;
use crate::store::Store;

/// A push subscription the relay holds for this device.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PushRegistration {
    /// The relay's id for it (32 hex characters); what unregistering takes.
    pub subscription_id: String,
    /// `webpush`, `fcm` or `apns`.
    pub provider: String,
    /// The endpoint URL (Web Push) or device token (FCM, APNs) messages go to.
    pub address: String,
    /// When the relay registered it, Unix ms (the registration's own answer leaves it out).
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// How the relay delivers pushes: what a push distributor needs to subscribe this device.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RelayPushInfo {
    /// The relay's VAPID public key, unpadded base64url of the uncompressed P-256 point: the
    /// `applicationServerKey` (browsers) or `vapid` (UnifiedPush) the subscription is made with.
    #[serde(rename = "public_key")]
    pub vapid_public_key: String,
    /// The providers this relay sends through (`webpush` always; `fcm`, `apns` when set up).
    pub providers: Vec<String>,
}

#[derive(Deserialize)]
struct RegistrationList {
    subscriptions: Vec<PushRegistration>,
}

impl RelayClient {
    /// The relay's VAPID key and push providers.
    pub async fn push_info(&self, store: &Store) -> Result<RelayPushInfo, SyncError> {
        let token = relay_token(store)?;
        let body = self.send(reqwest::Method::GET, "/v1/push/vapid", &token, None).await?;
        parse(&body)
    }

    /// Registers `subscription` so the relay pushes this device the team's alerts. Registering
    /// an endpoint again (a retry, a new key pair for the same endpoint) updates the relay's one
    /// row for it, so this is safe to repeat. Only supervisors and admins receive alerts: a rep's
    /// device gets `Relay { status: 403 }`.
    pub async fn register_push_subscription(
        &self,
        store: &Store,
        subscription: &PushSubscription,
    ) -> Result<PushRegistration, SyncError> {
        let token = relay_token(store)?;
        let json = subscription.to_json().into_bytes();
        let body = self
            .send(reqwest::Method::POST, "/v1/push/subscriptions", &token, Some(("application/json", json)))
            .await?;
        parse(&body)
    }

    /// This device's registered subscriptions.
    pub async fn push_subscriptions(&self, store: &Store) -> Result<Vec<PushRegistration>, SyncError> {
        let token = relay_token(store)?;
        let body = self.send(reqwest::Method::GET, "/v1/push/subscriptions", &token, None).await?;
        Ok(parse::<RegistrationList>(&body)?.subscriptions)
    }

    /// Stops pushes to the subscription `subscription_id` (one of this device's). An id that is
    /// not 32 hex characters is refused before anything is sent; one the relay does not know
    /// for this device is `Relay { status: 404, code: "no_such_subscription" }`.
    pub async fn unregister_push_subscription(
        &self,
        store: &Store,
        subscription_id: &str,
    ) -> Result<(), SyncError> {
        let id = subscription_id.trim();
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SyncError::Invalid(format!(
                "{subscription_id:?} is not a push subscription id (32 hex characters)"
            )));
        }
        let token = relay_token(store)?;
        let path = format!("/v1/push/subscriptions/{}", id.to_ascii_lowercase());
        self.send(reqwest::Method::DELETE, &path, &token, None).await?;
        Ok(())
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SyncError> {
    serde_json::from_slice(body).map_err(|e| SyncError::Relay {
        status: 200,
        code: "malformed".into(),
        message: format!("the relay's answer is not what a push call returns: {e}"),
    })
}
