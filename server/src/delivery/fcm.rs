//! Firebase Cloud Messaging, HTTP v1 API: `POST {endpoint}/v1/projects/{project}/messages:send`
//! with an OAuth 2 access token that the relay gets by exchanging a JWT signed (RS256) with the
//! service account's key (RFC 7523, Google's "service account" flow). The alert travels as a
//! data message (`data.fieldsync_alert`: the payload in standard base64), which the app decodes
//! like a Web Push payload.
//!
//! Google's servers cannot be reached from the project's test machines: the tests check the
//! requests built here and run the token exchange against a loopback server.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fieldsync_core::push::PushOutcome;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use serde_json::json;

use super::{AlertMessage, BoxFuture, DeliveryError, HttpCall, ProviderError, PushProvider};
use crate::storage::push::{AlertLevel, ProviderKind, PushSubscriptionRow};

/// The OAuth scope FCM needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// FCM refuses data messages larger than this.
pub const MAX_DATA_BYTES: usize = 4096;
/// An access token is renewed this long before it expires.
const TOKEN_MARGIN_SECS: i64 = 300;

/// The `[push.fcm]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    /// The service account key file downloaded from the Firebase console (JSON).
    pub service_account_file: PathBuf,
    /// The Firebase project; default: the service account's `project_id`.
    #[serde(default)]
    pub project_id: Option<String>,
    /// FCM's base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_endpoint() -> String {
    "https://fcm.googleapis.com".into()
}

