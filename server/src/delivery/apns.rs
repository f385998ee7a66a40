//! Apple Push Notification service: HTTP/2 `POST {endpoint}/3/device/{token}` with a provider
//! token (ES256 JWT, `kid` = the key's id, `iss` = the Apple team, `iat`; renewed every 50
//! minutes as Apple asks for 20 to 60), `apns-topic` (the app's bundle id), `apns-push-type:
//! alert`, `apns-priority` 10 for escalations and 5 otherwise, `apns-expiration` and
//! `apns-collapse-id`. The body shows a notification and carries the alert payload (standard
//! base64) in `fieldsync_alert`.
//!
//! Apple's servers cannot be reached from the project's test machines: the tests check the
//! requests built here.

use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fieldsync_core::push::PushOutcome;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AlertMessage, BoxFuture, DeliveryError, HttpCall, ProviderError, PushProvider};
use crate::storage::push::{AlertLevel, ProviderKind, PushSubscriptionRow};

/// APNs refuses notification bodies larger than this.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// A provider token is used for this long, then signed again.
const TOKEN_LIFETIME_SECS: i64 = 50 * 60;

/// The `[push.apns]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApnsConfig {
    /// The `.p8` signing key downloaded from the Apple developer account (PKCS#8 PEM).
    pub key_file: PathBuf,
    /// Its 10-character key id.
    pub key_id: String,
    /// The 10-character Apple developer team id.
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for development builds.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_endpoint() -> String {
    "https://api.push.apple.com".into()
}

/// Sends through APNs.
pub struct ApnsProvider {
    key: EcdsaKeyPair,
    key_id: String,
    team_id: String,
    topic: String,
    endpoint: String,
    token: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for ApnsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsProvider")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl ApnsProvider {
    /// Reads the key file named in `config`.
    pub fn load(config: &ApnsConfig) -> Result<Self, DeliveryError> {
        let bad = |why: String| {
            DeliveryError::Credentials(format!("APNs key {}: {why}", config.key_file.display()))
        };
        let text = super::webpush::read_small(&config.key_file).map_err(bad)?;
        Self::new(&text, config).map_err(bad)
    }

    /// A provider from the `.p8` file's text.
    pub fn new(p8: &str, config: &ApnsConfig) -> Result<Self, String> {
        let der = super::pem_to_der(p8, "PRIVATE KEY")?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
            .map_err(|e| format!("not a PKCS#8 P-256 key: {e}"))?;
        for (name, value) in [("key_id", &config.key_id), ("team_id", &config.team_id)] {
            if value.len() != 10 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("push.apns.{name} {value:?} is not 10 letters and digits"));
            }
        }
        if config.topic.is_empty() || config.topic.chars().any(|c| c.is_whitespace()) {
            return Err(format!("push.apns.topic {:?} is not a bundle id", config.topic));
        }
        Ok(ApnsProvider {
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            topic: config.topic.clone(),
            endpoint: config.endpoint.trim_end_matches('/').to_owned(),
            token: Mutex::new(None),
        })
    }

    /// The provider token valid at `now_secs` (cached for 50 minutes).
    pub fn provider_token(&self, now_secs: i64) -> Result<String, ProviderError> {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, issued)) = cached.as_ref()
            && now_secs - *issued < TOKEN_LIFETIME_SECS
            && now_secs >= *issued
        {
            return Ok(token.clone());
        }
        let header = json!({ "alg": "ES256", "kid": self.key_id });
        let claims = json!({ "iss": self.team_id, "iat": now_secs });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| ProviderError::Transient("could not sign the APNs provider token".into()))?;
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        *cached = Some((token.clone(), now_secs));
        Ok(token)
    }

    /// The public key (uncompressed point), for checking signatures in tests.
    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// The request delivering `message` to the device token `device_token`.
    pub fn request(&self, device_token: &str, message: &AlertMessage) -> Result<HttpCall, ProviderError> {
        let now_secs = message.now_ms.div_euclid(1000);
        let (title, body) = notification_text(&message.payload, message.level);
        let payload = json!({
            "aps": {
                "alert": { "title": title, "body": body },
                "sound": "default",
                "mutable-content": 1,
                "thread-id": message.topic,
            },
            "fieldsync_alert": STANDARD.encode(&message.payload),
        })
        .to_string();
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(ProviderError::Permanent(format!(
                "the alert is {} bytes as an APNs notification; APNs carries at most {MAX_PAYLOAD_BYTES}",
                payload.len()
            )));
        }
        let expiration = if message.ttl_secs == 0 { 0 } else { now_secs + i64::from(message.ttl_secs) };
        let priority = match message.level {
            AlertLevel::Supervisor => "5",
            AlertLevel::Escalation => "10",
        };
        Ok(HttpCall {
            url: format!("{}/3/device/{device_token}", self.endpoint),
            headers: vec![
                ("authorization".into(), format!("bearer {}", self.provider_token(now_secs)?)),
                ("apns-topic".into(), self.topic.clone()),
                ("apns-push-type".into(), "alert".into()),
                ("apns-priority".into(), priority.into()),
                ("apns-expiration".into(), expiration.to_string()),
                ("apns-collapse-id".into(), message.topic.chars().take(64).collect()),
                ("apns-id".into(), uuid::Uuid::from_bytes(message.alert_id).hyphenated().to_string()),
                ("content-type".into(), "application/json".into()),
            ],
            body: payload.into_bytes(),
            http2: true,
        })
    }
}

/// What the notification says, read from the payload's JSON (`title`, `stage`, `owner`) so the
/// lock screen is useful before the app decodes the payload.
fn notification_text(payload: &[u8], level: AlertLevel) -> (String, String) {
    let fields: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let text = |name: &str| fields[name].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    if fields["type"].as_str() == Some(fieldsync_core::kpi::brief::BRIEF_TYPE) {
        // A weekly brief (docs/kpi.md): its own text is the body, at most 100 characters.
        let body = text("text").unwrap_or_else(|| "Open fieldsync for the details".to_owned());
        return ("本周简报 Weekly brief".to_owned(), body);
    }
    let title = match level {
        AlertLevel::Supervisor => "Deal stalled",
        AlertLevel::Escalation => "Escalated: deal stalled",
    };
    let body = match (text("title"), text("stage"), text("owner")) {
        (Some(deal), Some(stage), Some(owner)) => format!("{deal} — {stage}, {owner}"),
        (Some(deal), _, _) => deal,
        _ => "Open fieldsync for the details".to_owned(),
    };
    (title.to_owned(), body)
}

impl PushProvider for ApnsProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Apns
    }

    fn build<'a>(
        &'a self,
        subscription: &'a PushSubscriptionRow,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<HttpCall, ProviderError>> {
        Box::pin(async move { self.request(&subscription.address, message) })
    }

    fn classify(&self, status: u16, body: &str) -> PushOutcome {
        match status {
            // Unregistered, or a token that is not a device token (any more).
            410 => PushOutcome::SubscriptionGone,
            400 if body.contains("BadDeviceToken") => PushOutcome::SubscriptionGone,
            // ExpiredProviderToken: sign a new one and try again.
            403 if body.contains("ExpiredProviderToken") => {
                *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
                PushOutcome::Retryable
            }
            other => PushOutcome::from_status(other),
        }
    }
}

/// Checks an APNs device token's form: hex, 64 to 200 characters.
pub fn check_token(token: &str) -> Result<(), String> {
    if !(64..=200).contains(&token.len())
        || !token.len().is_multiple_of(2)
        || !token.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err("an APNs device token is 64 to 200 hex characters (an even number)".into());
    }
    Ok(())
}
