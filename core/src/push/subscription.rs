//! Push subscriptions: where a supervisor's device wants its push messages sent, and the keys the
//! messages are encrypted to.
//!
//! The relay receives [`PushSubscription`]s in the W3C JSON form that browsers'
//! `PushSubscription.toJSON()` and UnifiedPush apps produce:
//! `{"endpoint": "https://…", "keys": {"p256dh": "<base64url>", "auth": "<base64url>"}}`, and
//! checks every part before it ever encrypts to it. The phone makes its own
//! [`SubscriptionKeys`] (RFC 8291 §2: a P-256 key pair and a 16-byte auth secret), exports the
//! public half in that JSON form, and keeps the private half in its keystore.

use std::fmt;

use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use serde::Deserialize;
use serde_json::json;

use super::{b64url_decode, b64url_encode, generate_p256_secret, random_bytes};
use crate::device::KeyGenerationError;

/// Length of an uncompressed SEC1 P-256 point (`0x04 ‖ x ‖ y`), the only form RFC 8291 allows.
pub const P256_POINT_LEN: usize = 65;
/// Length of the auth secret (RFC 8291 §3.2).
pub const AUTH_SECRET_LEN: usize = 16;
/// Length of a P-256 private scalar.
pub const P256_SCALAR_LEN: usize = 32;
/// Longest endpoint URL accepted. Real ones are 100–500 characters; this bounds what a broken
/// or hostile subscription can make the relay store and send.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Whether plain `http://` endpoints are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointSecurity {
    /// Only `https://` endpoints: what every real push service uses. The default.
    #[default]
    HttpsOnly,
    /// Also `http://` to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), so tests can run
    /// a push receiver without TLS. Never for subscriptions that come from devices.
    AllowInsecureLoopback,
}

/// What is wrong with a subscription, its keys or its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The text is not the JSON object a subscription is.
    #[error(
        "the push subscription is not valid JSON of the form {{\"endpoint\", \"keys\": {{\"p256dh\", \"auth\"}}}}: {0}"
    )]
    NotJson(String),
    /// A required field is missing or has the wrong type.
    #[error(
        "the push subscription has no \"{0}\"; it needs {{\"endpoint\": \"…\", \"keys\": {{\"p256dh\": \"…\", \"auth\": \"…\"}}}}"
    )]
    MissingField(&'static str),
    /// Stored subscription keys lack a field.
    #[error(
        "the stored subscription keys have no \"{0}\" string; they need {{\"private_key\", \"auth\"}} in base64url"
    )]
    MissingKeyField(&'static str),
    /// A key field is not base64url.
    #[error(
        "{field} is not base64url (the URL-safe alphabet A–Z a–z 0–9 - _, as PushSubscription.toJSON() writes it)"
    )]
    BadBase64 {
        /// The field.
        field: &'static str,
    },
    /// A key field decodes to the wrong number of bytes.
    #[error("{field} is {len} bytes; it must be {expected}")]
    WrongLength {
        /// The field.
        field: &'static str,
        /// Its decoded length.
        len: usize,
        /// The length it must have.
        expected: usize,
    },
    /// `p256dh` has the right length but is not an uncompressed point (`0x04 ‖ x ‖ y`).
    #[error("p256dh starts with 0x{first_byte:02x}; an uncompressed P-256 point starts with 0x04")]
    NotUncompressedPoint {
        /// The first byte found.
        first_byte: u8,
    },
    /// `p256dh` is not a point on the P-256 curve.
    #[error("p256dh is not a point on the P-256 curve; the device must register its real public key")]
    PointNotOnCurve,
    /// The private key is zero or not below the group order.
    #[error("the private key is not a valid P-256 scalar")]
    BadPrivateKey,
    /// Stored keys whose public part does not belong to their private part.
    #[error("the stored p256dh does not belong to the stored private key; the key file is corrupt")]
    KeyMismatch,
    /// The endpoint is longer than [`MAX_ENDPOINT_LEN`].
    #[error("the endpoint is {len} characters; the limit is {max}")]
    EndpointTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The endpoint is not an `https://` URL (or allowed `http://` loopback URL).
    #[error("the endpoint must be an https:// URL, not {scheme}")]
    NotHttps {
        /// What it starts with instead.
        scheme: String,
    },
    /// An `http://` endpoint where only `https://` is allowed.
    #[error(
        "the endpoint {endpoint} is plain http://; push endpoints must use https:// (http:// to a loopback host is allowed only with allow_insecure_loopback, for tests)"
    )]
    InsecureEndpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// The endpoint is not a well-formed URL.
    #[error("the endpoint is not a usable URL: {0}")]
    BadEndpoint(String),
}