/// The parts of a service account key file that are used.
#[derive(Deserialize)]
struct ServiceAccountFile {
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

/// A service account: who the relay is to Google, and its signing key.
pub struct ServiceAccount {
    project_id: String,
    key_id: Option<String>,
    client_email: String,
    token_uri: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a service account key file's text; `project_id` overrides the file's.
    pub fn from_json(text: &str, project_id: Option<&str>) -> Result<Self, String> {
        let file: ServiceAccountFile =
            serde_json::from_str(text).map_err(|e| format!("not a service account key file: {e}"))?;
        let der = super::pem_to_der(&file.private_key, "PRIVATE KEY")?;
        let key =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("private_key is not a PKCS#8 RSA key: {e}"))?;
        let project_id = project_id
            .map(str::to_owned)
            .or(file.project_id)
            .ok_or("no project_id in the file or in push.fcm.project_id")?;
        if project_id.is_empty() || !project_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("project_id {project_id:?} is not a Firebase project id"));
        }
        Ok(ServiceAccount {
            project_id,
            key_id: file.private_key_id,
            client_email: file.client_email,
            token_uri: file.token_uri,
            key,
        })
    }

    /// The signed JWT asserting this account, for the token exchange (valid one hour).
    pub fn assertion(&self, now_secs: i64) -> Result<String, ProviderError> {
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": now_secs,
            "exp": now_secs + 3600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
            .map_err(|_| ProviderError::Transient("could not sign the FCM token request".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The token exchange request (RFC 7523 JWT bearer grant).
    pub fn token_request(&self, now_secs: i64) -> Result<HttpCall, ProviderError> {
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            self.assertion(now_secs)?
        );
        Ok(HttpCall {
            url: self.token_uri.clone(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: body.into_bytes(),
            http2: false,
        })
    }

    /// The public key's DER (RSAPublicKey), for checking signatures in tests.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public().as_ref().to_vec()
    }
}

/// The `messages:send` request for `message` to the registration token `token`.
pub fn message_request(
    endpoint: &str,
    project_id: &str,
    access_token: &str,
    token: &str,
    message: &AlertMessage,
) -> Result<HttpCall, ProviderError> {
    let data = json!({
        "fieldsync_alert": STANDARD.encode(&message.payload),
        "alert_id": hex::encode(message.alert_id),
        "level": message.level.as_str(),
    });
    let data_len = data.to_string().len();
    if data_len > MAX_DATA_BYTES {
        return Err(ProviderError::Permanent(format!(
            "the alert is {data_len} bytes as FCM data; FCM carries at most {MAX_DATA_BYTES}"
        )));
    }
    let priority = match message.level {
        AlertLevel::Supervisor => "normal",
        AlertLevel::Escalation => "high",
    };
    let body = json!({
        "message": {
            "token": token,
            "data": data,
            "android": {
                "priority": priority,
                "ttl": format!("{}s", message.ttl_secs),
                "collapse_key": message.topic,
            },
        }
    });
    Ok(HttpCall {
        url: format!("{}/v1/projects/{project_id}/messages:send", endpoint.trim_end_matches('/')),
        headers: vec![
            ("Authorization".into(), format!("Bearer {access_token}")),
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
        ],
        body: body.to_string().into_bytes(),
        http2: false,
    })
}

/// Sends through FCM, exchanging and caching the OAuth access token.
#[derive(Debug)]
pub struct FcmProvider {
    account: ServiceAccount,
    endpoint: String,
    client: reqwest::Client,
    token: Arc<tokio::sync::Mutex<Option<(String, i64)>>>,
}

impl FcmProvider {
    /// Reads the service account file named in `config`.
    pub fn load(config: &FcmConfig, client: reqwest::Client) -> Result<Self, DeliveryError> {
        let path = &config.service_account_file;
        let bad = |why: String| {
            DeliveryError::Credentials(format!("FCM service account {}: {why}", path.display()))
        };
        let text = super::webpush::read_small(path).map_err(bad)?;
        let account = ServiceAccount::from_json(&text, config.project_id.as_deref()).map_err(bad)?;
        Ok(Self::new(account, &config.endpoint, client))
    }

    /// A provider for an account.
    pub fn new(account: ServiceAccount, endpoint: &str, client: reqwest::Client) -> Self {
        FcmProvider {
            account,
            endpoint: endpoint.to_owned(),
            client,
            token: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn access_token(&self, now_ms: i64) -> Result<String, ProviderError> {
        let now = now_ms.div_euclid(1000);
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires - TOKEN_MARGIN_SECS > now
        {
            return Ok(token.clone());
        }
        let call = self.account.token_request(now)?;
        let transient = |why: String| ProviderError::Transient(format!("FCM token exchange: {why}"));
        let mut request = self.client.post(&call.url).body(call.body);
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|e| transient(format!("{:#}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transient(e.to_string()))?;
        if !status.is_success() {
            return Err(transient(format!(
                "{} answered {status}: {}",
                call.url,
                text.chars().take(200).collect::<String>()
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: i64,
        }
        let answer: TokenAnswer =
            serde_json::from_str(&text).map_err(|e| transient(format!("unexpected answer: {e}")))?;
        *cached = Some((answer.access_token.clone(), now + answer.expires_in));
        Ok(answer.access_token)
    }
}

impl PushProvider for FcmProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fcm
    }

    fn build<'a>(
        &'a self,
        subscription: &'a PushSubscriptionRow,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<HttpCall, ProviderError>> {
        Box::pin(async move {
            let access_token = self.access_token(message.now_ms).await?;
            message_request(
                &self.endpoint,
                &self.account.project_id,
                &access_token,
                &subscription.address,
                message,
            )
        })
    }

    fn classify(&self, status: u16, _body: &str) -> PushOutcome {
        match status {
            // UNREGISTERED: the app was uninstalled or the token rotated.
            404 => PushOutcome::SubscriptionGone,
            // The access token expired early or was revoked: drop it and try again.
            401 => {
                if let Ok(mut cached) = self.token.try_lock() {
                    *cached = None;
                }
                PushOutcome::Retryable
            }
            other => PushOutcome::from_status(other),
        }
    }
}

/// Checks an FCM registration token's form (what the app got from `FirebaseMessaging.getToken`).
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() || token.len() > 4096 {
        return Err(format!("an FCM registration token is 1 to 4096 characters, not {}", token.len()));
    }
    if let Some(c) =
        token.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')))
    {
        return Err(format!("an FCM registration token has no {c:?} in it"));
    }
    Ok(())
}
