//! `fieldsync push …`: Web Push by hand, for operators and tests, with the code the relay will
//! use ([`fieldsync_core::push`]).
//!
//! - `keygen` prints a new VAPID key pair;
//! - `send` encrypts a payload to a subscription, signs the VAPID token and performs the real
//!   HTTP POST, then says what the push service's answer means;
//! - `subscription-keys` makes a phone's subscription keys (what the app does on first start);
//! - `decrypt` opens a received push body with those keys (what the phone does).
//!
//! File formats and exit codes are in `docs/push.md`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use fieldsync_core::clock::{Clock, SystemClock};
use fieldsync_core::push::{
    EndpointSecurity, PushEndpoint, PushMessage, PushOutcome, PushRequest, PushSubscription, PushTopic,
    SubscriptionKeys, Urgency, VapidContact, VapidKey,
};
use serde_json::{Value, json};

/// Subscription and key files are a few hundred bytes; anything this large is not one.
const MAX_JSON_FILE_BYTES: u64 = 64 * 1024;
/// A push body is at most 4096 bytes; read a little more so the core can say it is too large.
const MAX_BODY_FILE_BYTES: u64 = 64 * 1024;
/// How much of a push service's error answer to show.
const MAX_SHOWN_RESPONSE_BYTES: usize = 500;

/// Exit code when the push service said the subscription no longer exists (404/410).
pub const EXIT_SUBSCRIPTION_GONE: u8 = 3;
/// Exit code when sending again later may work (429, 5xx, timeout, unreachable).
pub const EXIT_RETRYABLE: u8 = 4;

/// `fieldsync push` subcommands.
#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Print a new VAPID key pair as JSON.
    ///
    /// Prints {"private_key", "public_key"[, "contact"]}, base64url. Keep the output private: it
    /// is the relay's signing key.
    Keygen {
        /// Contact (JWT `sub`) stored with the key: mailto:you@example.com or an https:// URL.
        #[arg(long)]
        contact: Option<String>,
    },
    /// Encrypt a payload to a subscription and POST it to its push service.
    ///
    /// Prints {"status", "outcome", "retryable", "message", …} as JSON. Exit 0 accepted,
    /// 3 subscription gone (404/410), 4 retryable (429, 5xx, timeout, unreachable), 1 anything
    /// else.
    Send {
        /// The subscription JSON: {"endpoint", "keys": {"p256dh", "auth"}}.
        #[arg(long)]
        subscription: PathBuf,
        /// The VAPID key file (`push keygen` output, or just the base64url private key).
        #[arg(long)]
        vapid_key: PathBuf,
        /// The message (UTF-8 text; at most 3993 bytes).
        #[arg(long)]
        payload: String,
        /// Seconds the push service keeps the message for an unreachable device.
        #[arg(long)]
        ttl: u32,
        /// very-low, low, normal or high.
        #[arg(long, default_value = "normal")]
        urgency: String,
        /// Replaces an undelivered earlier message with the same topic (≤ 32 base64url characters).
        #[arg(long)]
        topic: Option<String>,
        /// Contact (JWT `sub`); defaults to the one stored in the key file.
        #[arg(long, env = "FIELDSYNC_PUSH_CONTACT")]
        contact: Option<String>,
        /// Give up on the push service after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Accept an http:// endpoint on a loopback host (tests only).
        #[arg(long)]
        allow_insecure_loopback: bool,
    },
    /// Make a phone's subscription keys (P-256 key pair + auth secret).
    ///
    /// Prints {"subscription": <the W3C JSON to register>, "keys": <the private keys, for
    /// `push decrypt --keys`>}.
    SubscriptionKeys {
        /// The endpoint the push service or UnifiedPush distributor gave the device.
        #[arg(long)]
        endpoint: String,
        /// Accept an http:// endpoint on a loopback host (tests only).
        #[arg(long)]
        allow_insecure_loopback: bool,
    },
    /// Decrypt a received push body (aes128gcm) with the phone's keys.
    ///
    /// Writes the plaintext to standard output as is.
    Decrypt {
        /// The keys JSON: {"private_key", "auth"[, "p256dh"]}, base64url.
        #[arg(long)]
        keys: PathBuf,
        /// The body exactly as the push service delivered it.
        #[arg(long)]
        body: PathBuf,
    },
}