/// A validated push endpoint URL and the origin VAPID signs for (RFC 8292 §2: the `aud` claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEndpoint {
    url: String,
    origin: String,
}

impl PushEndpoint {
    /// Checks `url`: `https://host[:port]/path` with an ASCII host and no user name or password;
    /// `http://` only to a loopback host and only under
    /// [`EndpointSecurity::AllowInsecureLoopback`].
    pub fn parse(url: &str, security: EndpointSecurity) -> Result<Self, SubscriptionError> {
        let url = url.trim();
        if url.len() > MAX_ENDPOINT_LEN {
            return Err(SubscriptionError::EndpointTooLong { len: url.len(), max: MAX_ENDPOINT_LEN });
        }
        let bad = |why: &str| SubscriptionError::BadEndpoint(why.to_owned());
        if let Some(c) = url.chars().find(|c| !is_url_char(*c)) {
            return Err(SubscriptionError::BadEndpoint(format!("it contains the character {c:?}")));
        }
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => return Err(SubscriptionError::NotHttps { scheme: "a URL without a scheme".to_owned() }),
        };
        let (default_port, insecure) = match scheme.as_str() {
            "https" => (443, false),
            "http" => (80, true),
            _ => return Err(SubscriptionError::NotHttps { scheme: format!("{scheme}://") }),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.contains('@') {
            return Err(bad("it carries a user name or password"));
        }
        let (host, port) = split_host_port(authority)?;
        if insecure && !(security == EndpointSecurity::AllowInsecureLoopback && is_loopback(&host)) {
            return Err(SubscriptionError::InsecureEndpoint { endpoint: url.to_owned() });
        }
        let origin = match port {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        let path = &rest[authority_end..];
        Ok(PushEndpoint { url: format!("{scheme}://{authority}{path}"), origin })
    }

    /// The URL to POST push messages to.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`, lower-case, default port left out: the VAPID audience.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Display for PushEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Characters RFC 3986 allows in a URL (unreserved, reserved and `%`); no spaces, quotes,
/// angle brackets or non-ASCII.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Splits `host[:port]` (host may be a bracketed IPv6 literal) and lower-cases the host.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), SubscriptionError> {
    let bad = |why: String| SubscriptionError::BadEndpoint(why);
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((literal, after)) = inner.split_once(']') else {
            return Err(bad("its IPv6 host has no closing ]".to_owned()));
        };
        if literal.is_empty() || !literal.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(bad(format!("[{literal}] is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after.strip_prefix(':').ok_or_else(|| bad(format!("unexpected {after:?} after the host")))?,
            ),
        };
        (format!("[{}]", literal.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(bad("it has no host".to_owned()));
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
            || host.starts_with('.')
            || host.contains("..")
        {
            return Err(bad(format!("{host:?} is not a host name")));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port != 0 && digits.chars().all(|c| c.is_ascii_digit()) => Some(port),
            _ => return Err(bad(format!("{digits:?} is not a port number"))),
        },
    };
    Ok((host, port))
}

/// Whether `host` (lower-case, as [`split_host_port`] returns it) is this machine.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => false,
    }
}

/// The receiving device's public key material (RFC 8291 §2): what a message is encrypted to.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiverKeys {
    p256dh: PublicKey,
    auth: [u8; AUTH_SECRET_LEN],
}

