//! The RFC 8030 push request as plain data, and what the push service's answer means.
//!
//! [`PushMessage::build_request`] encrypts the payload ([`super::ece`]), signs a VAPID token
//! ([`super::vapid`]) and returns a [`PushRequest`]: method, URL, headers and body that the
//! relay hands to whatever HTTP client it uses. [`PushOutcome::from_status`] turns the push
//! service's status code into what the sender should do next.

use std::fmt;
use std::str::FromStr;

use super::ece::{self, EceError};
use super::subscription::{PushSubscription, ReceiverKeys};
use super::vapid::{VapidContact, VapidError, VapidKey};
use crate::clock::UnixMillis;

/// How long the VAPID token of one request stays valid. Long enough for retries of the same
/// request; well inside RFC 8292's 24-hour limit.
pub const REQUEST_VAPID_VALIDITY_SECS: u32 = 12 * 60 * 60;
/// Longest `Topic` RFC 8030 §5.4 allows.
pub const MAX_TOPIC_LEN: usize = 32;

/// Why a push request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushRequestError {
    /// The payload could not be encrypted (too large, no randomness).
    #[error(transparent)]
    Encryption(#[from] EceError),
    /// The VAPID token could not be made.
    #[error(transparent)]
    Vapid(#[from] VapidError),
    /// An urgency that RFC 8030 does not define.
    #[error("urgency {0:?} is not one of very-low, low, normal, high")]
    BadUrgency(String),
    /// A topic RFC 8030 does not allow.
    #[error("topic {topic:?} is not usable: {why} (RFC 8030 §5.4: at most 32 characters of A–Z a–z 0–9 - _)")]
    BadTopic {
        /// The topic given.
        topic: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// How soon the device should be woken for the message (RFC 8030 §5.3); push services use it
/// to spare the battery of devices that are low on power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Urgency {
    /// Deliver when the device is on power and Wi-Fi.
    VeryLow,
    /// Deliver when the device is on power or Wi-Fi.
    Low,
    /// Deliver unless the device is on low battery. The default.
    #[default]
    Normal,
    /// Deliver now, even on low battery.
    High,
}

impl Urgency {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

impl FromStr for Urgency {
    type Err = PushRequestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "very-low" => Ok(Urgency::VeryLow),
            "low" => Ok(Urgency::Low),
            "normal" => Ok(Urgency::Normal),
            "high" => Ok(Urgency::High),
            _ => Err(PushRequestError::BadUrgency(text.to_owned())),
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Topic` (RFC 8030 §5.4): a newer message with the same topic replaces an undelivered older
/// one, so a supervisor offline for a day gets the latest state of an alert, not every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTopic(String);

impl PushTopic {
    /// Checks a topic: 1 to 32 characters of the base64url alphabet.
    pub fn parse(text: &str) -> Result<Self, PushRequestError> {
        let bad = |why| PushRequestError::BadTopic { topic: text.to_owned(), why };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > MAX_TOPIC_LEN {
            return Err(bad("it is longer than 32 characters"));
        }
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(bad("it has characters outside the base64url alphabet"));
        }
        Ok(PushTopic(text.to_owned()))
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message to push: the payload and how the push service should treat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The plaintext, at most [`ece::MAX_PLAINTEXT_LEN`] bytes.
    pub payload: Vec<u8>,
    /// How long the push service keeps the message for an unreachable device, in seconds
    /// (RFC 8030 §5.2); 0 means deliver now or never. Services may shorten it (and say so in
    /// their answer's `TTL` header).
    pub ttl_secs: u32,
    /// How urgently to wake the device.
    pub urgency: Urgency,
    /// Replace an undelivered earlier message with the same topic.
    pub topic: Option<PushTopic>,
}

impl PushMessage {
    /// A message with no topic.
    pub fn new(payload: impl Into<Vec<u8>>, ttl_secs: u32, urgency: Urgency) -> Self {
        PushMessage { payload: payload.into(), ttl_secs, urgency, topic: None }
    }

    /// The same message with a topic.
    pub fn with_topic(mut self, topic: PushTopic) -> Self {
        self.topic = Some(topic);
        self
    }

    /// Encrypts the payload to `subscription` (fresh ephemeral key and salt) and signs a VAPID
    /// token valid for [`REQUEST_VAPID_VALIDITY_SECS`] from `now`.
    pub fn build_request(
        &self,
        subscription: &PushSubscription,
        vapid: &VapidKey,
        contact: &VapidContact,
        now: UnixMillis,
    ) -> Result<PushRequest, PushRequestError> {
        self.build_request_encrypted_with(subscription, vapid, contact, now, ece::encrypt)
    }

    /// [`build_request`](Self::build_request) with the encryption step given, so tests can fix
    /// the ephemeral key and salt.
    fn build_request_encrypted_with(
        &self,
        subscription: &PushSubscription,
        vapid: &VapidKey,
        contact: &VapidContact,
        now: UnixMillis,
        encrypt: impl FnOnce(&[u8], &ReceiverKeys) -> Result<Vec<u8>, EceError>,
    ) -> Result<PushRequest, PushRequestError> {
        let authorization =
            vapid.authorization(subscription.endpoint(), contact, now, REQUEST_VAPID_VALIDITY_SECS)?;
        let body = encrypt(&self.payload, subscription.keys())?;
        let mut headers = vec![
            ("TTL", self.ttl_secs.to_string()),
            ("Urgency", self.urgency.as_str().to_owned()),
            ("Content-Encoding", "aes128gcm".to_owned()),
            ("Content-Type", "application/octet-stream".to_owned()),
            ("Authorization", authorization),
        ];
        if let Some(topic) = &self.topic {
            headers.push(("Topic", topic.as_str().to_owned()));
        }
        Ok(PushRequest { method: "POST", url: subscription.endpoint().as_str().to_owned(), headers, body })
    }
}

/// One HTTP request to a push service, ready to send as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    /// Always `POST`.
    pub method: &'static str,
    /// The subscription's endpoint.
    pub url: String,
    /// Header names and values, in the order to send them. `Content-Length` is left to the
    /// HTTP client.
    pub headers: Vec<(&'static str, String)>,
    /// The encrypted body (`aes128gcm`).
    pub body: Vec<u8>,
}

impl PushRequest {
    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a push service's answer means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// 2xx (normally 201 Created): the service took the message.
    Accepted,
    /// 404 or 410: the subscription no longer exists (RFC 8030 §7.3); delete it and do not
    /// send to it again.
    SubscriptionGone,
    /// 429 or 5xx: the service is overloaded or failing; send again later (honouring
    /// `Retry-After` when given).
    Retryable,
    /// Any other status (400, 401/403 for a VAPID key the subscription was not made for, 413
    /// for a body too large, 3xx): sending the same request again will not help.
    Rejected,
}

impl PushOutcome {
    /// Classifies an HTTP status code.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => PushOutcome::Accepted,
            404 | 410 => PushOutcome::SubscriptionGone,
            429 | 500..=599 => PushOutcome::Retryable,
            _ => PushOutcome::Rejected,
        }
    }

    /// A stable name: `accepted`, `subscription_gone`, `retryable`, `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Accepted => "accepted",
            PushOutcome::SubscriptionGone => "subscription_gone",
            PushOutcome::Retryable => "retryable",
            PushOutcome::Rejected => "rejected",
        }
    }
}

#[cfg(test)]
mod tests {
    use p256::SecretKey;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::*;
    use crate::push::{EndpointSecurity, SubscriptionKeys, b64url_decode, b64url_encode};

    const NOW: UnixMillis = 1_777_622_400_000;

    fn subscription(keys: &SubscriptionKeys) -> PushSubscription {
        let json = serde_json::json!({
            "endpoint": "https://push.example.net/wpush/v2/gAAAA",
            "keys": {
                "p256dh": b64url_encode(&keys.public().p256dh()),
                "auth": b64url_encode(keys.public().auth()),
            }
        });
        PushSubscription::from_json(&json.to_string(), EndpointSecurity::HttpsOnly).unwrap()
    }

    fn contact() -> VapidContact {
        VapidContact::parse("mailto:ops@fieldsync.example").unwrap()
    }

    #[test]
    fn the_request_carries_the_rfc8030_headers_and_a_body_the_receiver_decrypts() {
        let keys = SubscriptionKeys::generate().unwrap();
        let vapid = VapidKey::generate().unwrap();
        let message = PushMessage::new(&br#"{"alert":"stalled"}"#[..], 3600, Urgency::High)
            .with_topic(PushTopic::parse("opp-42").unwrap());
        let request = message.build_request(&subscription(&keys), &vapid, &contact(), NOW).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://push.example.net/wpush/v2/gAAAA");
        assert_eq!(request.header("ttl"), Some("3600"));
        assert_eq!(request.header("Urgency"), Some("high"));
        assert_eq!(request.header("Content-Encoding"), Some("aes128gcm"));
        assert_eq!(request.header("Content-Type"), Some("application/octet-stream"));
        assert_eq!(request.header("Topic"), Some("opp-42"));
        assert_eq!(keys.decrypt(&request.body).unwrap(), br#"{"alert":"stalled"}"#);

        let authorization = request.header("Authorization").unwrap();
        let (t, k) = authorization.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, vapid.public_key_base64url());
        let (signing_input, signature) = t.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&b64url_decode(signature).unwrap()).unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&b64url_decode(k).unwrap()).unwrap();
        verifying.verify(signing_input.as_bytes(), &signature).unwrap();
        let claims = b64url_decode(signing_input.split_once('.').unwrap().1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({
                "aud": "https://push.example.net",
                "exp": NOW / 1000 + 12 * 3600,
                "sub": "mailto:ops@fieldsync.example",
            })
        );
    }

    #[test]
    fn the_wire_form_of_a_request_is_stable() {
        // Fixed keys, salt and time: any change in header names, order, values, claims or body
        // layout shows up here. ES256 signatures are deterministic in p256 (RFC 6979), so the
        // whole token is fixed too.
        let receiver = SubscriptionKeys::from_private(
            &b64url_decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94").unwrap(),
            &b64url_decode("BTBZMqHH6r4Tts7J_aSIgg").unwrap(),
        )
        .unwrap();
        let vapid = VapidKey::from_base64url("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw").unwrap();
        let sender = SecretKey::from_slice(&[0x42; 32]).unwrap();
        let message =
            PushMessage::new(&b"When I grow up, I want to be a watermelon"[..], 86_400, Urgency::Normal);
        let request = message
            .build_request_encrypted_with(&subscription(&receiver), &vapid, &contact(), NOW, |plain, keys| {
                ece::encrypt_with(plain, keys, &sender, &[0x24; 16], 4096)
            })
            .unwrap();
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["TTL", "Urgency", "Content-Encoding", "Content-Type", "Authorization"]);
        assert_eq!(request.header("TTL"), Some("86400"));
        assert_eq!(request.header("Urgency"), Some("normal"));
        let token = request.header("Authorization").unwrap();
        assert_eq!(
            token.split('.').take(2).collect::<Vec<_>>(),
            [
                "vapid t=eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9",
                "eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE3Nzc2NjU2MDAsInN1YiI6Im1haWx0bzpvcHNAZmllbGRzeW5jLmV4YW1wbGUifQ",
            ]
        );
        assert!(token.ends_with(
            ", k=BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        ));
        assert_eq!(&request.body[..16], &[0x24; 16]);
        assert_eq!(&request.body[16..21], &[0, 0, 0x10, 0, 65]);
        assert_eq!(request.body.len(), 86 + 41 + 1 + 16);
        assert_eq!(receiver.decrypt(&request.body).unwrap(), message.payload);
    }

    #[test]
    fn an_oversize_payload_surfaces_as_a_typed_error() {
        let keys = SubscriptionKeys::generate().unwrap();
        let vapid = VapidKey::generate().unwrap();
        let message = PushMessage::new(vec![0u8; ece::MAX_PLAINTEXT_LEN + 1], 60, Urgency::Low);
        let err = message.build_request(&subscription(&keys), &vapid, &contact(), NOW).unwrap_err();
        assert!(matches!(err, PushRequestError::Encryption(EceError::PlaintextTooLarge { .. })), "{err:?}");
    }

    #[test]
    fn urgency_parses_the_four_rfc8030_values_only() {
        for (text, urgency) in [
            ("very-low", Urgency::VeryLow),
            ("low", Urgency::Low),
            ("Normal", Urgency::Normal),
            ("high", Urgency::High),
        ] {
            assert_eq!(text.parse::<Urgency>().unwrap(), urgency);
            assert_eq!(urgency.as_str().parse::<Urgency>().unwrap(), urgency);
        }
        assert_eq!("urgent".parse::<Urgency>().unwrap_err(), PushRequestError::BadUrgency("urgent".into()));
        assert_eq!(Urgency::default(), Urgency::Normal);
    }

    #[test]
    fn topics_follow_rfc8030() {
        assert_eq!(PushTopic::parse("opp-01J9_stage3").unwrap().as_str(), "opp-01J9_stage3");
        assert!(PushTopic::parse(&"a".repeat(32)).is_ok());
        for bad in ["", "has space", "dot.ted", "斜", &"a".repeat(33)] {
            assert!(matches!(PushTopic::parse(bad), Err(PushRequestError::BadTopic { .. })), "{bad:?}");
        }
    }

    #[test]
    fn status_codes_map_to_what_the_sender_should_do() {
        assert_eq!(PushOutcome::from_status(201), PushOutcome::Accepted);
        assert_eq!(PushOutcome::from_status(200), PushOutcome::Accepted);
        assert_eq!(PushOutcome::from_status(404), PushOutcome::SubscriptionGone);
        assert_eq!(PushOutcome::from_status(410), PushOutcome::SubscriptionGone);
        assert_eq!(PushOutcome::from_status(429), PushOutcome::Retryable);
        assert_eq!(PushOutcome::from_status(500), PushOutcome::Retryable);
        assert_eq!(PushOutcome::from_status(503), PushOutcome::Retryable);
        for status in [301, 400, 401, 403, 413] {
            assert_eq!(PushOutcome::from_status(status), PushOutcome::Rejected, "{status}");
        }
    }
}