/// Runs one `fieldsync push` command and returns the process exit code.
pub fn run(command: PushCommand) -> ExitCode {
    let result = match command {
        PushCommand::Keygen { contact } => keygen(contact.as_deref()).map(|v| {
            println!("{v}");
            ExitCode::SUCCESS
        }),
        PushCommand::Send {
            subscription,
            vapid_key,
            payload,
            ttl,
            urgency,
            topic,
            contact,
            timeout,
            allow_insecure_loopback,
        } => {
            let args = SendArgs {
                subscription,
                vapid_key,
                payload: payload.into_bytes(),
                ttl,
                urgency,
                topic,
                contact,
                timeout: Duration::from_secs(timeout),
                security: security(allow_insecure_loopback),
            };
            send(&args).map(|report| {
                println!("{}", report.json);
                if report.exit != 0 {
                    eprintln!("fieldsync: {}", report.json["message"].as_str().unwrap_or("push failed"));
                }
                ExitCode::from(report.exit)
            })
        }
        PushCommand::SubscriptionKeys { endpoint, allow_insecure_loopback } => {
            subscription_keys(&endpoint, security(allow_insecure_loopback)).map(|v| {
                println!("{v}");
                ExitCode::SUCCESS
            })
        }
        PushCommand::Decrypt { keys, body } => decrypt(&keys, &body).and_then(|plaintext| {
            let mut out = std::io::stdout().lock();
            out.write_all(&plaintext).and_then(|()| out.flush()).context("cannot write the plaintext")?;
            Ok(ExitCode::SUCCESS)
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("fieldsync: {e:#}");
        ExitCode::FAILURE
    })
}

fn security(allow_insecure_loopback: bool) -> EndpointSecurity {
    if allow_insecure_loopback {
        EndpointSecurity::AllowInsecureLoopback
    } else {
        EndpointSecurity::HttpsOnly
    }
}

/// A new VAPID key pair (and the contact, checked, when given) as JSON.
pub fn keygen(contact: Option<&str>) -> Result<Value> {
    let contact = contact.map(VapidContact::parse).transpose()?;
    let key = VapidKey::generate()?;
    let mut out = json!({ "private_key": key.to_base64url(), "public_key": key.public_key_base64url() });
    if let Some(contact) = contact {
        out["contact"] = json!(contact.as_str());
    }
    Ok(out)
}

/// The VAPID key and stored contact read from a key file.
fn read_vapid_key(path: &Path) -> Result<(VapidKey, Option<String>)> {
    let text = read_text(path, MAX_JSON_FILE_BYTES)?;
    let text = text.trim();
    if !text.starts_with('{') {
        let key = VapidKey::from_base64url(text).with_context(|| path.display().to_string())?;
        return Ok((key, None));
    }
    let file: Value =
        serde_json::from_str(text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let private = file["private_key"].as_str().ok_or_else(|| {
        anyhow!("{} has no \"private_key\" (make one with `fieldsync push keygen`)", path.display())
    })?;
    let key = VapidKey::from_base64url(private).with_context(|| path.display().to_string())?;
    if let Some(public) = file["public_key"].as_str()
        && public != key.public_key_base64url()
    {
        bail!("{}: public_key does not belong to private_key; the key file is corrupt", path.display());
    }
    Ok((key, file["contact"].as_str().map(str::to_owned)))
}

/// What `push send` was asked to do.
#[derive(Debug, Clone)]
pub struct SendArgs {
    /// Subscription JSON file.
    pub subscription: PathBuf,
    /// VAPID key file.
    pub vapid_key: PathBuf,
    /// Plaintext payload.
    pub payload: Vec<u8>,
    /// TTL in seconds.
    pub ttl: u32,
    /// Urgency name.
    pub urgency: String,
    /// Optional topic.
    pub topic: Option<String>,
    /// Contact overriding the key file's.
    pub contact: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Whether http:// loopback endpoints are allowed.
    pub security: EndpointSecurity,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SendReport {
    /// `{"endpoint", "status", "outcome", "retryable", "message", …}`.
    pub json: Value,
    /// The process exit code.
    pub exit: u8,
}

/// Builds the request and POSTs it. `Err` means nothing was sent (bad files or arguments); every
/// attempt, failed or not, is an `Ok` report.
pub fn send(args: &SendArgs) -> Result<SendReport> {
    let subscription_text = read_text(&args.subscription, MAX_JSON_FILE_BYTES)?;
    let subscription = PushSubscription::from_json(&subscription_text, args.security)
        .with_context(|| args.subscription.display().to_string())?;
    let (vapid, stored_contact) = read_vapid_key(&args.vapid_key)?;
    let contact = args.contact.clone().or(stored_contact).ok_or_else(|| {
        anyhow!(
            "VAPID needs a contact: pass --contact mailto:you@example.com (or set FIELDSYNC_PUSH_CONTACT, \
             or make the key with `push keygen --contact …`)"
        )
    })?;
    let contact = VapidContact::parse(&contact)?;
    let urgency: Urgency = args.urgency.parse()?;
    let mut message = PushMessage::new(args.payload.clone(), args.ttl, urgency);
    if let Some(topic) = &args.topic {
        message = message.with_topic(PushTopic::parse(topic)?);
    }
    let request = message.build_request(&subscription, &vapid, &contact, SystemClock.now_ms())?;

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = http_client(args.timeout)?;
    let answer = runtime.block_on(post(&client, &request));
    Ok(report(subscription.endpoint(), answer, args.timeout))
}

/// The push service's answer, or why there was none.
enum Answer {
    Status { status: u16, retry_after: Option<String>, location: Option<String>, body: String },
    TimedOut,
    Unreachable(String),
}

async fn post(client: &reqwest::Client, request: &PushRequest) -> Answer {
    let mut builder = client.post(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() { Answer::TimedOut } else { Answer::Unreachable(format!("{e:#}")) }
    };
    let response = match builder.body(request.body.clone()).send().await {
        Ok(response) => response,
        Err(e) => return failed(e),
    };
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = response.status().as_u16();
    let retry_after = header("retry-after");
    let location = header("location");
    let body = match response.bytes().await {
        Ok(bytes) => {
            String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_SHOWN_RESPONSE_BYTES)]).into_owned()
        }
        Err(e) if e.is_timeout() => return Answer::TimedOut,
        // The status is what counts; a body cut off after it is not worth failing over.
        Err(_) => String::new(),
    };
    Answer::Status { status, retry_after, location, body }
}