impl ReceiverKeys {
    /// Checks raw keys: `p256dh` an uncompressed P-256 point on the curve, `auth` 16 bytes.
    pub fn new(p256dh: &[u8], auth: &[u8]) -> Result<Self, SubscriptionError> {
        Ok(ReceiverKeys { p256dh: parse_p256dh(p256dh)?, auth: parse_auth(auth)? })
    }

    /// Checks base64url keys as they appear in the subscription JSON.
    pub fn from_base64url(p256dh: &str, auth: &str) -> Result<Self, SubscriptionError> {
        let p256dh = b64url_decode(p256dh).ok_or(SubscriptionError::BadBase64 { field: "p256dh" })?;
        let auth = b64url_decode(auth).ok_or(SubscriptionError::BadBase64 { field: "auth" })?;
        Self::new(&p256dh, &auth)
    }

    /// The receiver's public key, uncompressed (65 bytes).
    pub fn p256dh(&self) -> [u8; P256_POINT_LEN] {
        uncompressed(&self.p256dh)
    }

    /// The receiver's public key as a curve point.
    pub fn public_key(&self) -> &PublicKey {
        &self.p256dh
    }

    /// The 16-byte auth secret.
    pub fn auth(&self) -> &[u8; AUTH_SECRET_LEN] {
        &self.auth
    }
}

impl fmt::Debug for ReceiverKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The auth secret is not public: anyone holding it and the endpoint can forge messages
        // the device accepts as authentic (RFC 8291 §7).
        f.debug_struct("ReceiverKeys").field("p256dh", &b64url_encode(&self.p256dh())).finish_non_exhaustive()
    }
}

/// Decodes and checks a receiver public key.
fn parse_p256dh(bytes: &[u8]) -> Result<PublicKey, SubscriptionError> {
    if bytes.len() != P256_POINT_LEN {
        return Err(SubscriptionError::WrongLength {
            field: "p256dh",
            len: bytes.len(),
            expected: P256_POINT_LEN,
        });
    }
    if bytes[0] != 0x04 {
        return Err(SubscriptionError::NotUncompressedPoint { first_byte: bytes[0] });
    }
    PublicKey::from_sec1_bytes(bytes).map_err(|_| SubscriptionError::PointNotOnCurve)
}

/// Checks an auth secret's length.
fn parse_auth(bytes: &[u8]) -> Result<[u8; AUTH_SECRET_LEN], SubscriptionError> {
    bytes.try_into().map_err(|_| SubscriptionError::WrongLength {
        field: "auth",
        len: bytes.len(),
        expected: AUTH_SECRET_LEN,
    })
}

/// A P-256 public key as its 65-byte uncompressed SEC1 encoding.
pub(crate) fn uncompressed(key: &PublicKey) -> [u8; P256_POINT_LEN] {
    let point = key.to_sec1_point(false);
    let mut out = [0u8; P256_POINT_LEN];
    // An uncompressed encoding of a non-identity point is always 65 bytes.
    out.copy_from_slice(point.as_bytes());
    out
}

/// Where to send a device's push messages and how to encrypt them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    endpoint: PushEndpoint,
    keys: ReceiverKeys,
}

/// The W3C subscription JSON, read leniently so missing parts get a named error.
#[derive(Deserialize)]
struct SubscriptionJson {
    endpoint: Option<serde_json::Value>,
    keys: Option<KeysJson>,
}

#[derive(Deserialize)]
struct KeysJson {
    p256dh: Option<serde_json::Value>,
    auth: Option<serde_json::Value>,
}

impl PushSubscription {
    /// A subscription from checked parts.
    pub fn new(endpoint: PushEndpoint, keys: ReceiverKeys) -> Self {
        PushSubscription { endpoint, keys }
    }

