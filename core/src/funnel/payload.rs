//! What an alert looks like inside a push message: compact JSON, versioned, small enough for the
//! 4 KB a Web Push message may carry after encryption (RFC 8291 leaves 3,993 bytes of plaintext
//! in one record). The phone decrypts the message with its subscription keys and reads a typed
//! [`Alert`] back ([`decode_push`]).

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::{DeviceId, DocId};
use crate::model::{Alert, Provenance, Record, Stage, StallKind, StallLevel};
use crate::push::{EceError, SubscriptionKeys};

/// The payload format version this build writes and reads.
pub const PAYLOAD_VERSION: u32 = 1;

/// The most plaintext one aes128gcm record of a 4,096-byte push message holds.
pub const MAX_PAYLOAD_BYTES: usize = crate::push::MAX_PLAINTEXT_LEN;

/// Why bytes are not an alert.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The push message could not be decrypted with this device's keys.
    #[error("the push message could not be decrypted: {0}")]
    Decrypt(#[from] EceError),
    /// Larger than any push message can be.
    #[error("the payload is {0} bytes; a push message carries at most {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    /// Not the JSON shape of an alert payload.
    #[error("not an alert payload: {0}")]
    Malformed(String),
    /// Written by a newer relay.
    #[error("alert payload version {found}; this app reads version {PAYLOAD_VERSION}")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// A field holds a value no alert has.
    #[error("alert payload field {field}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    id: String,
    key: String,
    opportunity_id: String,
    customer_id: String,
    title: String,
    owner: String,
    stage: String,
    level: String,
    kinds: Vec<String>,
    stage_entered_at: UnixMillis,
    last_activity_at: UnixMillis,
    due_at: UnixMillis,
    threshold_days: u32,
    rep_last_sync_at: Option<UnixMillis>,
    raised_at: UnixMillis,
    by: String,
}

/// The payload bytes for `alert`.
pub fn encode(alert: &Alert) -> Vec<u8> {
    let wire = Wire {
        v: PAYLOAD_VERSION,
        id: alert.id.to_string(),
        key: alert.key.clone(),
        opportunity_id: alert.opportunity_id.to_string(),
        customer_id: alert.customer_id.to_string(),
        title: alert.opportunity_title.clone(),
        owner: alert.owner.clone(),
        stage: alert.stage.as_str().to_owned(),
        level: alert.level.as_str().to_owned(),
        kinds: alert.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        stage_entered_at: alert.stage_entered_at,
        last_activity_at: alert.last_activity_at,
        due_at: alert.due_at,
        threshold_days: alert.threshold_days,
        rep_last_sync_at: alert.rep_last_sync_at,
        raised_at: alert.raised_at,
        by: alert.provenance.created_by.to_string(),
    };
    // Serialising plain strings and integers cannot fail.
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// Reads an alert from payload bytes, checking every field.
pub fn decode(bytes: &[u8]) -> Result<Alert, PayloadError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(bytes.len()));
    }
    let version: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    match version.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PAYLOAD_VERSION) => {}
        Some(v) => {
            return Err(PayloadError::UnsupportedVersion { found: u32::try_from(v).unwrap_or(u32::MAX) });
        }
        None => return Err(PayloadError::Malformed("no version field \"v\"".into())),
    }
    let wire: Wire = serde_json::from_value(version).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let field = |field: &'static str, problem: String| PayloadError::Field { field, problem };
    let doc_id = |name: &'static str, text: &str| -> Result<DocId, PayloadError> {
        text.parse().map_err(|e: crate::ids::IdError| field(name, e.to_string()))
    };
    let kinds = wire
        .kinds
        .iter()
        .map(|k| StallKind::parse(k).ok_or_else(|| field("kinds", format!("unknown rule \"{k}\""))))
        .collect::<Result<Vec<_>, _>>()?;
    let alert = Alert {
        id: doc_id("id", &wire.id)?,
        key: wire.key,
        opportunity_id: doc_id("opportunity_id", &wire.opportunity_id)?,
        customer_id: doc_id("customer_id", &wire.customer_id)?,
        opportunity_title: wire.title,
        owner: wire.owner,
        stage: Stage::parse(&wire.stage)
            .ok_or_else(|| field("stage", format!("unknown stage \"{}\"", wire.stage)))?,
        level: StallLevel::parse(&wire.level)
            .ok_or_else(|| field("level", format!("unknown level \"{}\"", wire.level)))?,
        kinds,
        stage_entered_at: wire.stage_entered_at,
        last_activity_at: wire.last_activity_at,
        due_at: wire.due_at,
        threshold_days: wire.threshold_days,
        rep_last_sync_at: wire.rep_last_sync_at,
        raised_at: wire.raised_at,
        provenance: Provenance {
            created_at: wire.raised_at,
            created_by: wire.by.parse::<DeviceId>().map_err(|e| field("by", e.to_string()))?,
        },
    };
    alert.validate().map_err(|e| field(e.field, e.problem))?;
    if alert.id != super::alert_id(&alert.key) {
        return Err(field("id", "does not belong to the alert's key".into()));
    }
    Ok(alert)
}