fn report(endpoint: &PushEndpoint, answer: Answer, timeout: Duration) -> SendReport {
    let origin = endpoint.origin();
    match answer {
        Answer::Status { status, retry_after, location, body } => {
            let outcome = PushOutcome::from_status(status);
            let (message, exit) = match outcome {
                PushOutcome::Accepted => (format!("{origin} accepted the message ({status})"), 0),
                PushOutcome::SubscriptionGone => (
                    format!(
                        "subscription gone: {origin} answered {status}; delete this subscription and do not send to it again"
                    ),
                    EXIT_SUBSCRIPTION_GONE,
                ),
                PushOutcome::Retryable => (
                    format!(
                        "{origin} answered {status}; retryable: send again later{}",
                        retry_after.as_deref().map(|r| format!(" (Retry-After: {r})")).unwrap_or_default()
                    ),
                    EXIT_RETRYABLE,
                ),
                PushOutcome::Rejected => (
                    format!(
                        "{origin} rejected the message ({status}); sending it again will not help: {}",
                        body.trim()
                    ),
                    1,
                ),
            };
            let mut json = json!({
                "endpoint": origin,
                "status": status,
                "outcome": outcome.as_str(),
                "retryable": outcome == PushOutcome::Retryable,
                "message": message,
            });
            if let Some(retry_after) = retry_after {
                json["retry_after"] = json!(retry_after);
            }
            if let Some(location) = location {
                json["location"] = json!(location);
            }
            SendReport { json, exit }
        }
        Answer::TimedOut => SendReport {
            json: json!({
                "endpoint": origin,
                "status": null,
                "outcome": "timeout",
                "retryable": true,
                "message": format!("timeout: {origin} did not answer within {} s; retryable", timeout.as_secs()),
            }),
            exit: EXIT_RETRYABLE,
        },
        Answer::Unreachable(why) => SendReport {
            json: json!({
                "endpoint": origin,
                "status": null,
                "outcome": "unreachable",
                "retryable": true,
                "message": format!("cannot reach {origin}: {why}; retryable"),
            }),
            exit: EXIT_RETRYABLE,
        },
    }
}

/// The relay deliverer's HTTP client (rustls, no redirects, the timeout per request).
fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    crate::delivery::http_client(timeout).map_err(|e| anyhow!(e))
}