    /// Parses and checks the W3C JSON form. Unknown fields (such as `expirationTime`) are
    /// ignored.
    pub fn from_json(text: &str, security: EndpointSecurity) -> Result<Self, SubscriptionError> {
        let parsed: SubscriptionJson =
            serde_json::from_str(text).map_err(|e| SubscriptionError::NotJson(e.to_string()))?;
        let string = |value: Option<serde_json::Value>, field: &'static str| match value {
            Some(serde_json::Value::String(s)) => Ok(s),
            _ => Err(SubscriptionError::MissingField(field)),
        };
        let endpoint = string(parsed.endpoint, "endpoint")?;
        let keys = parsed.keys.ok_or(SubscriptionError::MissingField("keys"))?;
        let p256dh = string(keys.p256dh, "keys.p256dh")?;
        let auth = string(keys.auth, "keys.auth")?;
        Ok(PushSubscription {
            endpoint: PushEndpoint::parse(&endpoint, security)?,
            keys: ReceiverKeys::from_base64url(&p256dh, &auth)?,
        })
    }

    /// The W3C JSON form (keys unpadded base64url).
    pub fn to_json(&self) -> String {
        json!({
            "endpoint": self.endpoint.as_str(),
            "keys": {
                "p256dh": b64url_encode(&self.keys.p256dh()),
                "auth": b64url_encode(self.keys.auth()),
            }
        })
        .to_string()
    }

    /// Where to POST.
    pub fn endpoint(&self) -> &PushEndpoint {
        &self.endpoint
    }

    /// What to encrypt to.
    pub fn keys(&self) -> &ReceiverKeys {
        &self.keys
    }
}

/// The phone's push keys: the private key and auth secret that decrypt its messages, and the
/// public [`ReceiverKeys`] it registers.
///
/// For the keystore, [`to_secret_bytes`](Self::to_secret_bytes) gives 48 bytes: the 32-byte
/// big-endian private scalar followed by the 16-byte auth secret. [`to_json`](Self::to_json)
/// gives the same as JSON (`private_key`, `p256dh`, `auth`, base64url), the form the
/// `fieldsync push decrypt --keys` file uses.
#[derive(Clone)]
pub struct SubscriptionKeys {
    private_key: SecretKey,
    public: ReceiverKeys,
}

/// Length of [`SubscriptionKeys::to_secret_bytes`].
pub const SUBSCRIPTION_SECRET_LEN: usize = P256_SCALAR_LEN + AUTH_SECRET_LEN;

#[derive(Deserialize)]
struct SubscriptionKeysJson {
    private_key: Option<String>,
    p256dh: Option<String>,
    auth: Option<String>,
}