/// Decrypts a received Web Push message body (RFC 8291 aes128gcm) with this device's
/// subscription keys and reads the alert in it.
pub fn decode_push(keys: &SubscriptionKeys, body: &[u8]) -> Result<Alert, PayloadError> {
    let plaintext = keys.decrypt(body)?;
    decode(&plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{EndpointSecurity, PushEndpoint, encrypt};

    fn alert() -> Alert {
        let opportunity_id = DocId::generate();
        let key = format!("{opportunity_id}/ProposalSubmitted/1000/no_activity/supervisor/1000");
        Alert {
            id: super::super::alert_id(&key),
            key,
            opportunity_id,
            customer_id: DocId::generate(),
            opportunity_title: "苏州精工 注塑机二期".into(),
            owner: "李娜".into(),
            stage: Stage::ProposalSubmitted,
            level: StallLevel::Supervisor,
            kinds: vec![StallKind::NoActivity, StallKind::StageTooLong],
            stage_entered_at: 1000,
            last_activity_at: 1000,
            due_at: 1000 + 8 * super::super::DAY_MS,
            threshold_days: 8,
            rep_last_sync_at: Some(5000),
            raised_at: 1000 + 9 * super::super::DAY_MS,
            provenance: Provenance {
                created_at: 1000 + 9 * super::super::DAY_MS,
                created_by: DeviceId::from_bytes([9; 16]),
            },
        }
    }

    #[test]
    fn an_alert_survives_encoding_and_push_encryption() {
        let alert = alert();
        let bytes = encode(&alert);
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), alert);

        let keys = SubscriptionKeys::generate().unwrap();
        let endpoint =
            PushEndpoint::parse("https://push.example.net/x", EndpointSecurity::HttpsOnly).unwrap();
        let subscription = keys.subscription(endpoint);
        let body = encrypt(&bytes, subscription.keys()).unwrap();
        assert_eq!(decode_push(&keys, &body).unwrap(), alert);
        let other = SubscriptionKeys::generate().unwrap();
        assert!(matches!(decode_push(&other, &body), Err(PayloadError::Decrypt(_))));
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let good = String::from_utf8(encode(&alert())).unwrap();
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "not an alert payload"),
            (good.replace("\"v\":1", "\"v\":2"), "version 2"),
            (good.replace("\"v\":1,", ""), "no version"),
            (good.replace("ProposalSubmitted\",\"level", "Dreaming\",\"level"), "unknown stage"),
            (good.replace("\"supervisor\"", "\"reminder\""), "reminders stay"),
            (good.replace("/supervisor/1000", "/escalation/1000"), "does not belong"),
            (good.replace("\"kinds\":[\"no_activity\",\"stage_too_long\"]", "\"kinds\":[]"), "at least one"),
            (good.replace("\"threshold_days\":8", "\"threshold_days\":-8"), "not an alert payload"),
            (format!("{:width$}", good, width = MAX_PAYLOAD_BYTES + 1), "at most"),
        ];
        for (text, expected) in cases {
            let err = decode(text.as_bytes()).expect_err(expected).to_string();
            assert!(err.contains(expected), "{expected}: got {err}");
        }
    }
}
