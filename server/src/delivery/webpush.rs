//! Web Push (RFC 8030 request, RFC 8291 aes128gcm payload, RFC 8292 VAPID) through
//! [`fieldsync_core::push`], and the relay's VAPID key: read from the configured file, or from
//! `<data_dir>/vapid.json`, generated there (mode 0600) on first start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use fieldsync_core::push::{
    EndpointSecurity, PushEndpoint, PushMessage, PushSubscription, PushTopic, ReceiverKeys, Urgency,
    VapidContact, VapidKey,
};
use serde_json::json;

use super::{AlertMessage, BoxFuture, DeliveryError, HttpCall, ProviderError, PushConfig, PushProvider};
use crate::storage::push::{AlertLevel, ProviderKind, PushSubscriptionRow};

/// Key files are a few hundred bytes.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Sends Web Push messages signed with the relay's VAPID key.
#[derive(Debug)]
pub struct WebPushProvider {
    vapid: VapidKey,
    contact: VapidContact,
    security: EndpointSecurity,
}

impl WebPushProvider {
    /// Loads (or on first start creates) the VAPID key as `config` says.
    pub fn load(config: &PushConfig, data_dir: &Path) -> Result<Self, DeliveryError> {
        let contact = VapidContact::parse(&config.contact)
            .map_err(|e| DeliveryError::Credentials(format!("push.contact: {e}")))?;
        let vapid = match &config.vapid_key_file {
            Some(path) => read_vapid_key(path)?,
            None => read_or_create_vapid_key(&data_dir.join("vapid.json"), &contact)?,
        };
        Ok(WebPushProvider { vapid, contact, security: config.endpoint_security() })
    }

    /// A provider with a given key (tests, benchmarks).
    pub fn new(vapid: VapidKey, contact: VapidContact, security: EndpointSecurity) -> Self {
        WebPushProvider { vapid, contact, security }
    }

    /// The VAPID public key, base64url.
    pub fn public_key_base64url(&self) -> String {
        self.vapid.public_key_base64url()
    }
}

/// The urgency an alert of `level` is sent with: escalations wake the phone even on low battery.
pub fn urgency(level: AlertLevel) -> Urgency {
    match level {
        AlertLevel::Supervisor => Urgency::Normal,
        AlertLevel::Escalation => Urgency::High,
    }
}

impl PushProvider for WebPushProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::WebPush
    }

    fn build<'a>(
        &'a self,
        subscription: &'a PushSubscriptionRow,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<HttpCall, ProviderError>> {
        Box::pin(async move { self.request(subscription, message) })
    }
}

impl WebPushProvider {
    /// The RFC 8030 request for `message` (fresh ephemeral key and salt each time).
    pub fn request(
        &self,
        subscription: &PushSubscriptionRow,
        message: &AlertMessage,
    ) -> Result<HttpCall, ProviderError> {
        let permanent = |e: &dyn std::fmt::Display| ProviderError::Permanent(e.to_string());
        let endpoint =
            PushEndpoint::parse(&subscription.address, self.security).map_err(|e| permanent(&e))?;
        let keys = ReceiverKeys::new(
            subscription.p256dh.as_deref().unwrap_or_default(),
            subscription.auth.as_deref().unwrap_or_default(),
        )
        .map_err(|e| permanent(&e))?;
        let mut push = PushMessage::new(message.payload.clone(), message.ttl_secs, urgency(message.level));
        if let Ok(topic) = PushTopic::parse(&message.topic) {
            push = push.with_topic(topic);
        }
        let request = push
            .build_request(&PushSubscription::new(endpoint, keys), &self.vapid, &self.contact, message.now_ms)
            .map_err(|e| permanent(&e))?;
        Ok(HttpCall {
            url: request.url,
            headers: request.headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            body: request.body,
            http2: false,
        })
    }
}

fn read_vapid_key(path: &Path) -> Result<VapidKey, DeliveryError> {
    let bad = |why: String| DeliveryError::Credentials(format!("VAPID key file {}: {why}", path.display()));
    let text = read_small(path).map_err(bad)?;
    let text = text.trim();
    if !text.starts_with('{') {
        return VapidKey::from_base64url(text).map_err(|e| bad(e.to_string()));
    }
    let file: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let private = file["private_key"]
        .as_str()
        .ok_or_else(|| bad("no \"private_key\" (make one with `fieldsync push keygen`)".into()))?;
    let key = VapidKey::from_base64url(private).map_err(|e| bad(e.to_string()))?;
    if let Some(public) = file["public_key"].as_str()
        && public != key.public_key_base64url()
    {
        return Err(bad("public_key does not belong to private_key; the file is corrupt".into()));
    }
    Ok(key)
}

fn read_or_create_vapid_key(path: &PathBuf, contact: &VapidContact) -> Result<VapidKey, DeliveryError> {
    if path.exists() {
        return read_vapid_key(path);
    }
    let key = VapidKey::generate().map_err(|e| DeliveryError::Credentials(e.to_string()))?;
    let text = json!({
        "private_key": key.to_base64url(),
        "public_key": key.public_key_base64url(),
        "contact": contact.as_str(),
    })
    .to_string();
    let fail = |e: std::io::Error| {
        DeliveryError::Credentials(format!("cannot write the new VAPID key to {}: {e}", path.display()))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(fail)?;
    tracing::info!(path = %path.display(), public_key = %key.public_key_base64url(), "generated the relay's VAPID key");
    Ok(key)
}

pub(super) fn read_small(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(format!("it is larger than {MAX_KEY_FILE_BYTES} bytes"));
    }
    Ok(text)
}