impl SubscriptionKeys {
    /// Makes a new key pair and auth secret from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyGenerationError> {
        let private_key = generate_p256_secret()?;
        let auth: [u8; AUTH_SECRET_LEN] = random_bytes()?;
        Ok(Self::from_parts(private_key, auth))
    }

    fn from_parts(private_key: SecretKey, auth: [u8; AUTH_SECRET_LEN]) -> Self {
        let public = ReceiverKeys { p256dh: private_key.public_key(), auth };
        SubscriptionKeys { private_key, public }
    }

    /// Rebuilds keys from a raw private scalar (32 bytes, big-endian) and auth secret.
    pub fn from_private(private_key: &[u8], auth: &[u8]) -> Result<Self, SubscriptionError> {
        if private_key.len() != P256_SCALAR_LEN {
            return Err(SubscriptionError::WrongLength {
                field: "private_key",
                len: private_key.len(),
                expected: P256_SCALAR_LEN,
            });
        }
        let private_key = SecretKey::from_slice(private_key).map_err(|_| SubscriptionError::BadPrivateKey)?;
        Ok(Self::from_parts(private_key, parse_auth(auth)?))
    }

    /// The 48 bytes the keystore keeps: private scalar ‖ auth secret.
    pub fn to_secret_bytes(&self) -> [u8; SUBSCRIPTION_SECRET_LEN] {
        let mut out = [0u8; SUBSCRIPTION_SECRET_LEN];
        out[..P256_SCALAR_LEN].copy_from_slice(&self.private_key.to_bytes());
        out[P256_SCALAR_LEN..].copy_from_slice(&self.public.auth);
        out
    }

    /// Rebuilds keys from [`to_secret_bytes`](Self::to_secret_bytes).
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, SubscriptionError> {
        if bytes.len() != SUBSCRIPTION_SECRET_LEN {
            return Err(SubscriptionError::WrongLength {
                field: "subscription secret",
                len: bytes.len(),
                expected: SUBSCRIPTION_SECRET_LEN,
            });
        }
        Self::from_private(&bytes[..P256_SCALAR_LEN], &bytes[P256_SCALAR_LEN..])
    }

    /// The public key (`p256dh`) and auth secret, base64url, as a subscription carries them.
    pub fn public_base64url(&self) -> (String, String) {
        (b64url_encode(&self.public.p256dh()), b64url_encode(&self.public.auth))
    }

    /// The private keys and public key as JSON: `{"private_key", "p256dh", "auth"}`, base64url.
    /// This is secret material: it decrypts every message sent to the subscription.
    pub fn to_json(&self) -> String {
        json!({
            "private_key": b64url_encode(&self.private_key.to_bytes()),
            "p256dh": b64url_encode(&self.public.p256dh()),
            "auth": b64url_encode(&self.public.auth),
        })
        .to_string()
    }

    /// Reads [`to_json`](Self::to_json)'s form. `p256dh` may be left out; when present it must
    /// belong to the private key.
    pub fn from_json(text: &str) -> Result<Self, SubscriptionError> {
        let parsed: SubscriptionKeysJson =
            serde_json::from_str(text).map_err(|e| SubscriptionError::NotJson(e.to_string()))?;
        let private_key = parsed.private_key.ok_or(SubscriptionError::MissingKeyField("private_key"))?;
        let auth = parsed.auth.ok_or(SubscriptionError::MissingKeyField("auth"))?;
        let private_key =
            b64url_decode(&private_key).ok_or(SubscriptionError::BadBase64 { field: "private_key" })?;
        let auth = b64url_decode(&auth).ok_or(SubscriptionError::BadBase64 { field: "auth" })?;
        let keys = Self::from_private(&private_key, &auth)?;
        if let Some(p256dh) = parsed.p256dh {
            let stored = b64url_decode(&p256dh).ok_or(SubscriptionError::BadBase64 { field: "p256dh" })?;
            if parse_p256dh(&stored)? != keys.public.p256dh {
                return Err(SubscriptionError::KeyMismatch);
            }
        }
        Ok(keys)
    }

    /// The public half, to register with the application server.
    pub fn public(&self) -> &ReceiverKeys {
        &self.public
    }

    /// The private key that decrypts messages ([`super::ece::decrypt`]).
    pub fn private_key(&self) -> &SecretKey {
        &self.private_key
    }

    /// The subscription to register for `endpoint` (what the push service or UnifiedPush
    /// distributor gave this device); its [`PushSubscription::to_json`] is what the relay takes.
    pub fn subscription(&self, endpoint: PushEndpoint) -> PushSubscription {
        PushSubscription { endpoint, keys: self.public.clone() }
    }

    /// Decrypts a push message body sent to these keys.
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, super::EceError> {
        super::ece::decrypt(body, &self.private_key, &self.public.auth)
    }
}

