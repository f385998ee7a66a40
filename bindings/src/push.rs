//! A supervisor's device and the relay's push delivery: the relay's VAPID key (what the push
//! distributor subscribes with), and registering, listing and removing the Web Push endpoint
//! the relay sends this device's alerts to. Async calls on the library's runtime, like sync;
//! thin copies of `RelayClient` calls.

use fieldsync_core::push::{EndpointSecurity, PushEndpoint, SubscriptionKeys};
use fieldsync_core::sync::client::{PushRegistration, RelayPushInfo};

use crate::FfiError;
use crate::capture::invalid;
use crate::store::FieldStore;
use crate::sync::{enrolled_client, on_runtime};

/// A push subscription the relay holds for this device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiPushRegistration {
    /// The relay's id for it (32 hex characters); what `unregister_push` takes.
    pub subscription_id: String,
    /// `webpush`, `fcm` or `apns`.
    pub provider: String,
    /// The endpoint URL (or FCM/APNs token) the relay sends to.
    pub address: String,
    /// When the relay registered it, Unix ms (absent in the answer to a registration).
    pub created_at: Option<i64>,
}

impl From<PushRegistration> for FfiPushRegistration {
    fn from(r: PushRegistration) -> Self {
        FfiPushRegistration {
            subscription_id: r.subscription_id,
            provider: r.provider,
            address: r.address,
            created_at: r.created_at,
        }
    }
}

/// How the relay delivers alerts.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiRelayPush {
    /// The relay's VAPID public key (unpadded base64url): UnifiedPush's `vapid`, a browser's
    /// `applicationServerKey`.
    pub vapid_public_key: String,
    /// The providers the relay sends through: `webpush`, and `fcm`/`apns` when configured.
    pub providers: Vec<String>,
}

impl From<RelayPushInfo> for FfiRelayPush {
    fn from(info: RelayPushInfo) -> Self {
        FfiRelayPush { vapid_public_key: info.vapid_public_key, providers: info.providers }
    }
}

#[uniffi::export]
impl FieldStore {
    /// The relay's VAPID key and providers; ask the push distributor for an endpoint with this
    /// key. `Unauthorized` before enrolling.
    pub async fn push_relay_info(&self) -> Result<FfiRelayPush, FfiError> {
        let store = self.shared();
        on_runtime(async move {
            let client = enrolled_client(&store)?;
            Ok(client.push_info(&store).await?.into())
        })
        .await
    }

    /// Registers `endpoint` (the URL the push distributor gave this device) with the relay, with
    /// the public half of the keys in `secret` (from `create_push_keys`), so the team's alerts
    /// are pushed here. Registering the same endpoint again is harmless. `InvalidInput` for a
    /// secret that is not one, or an endpoint that is not https (plain http is accepted only
    /// to a loopback host, and only by a relay configured for tests); `Unauthorized` for a
    /// rep's device (only supervisors and admins receive alerts) or before enrolling.
    pub async fn register_push_endpoint(
        &self,
        secret: Vec<u8>,
        endpoint: String,
    ) -> Result<FfiPushRegistration, FfiError> {
        let store = self.shared();
        // Checked on the runtime too, so that even a panic in the checks comes back as an error.
        on_runtime(async move {
            let keys = SubscriptionKeys::from_secret_bytes(&secret).map_err(|e| invalid(e.to_string()))?;
            let endpoint = PushEndpoint::parse(&endpoint, EndpointSecurity::AllowInsecureLoopback)
                .map_err(|e| invalid(e.to_string()))?;
            let subscription = keys.subscription(endpoint);
            let client = enrolled_client(&store)?;
            Ok(client.register_push_subscription(&store, &subscription).await?.into())
        })
        .await
    }

    /// This device's push subscriptions at the relay.
    pub async fn push_registrations(&self) -> Result<Vec<FfiPushRegistration>, FfiError> {
        let store = self.shared();
        on_runtime(async move {
            let client = enrolled_client(&store)?;
            Ok(client.push_subscriptions(&store).await?.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// Stops pushes to one of this device's subscriptions (the distributor unregistered it, or
    /// the supervisor turned alerts off). `NotFound` when the relay has no such subscription of
    /// this device; `InvalidInput` for an id that is not 32 hex characters.
    pub async fn unregister_push(&self, subscription_id: String) -> Result<(), FfiError> {
        let store = self.shared();
        on_runtime(async move {
            let client = enrolled_client(&store)?;
            Ok(client.unregister_push_subscription(&store, &subscription_id).await?)
        })
        .await
    }
}