/// New phone keys and the subscription to register for `endpoint`.
pub fn subscription_keys(endpoint: &str, security: EndpointSecurity) -> Result<Value> {
    let endpoint = PushEndpoint::parse(endpoint, security)?;
    let keys = SubscriptionKeys::generate()?;
    let subscription: Value = serde_json::from_str(&keys.subscription(endpoint).to_json())?;
    let private: Value = serde_json::from_str(&keys.to_json())?;
    Ok(json!({ "subscription": subscription, "keys": private }))
}

/// Decrypts the body in `body` with the keys in `keys`.
pub fn decrypt(keys: &Path, body: &Path) -> Result<Vec<u8>> {
    let keys = SubscriptionKeys::from_json(&read_text(keys, MAX_JSON_FILE_BYTES)?)
        .with_context(|| keys.display().to_string())?;
    let bytes = read_limited(body, MAX_BODY_FILE_BYTES)?;
    keys.decrypt(&bytes).with_context(|| body.display().to_string())
}

fn read_text(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_limited(path, limit)?).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))
}

/// Reads a file, refusing one larger than `limit`.
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_output_is_a_usable_key_file() {
        let out = keygen(Some("mailto:ops@fieldsync.example")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.json");
        std::fs::write(&path, out.to_string()).unwrap();
        let (key, contact) = read_vapid_key(&path).unwrap();
        assert_eq!(key.public_key_base64url(), out["public_key"].as_str().unwrap());
        assert_eq!(contact.as_deref(), Some("mailto:ops@fieldsync.example"));

        std::fs::write(&path, format!("{}\n", out["private_key"].as_str().unwrap())).unwrap();
        assert_eq!(read_vapid_key(&path).unwrap().0.public_key(), key.public_key());
    }

    #[test]
    fn a_key_file_whose_halves_differ_is_refused() {
        let a = keygen(None).unwrap();
        let b = keygen(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.json");
        let mixed = json!({ "private_key": a["private_key"], "public_key": b["public_key"] });
        std::fs::write(&path, mixed.to_string()).unwrap();
        let err = read_vapid_key(&path).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt"), "{err:#}");
        assert!(keygen(Some("ops@example.com")).is_err());
    }

    #[test]
    fn subscription_keys_decrypt_what_is_sent_to_their_subscription() {
        let out = subscription_keys("https://push.example.net/up/1", EndpointSecurity::HttpsOnly).unwrap();
        let subscription =
            PushSubscription::from_json(&out["subscription"].to_string(), EndpointSecurity::HttpsOnly)
                .unwrap();
        let vapid = VapidKey::generate().unwrap();
        let contact = VapidContact::parse("mailto:ops@fieldsync.example").unwrap();
        let request = PushMessage::new(&b"deal stalled"[..], 60, Urgency::High)
            .build_request(&subscription, &vapid, &contact, 0)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keys.json"), out["keys"].to_string()).unwrap();
        std::fs::write(dir.path().join("body"), &request.body).unwrap();
        let plaintext = decrypt(&dir.path().join("keys.json"), &dir.path().join("body")).unwrap();
        assert_eq!(plaintext, b"deal stalled");
    }

    #[test]
    fn sending_to_a_plain_http_endpoint_is_refused_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let out =
            subscription_keys("http://127.0.0.1:9/push", EndpointSecurity::AllowInsecureLoopback).unwrap();
        std::fs::write(dir.path().join("sub.json"), out["subscription"].to_string()).unwrap();
        std::fs::write(
            dir.path().join("vapid.json"),
            keygen(Some("mailto:a@b.example")).unwrap().to_string(),
        )
        .unwrap();
        let args = SendArgs {
            subscription: dir.path().join("sub.json"),
            vapid_key: dir.path().join("vapid.json"),
            payload: b"x".to_vec(),
            ttl: 60,
            urgency: "normal".into(),
            topic: None,
            contact: None,
            timeout: Duration::from_secs(1),
            security: EndpointSecurity::HttpsOnly,
        };
        let err = send(&args).unwrap_err();
        assert!(format!("{err:#}").contains("https://"), "{err:#}");
        let err = send(&SendArgs {
            urgency: "asap".into(),
            security: EndpointSecurity::AllowInsecureLoopback,
            ..args
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("very-low, low, normal, high"), "{err:#}");
    }
}