impl fmt::Debug for SubscriptionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key or the auth secret.
        f.debug_struct("SubscriptionKeys").field("public", &self.public).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn subscription_json(endpoint: &str, p256dh: &str, auth: &str) -> String {
        json!({ "endpoint": endpoint, "expirationTime": null, "keys": { "p256dh": p256dh, "auth": auth } })
            .to_string()
    }

    fn parse(endpoint: &str, p256dh: &str, auth: &str) -> Result<PushSubscription, SubscriptionError> {
        PushSubscription::from_json(&subscription_json(endpoint, p256dh, auth), EndpointSecurity::HttpsOnly)
    }

    #[test]
    fn a_browser_subscription_parses_and_round_trips_through_json() {
        let sub = parse("https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk", P256DH, AUTH).unwrap();
        assert_eq!(sub.endpoint().origin(), "https://updates.push.services.mozilla.com");
        assert_eq!(b64url_encode(&sub.keys().p256dh()), P256DH);
        assert_eq!(b64url_encode(sub.keys().auth()), AUTH);
        let again = PushSubscription::from_json(&sub.to_json(), EndpointSecurity::HttpsOnly).unwrap();
        assert_eq!(again, sub);
    }

    #[test]
    fn padded_base64url_keys_are_accepted() {
        let sub = parse("https://push.example.net/x", &format!("{P256DH}="), &format!("{AUTH}==")).unwrap();
        assert_eq!(b64url_encode(sub.keys().auth()), AUTH);
    }

    #[test]
    fn malformed_json_and_missing_fields_are_named() {
        let err = PushSubscription::from_json("{\"endpoint\": ", EndpointSecurity::HttpsOnly).unwrap_err();
        assert!(matches!(err, SubscriptionError::NotJson(_)), "{err:?}");
        let err = PushSubscription::from_json("[1, 2]", EndpointSecurity::HttpsOnly).unwrap_err();
        assert!(matches!(err, SubscriptionError::NotJson(_)), "{err:?}");
        let err = PushSubscription::from_json(
            r#"{"keys": {"p256dh": "x", "auth": "y"}}"#,
            EndpointSecurity::HttpsOnly,
        )
        .unwrap_err();
        assert_eq!(err, SubscriptionError::MissingField("endpoint"));
        let err = PushSubscription::from_json(
            r#"{"endpoint": "https://a.example/x"}"#,
            EndpointSecurity::HttpsOnly,
        )
        .unwrap_err();
        assert_eq!(err, SubscriptionError::MissingField("keys"));
        let no_auth = r#"{"endpoint": "https://a.example/x", "keys": {"p256dh": "BCVx"}}"#;
        let err = PushSubscription::from_json(no_auth, EndpointSecurity::HttpsOnly).unwrap_err();
        assert_eq!(err, SubscriptionError::MissingField("keys.auth"));
        let numeric = r#"{"endpoint": 7, "keys": {"p256dh": "x", "auth": "y"}}"#;
        let err = PushSubscription::from_json(numeric, EndpointSecurity::HttpsOnly).unwrap_err();
        assert_eq!(err, SubscriptionError::MissingField("endpoint"));
    }

    #[test]
    fn keys_that_are_not_base64url_are_refused() {
        let err = parse("https://push.example.net/x", "BCVx+/not*base64", AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::BadBase64 { field: "p256dh" });
        let err = parse("https://push.example.net/x", P256DH, "BTBZ MqHH").unwrap_err();
        assert_eq!(err, SubscriptionError::BadBase64 { field: "auth" });
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        let err = parse("https://push.example.net/x", &P256DH[..60], AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::WrongLength { field: "p256dh", len: 45, expected: 65 });
        let err = parse("https://push.example.net/x", P256DH, &b64url_encode(&[7u8; 12])).unwrap_err();
        assert_eq!(err, SubscriptionError::WrongLength { field: "auth", len: 12, expected: 16 });
        // A compressed point (33 bytes) is a valid key but not what RFC 8291 allows.
        let compressed =
            PublicKey::from_sec1_bytes(&b64url_decode(P256DH).unwrap()).unwrap().to_sec1_point(true);
        let err =
            parse("https://push.example.net/x", &b64url_encode(compressed.as_bytes()), AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::WrongLength { field: "p256dh", len: 33, expected: 65 });
    }

    #[test]
    fn a_point_off_the_curve_or_not_uncompressed_is_refused() {
        let mut point = b64url_decode(P256DH).unwrap();
        point[64] ^= 0x01;
        let err = parse("https://push.example.net/x", &b64url_encode(&point), AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::PointNotOnCurve);
        let mut hybrid = b64url_decode(P256DH).unwrap();
        hybrid[0] = 0x06;
        let err = parse("https://push.example.net/x", &b64url_encode(&hybrid), AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::NotUncompressedPoint { first_byte: 0x06 });
        let zeros = [0u8; 65];
        let mut identity_like = zeros;
        identity_like[0] = 0x04;
        let err = parse("https://push.example.net/x", &b64url_encode(&identity_like), AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::PointNotOnCurve);
    }

    #[test]
    fn non_https_endpoints_are_refused() {
        let err = parse("http://push.example.net/x", P256DH, AUTH).unwrap_err();
        assert!(matches!(err, SubscriptionError::InsecureEndpoint { .. }), "{err:?}");
        let err = parse("ftp://push.example.net/x", P256DH, AUTH).unwrap_err();
        assert_eq!(err, SubscriptionError::NotHttps { scheme: "ftp://".into() });
        let err = parse("push.example.net/x", P256DH, AUTH).unwrap_err();
        assert!(matches!(err, SubscriptionError::NotHttps { .. }), "{err:?}");
        // Loopback over http is refused unless the caller opts in (tests only).
        let err = parse("http://127.0.0.1:8080/push", P256DH, AUTH).unwrap_err();
        assert!(matches!(err, SubscriptionError::InsecureEndpoint { .. }), "{err:?}");
    }

    #[test]
    fn http_to_loopback_is_allowed_only_when_asked_for() {
        let loose = EndpointSecurity::AllowInsecureLoopback;
        for url in [
            "http://127.0.0.1:8080/push",
            "http://localhost:9/p",
            "http://[::1]:8443/p",
            "http://127.9.9.9/p",
        ] {
            let endpoint = PushEndpoint::parse(url, loose).unwrap();
            assert_eq!(endpoint.as_str(), url);
        }
        for url in ["http://10.0.0.1/p", "http://example.com/p", "http://127.0.0.1.evil.example/p"] {
            let err = PushEndpoint::parse(url, loose).unwrap_err();
            assert!(matches!(err, SubscriptionError::InsecureEndpoint { .. }), "{url}: {err:?}");
        }
    }

    #[test]
    fn the_origin_is_lower_case_and_leaves_out_the_default_port() {
        let strict = EndpointSecurity::HttpsOnly;
        let cases = [
            ("https://FCM.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
            ("HTTPS://push.example.net:443/x", "https://push.example.net"),
            ("https://push.example.net:8443/x?y#z", "https://push.example.net:8443"),
            ("https://[2001:DB8::1]:444/x", "https://[2001:db8::1]:444"),
            ("https://push.example.net", "https://push.example.net"),
        ];
        for (url, origin) in cases {
            assert_eq!(PushEndpoint::parse(url, strict).unwrap().origin(), origin, "{url}");
        }
        let loopback = PushEndpoint::parse("http://127.0.0.1:80/x", EndpointSecurity::AllowInsecureLoopback);
        assert_eq!(loopback.unwrap().origin(), "http://127.0.0.1");
    }

    #[test]
    fn malformed_endpoints_get_a_reason() {
        let strict = EndpointSecurity::HttpsOnly;
        for url in [
            "https:///path",
            "https://user:pw@push.example.net/x",
            "https://push.example.net:0/x",
            "https://push.example.net:99999/x",
            "https://push.example.net:+1/x",
            "https://push example.net/x",
            "https://push.example.net/x y",
            "https://[::1/x",
            "https://[zz]/x",
            "https://..example.net/x",
            "https://推送.example.net/x",
        ] {
            let err = PushEndpoint::parse(url, strict).unwrap_err();
            assert!(matches!(err, SubscriptionError::BadEndpoint(_)), "{url}: {err:?}");
        }
        let long = format!("https://push.example.net/{}", "a".repeat(MAX_ENDPOINT_LEN));
        let err = PushEndpoint::parse(&long, strict).unwrap_err();
        assert!(matches!(err, SubscriptionError::EndpointTooLong { .. }), "{err:?}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_subscription_text_never_panics(text in "\\PC{0,200}") {
                let _ = PushSubscription::from_json(&text, EndpointSecurity::AllowInsecureLoopback);
                let _ = SubscriptionKeys::from_json(&text);
            }

            #[test]
            fn subscriptions_with_arbitrary_field_values_never_panic(
                endpoint in "\\PC{0,80}",
                p256dh in "[A-Za-z0-9_=+/-]{0,100}",
                auth in "[A-Za-z0-9_=+/-]{0,30}",
            ) {
                let _ = parse(&endpoint, &p256dh, &auth);
            }

            #[test]
            fn arbitrary_endpoints_never_panic_and_accepted_ones_are_https(
                url in "(https?://)?[a-zA-Z0-9.:@\\[\\]/?#%_~-]{0,60}"
            ) {
                if let Ok(endpoint) = PushEndpoint::parse(&url, EndpointSecurity::HttpsOnly) {
                    prop_assert!(endpoint.as_str().starts_with("https://"));
                    prop_assert!(endpoint.origin().starts_with("https://"));
                }
            }
        }
    }

    #[test]
    fn generated_keys_export_a_subscription_and_survive_the_keystore() {
        let keys = SubscriptionKeys::generate().unwrap();
        let endpoint =
            PushEndpoint::parse("https://ntfy.example.net/upAbc?up=1", EndpointSecurity::HttpsOnly).unwrap();
        let registered =
            PushSubscription::from_json(&keys.subscription(endpoint).to_json(), EndpointSecurity::HttpsOnly)
                .unwrap();
        assert_eq!(registered.keys(), keys.public());

        let restored = SubscriptionKeys::from_secret_bytes(&keys.to_secret_bytes()).unwrap();
        assert_eq!(restored.public(), keys.public());
        let from_json = SubscriptionKeys::from_json(&keys.to_json()).unwrap();
        assert_eq!(from_json.to_secret_bytes(), keys.to_secret_bytes());
        assert!(!format!("{keys:?}").contains(&b64url_encode(keys.public().auth())));
    }

    #[test]
    fn stored_keys_that_do_not_fit_together_are_refused() {
        let keys = SubscriptionKeys::generate().unwrap();
        let other = SubscriptionKeys::generate().unwrap();
        let mixed = json!({
            "private_key": b64url_encode(&keys.private_key().to_bytes()),
            "p256dh": b64url_encode(&other.public().p256dh()),
            "auth": b64url_encode(keys.public().auth()),
        });
        assert_eq!(
            SubscriptionKeys::from_json(&mixed.to_string()).unwrap_err(),
            SubscriptionError::KeyMismatch
        );
        let err = SubscriptionKeys::from_secret_bytes(&[1u8; 47]).unwrap_err();
        assert!(matches!(err, SubscriptionError::WrongLength { expected: 48, .. }), "{err:?}");
        let err = SubscriptionKeys::from_private(&[0u8; 32], &[0u8; 16]).unwrap_err();
        assert_eq!(err, SubscriptionError::BadPrivateKey);
        let err = SubscriptionKeys::from_private(&[0xff; 32], &[0u8; 16]).unwrap_err();
        assert_eq!(err, SubscriptionError::BadPrivateKey);
    }
}
