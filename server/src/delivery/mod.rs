//! Delivering alerts to supervisors' devices (DESIGN §6, issue 6 item 5; docs/push.md).
//!
//! The stall scheduler writes rows into `alerts` and calls [`Deliverer::notify`]. The
//! [`Deliverer`], a Tokio task owned by the relay's state, then
//! 1. **fans out** each alert not fanned out yet: one pending delivery per active subscription of
//!    the alert's recipients (level `supervisor`: the team's supervisors; `escalation`: its
//!    supervisors and admins), `fanned_out_at` set in the same transaction, and the alert handed
//!    to the open live streams ([`stream`]);
//! 2. **sends** due deliveries through their provider ([`webpush`], [`fcm`], [`apns`], one
//!    [`PushProvider`] trait), at most `concurrency` at once, each with its own timeout, so a
//!    hanging push service holds one slot, never the others;
//! 3. **records** each attempt (the delivery log) and its consequence: delivered (never sent
//!    again), retry later with exponential backoff and jitter (5xx, 429 with `Retry-After`,
//!    timeouts, connection errors), subscription removed (404/410), or given up.
//!
//! Every step is a row in SQLite first, so a restart resumes where the relay stopped: a claimed
//! delivery is leased, not taken, and comes back after the lease if the relay died mid-request.

pub mod apns;
pub mod fcm;
pub mod routes;
pub mod stream;
pub mod webpush;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_core::push::PushOutcome;
use fieldsync_core::{Clock as _, SystemClock};
use serde::Deserialize;
use tokio::sync::{Notify, Semaphore, broadcast, watch};
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::storage::RelayStorage;
use crate::storage::push::{
    AlertLevel, ClaimedDelivery, DeliveryAttempt, DeliveryNext, Id16, ProviderKind, PushSubscriptionRow,
};

/// Alerts fanned out per transaction.
const FAN_OUT_BATCH: u32 = 200;
/// How much of a push service's error answer goes into the log.
const MAX_LOGGED_ANSWER: usize = 300;
/// A claimed delivery is leased for the request timeout plus this margin.
const LEASE_MARGIN_MS: i64 = 30_000;

/// The `[push]` table of the relay configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// VAPID contact (JWT `sub`): `mailto:…` or `https://…`; push services use it to reach the
    /// operator.
    pub contact: String,
    /// The VAPID key file (`fieldsync push keygen` output). Default `<data_dir>/vapid.json`,
    /// generated on first start when missing.
    pub vapid_key_file: Option<PathBuf>,
    /// Seconds a push service keeps an undelivered message (`TTL`); also how long the relay
    /// keeps retrying a delivery.
    pub ttl_secs: u32,
    /// Per-request timeout, seconds: a push service that does not answer in time is retried.
    pub request_timeout_secs: u64,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Attempts per delivery before giving up.
    pub max_attempts: u32,
    /// First retry delay, milliseconds; doubles per attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay (also caps `Retry-After`), milliseconds.
    pub backoff_max_ms: u64,
    /// The deliverer looks for work at least this often even when nobody wakes it, seconds.
    pub poll_interval_secs: u64,
    /// Accept `http://` endpoints on loopback hosts. Tests only: real push services are https.
    pub allow_insecure_loopback: bool,
    /// Seconds between keep-alive comments on `/v1/alerts/stream`.
    pub stream_keepalive_secs: u64,
    /// Firebase Cloud Messaging (HTTP v1), when configured.
    pub fcm: Option<fcm::FcmConfig>,
    /// Apple Push Notification service, when configured.
    pub apns: Option<apns::ApnsConfig>,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            contact: "mailto:push-operator@fieldsync.invalid".into(),
            vapid_key_file: None,
            ttl_secs: 24 * 3600,
            request_timeout_secs: 10,
            concurrency: 32,
            max_attempts: 8,
            backoff_base_ms: 5_000,
            backoff_max_ms: 3_600_000,
            poll_interval_secs: 30,
            allow_insecure_loopback: false,
            stream_keepalive_secs: 15,
            fcm: None,
            apns: None,
        }
    }
}

impl PushConfig {
    /// Checks the values; the error says which and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        fieldsync_core::push::VapidContact::parse(&self.contact).map_err(|e| format!("push.contact: {e}"))?;
        let range = |name: &str, value: u64, low: u64, high: u64| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("push.{name} is {value}; it must be between {low} and {high}"))
            }
        };
        range("ttl_secs", u64::from(self.ttl_secs), 0, 28 * 24 * 3600)?;
        range("request_timeout_secs", self.request_timeout_secs, 1, 300)?;
        range("concurrency", self.concurrency as u64, 1, 1024)?;
        range("max_attempts", u64::from(self.max_attempts), 1, 100)?;
        range("backoff_base_ms", self.backoff_base_ms, 1, 3_600_000)?;
        range("backoff_max_ms", self.backoff_max_ms, self.backoff_base_ms, 24 * 3_600_000)?;
        range("poll_interval_secs", self.poll_interval_secs, 1, 3600)?;
        range("stream_keepalive_secs", self.stream_keepalive_secs, 1, 3600)?;
        Ok(())
    }

    /// Whether `http://` loopback endpoints are accepted.
    pub fn endpoint_security(&self) -> fieldsync_core::push::EndpointSecurity {
        if self.allow_insecure_loopback {
            fieldsync_core::push::EndpointSecurity::AllowInsecureLoopback
        } else {
            fieldsync_core::push::EndpointSecurity::HttpsOnly
        }
    }
}

/// Why delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A key or credentials file is missing, unreadable or malformed.
    #[error("{0}")]
    Credentials(String),
    /// No Tokio runtime to run the deliverer on.
    #[error("the deliverer must be started inside a Tokio runtime")]
    NoRuntime,
}

/// Why a provider could not build a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Sending this message to this subscription can never work (bad stored keys, payload too
    /// large for the provider).
    #[error("{0}")]
    Permanent(String),
    /// It may work later (the OAuth token exchange failed).
    #[error("{0}")]
    Transient(String),
}

/// What the providers are asked to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMessage {
    /// The alert.
    pub alert_id: Id16,
    /// Its level: escalations are sent with high urgency / priority.
    pub level: AlertLevel,
    /// The alert payload (compact JSON, `fieldsync_core::funnel::payload`).
    pub payload: Vec<u8>,
    /// Seconds the push service keeps the message.
    pub ttl_secs: u32,
    /// Collapse key: a newer message with the same one replaces an undelivered older one (the
    /// deal's id in hex, 32 characters).
    pub topic: String,
    /// Relay time, unix ms.
    pub now_ms: i64,
}

/// One HTTP request a provider built, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// Absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Must go over HTTP/2 (APNs accepts nothing else).
    pub http2: bool,
}

impl HttpCall {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A boxed future, for the provider trait (which is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A push service: turns an alert and a subscription into an HTTP request, and says what its
/// answers mean.
pub trait PushProvider: Send + Sync + fmt::Debug {
    /// Which subscriptions it serves.
    fn kind(&self) -> ProviderKind;
    /// The request delivering `message` to `subscription`.
    fn build<'a>(
        &'a self,
        subscription: &'a PushSubscriptionRow,
        message: &'a AlertMessage,
    ) -> BoxFuture<'a, Result<HttpCall, ProviderError>>;
    /// What an answer means; the default is RFC 8030's (2xx taken, 404/410 gone, 429/5xx retry).
    fn classify(&self, status: u16, _body: &str) -> PushOutcome {
        PushOutcome::from_status(status)
    }
}

/// An HTTP client for push services: rustls (ring, Mozilla's roots; no OpenSSL), HTTP/2 by ALPN,
/// no redirects (a push service that redirects is misconfigured, and the VAPID token is for the
/// endpoint's origin only), `timeout` per request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    let mut tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_root_certificates(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
            .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .map_err(|e| format!("HTTP client setup failed: {e}"))
}

/// The delay before attempt `attempt + 1` after attempt `attempt` (from 1) failed in a way worth
/// retrying: `base · 2^(attempt−1)`, capped at `max`, of which a random half ("equal jitter", so
/// a burst of failures does not come back as a burst); at least `retry_after` when the push
/// service asked for it, capped at `max` too. `unit` is a random number in [0, 1).
pub fn retry_delay(
    attempt: u32,
    base_ms: u64,
    max_ms: u64,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let exponential = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(40)).min(max_ms);
    let jittered = exponential / 2 + ((exponential / 2) as f64 * unit.clamp(0.0, 1.0)) as u64;
    let asked = retry_after.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(max_ms));
    Duration::from_millis(jittered.max(asked))
}

/// `Retry-After` in seconds (RFC 9110 §10.2.3). The HTTP-date form is not read: the backoff
/// applies instead.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The DER inside a PEM block labelled `label` (`-----BEGIN {label}-----`).
pub(crate) fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(|| format!("no {begin} line"))? + begin.len();
    let stop = pem[start..].find(&end).ok_or_else(|| format!("no {end} line"))? + start;
    let text: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| format!("the {label} block is not base64"))
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// An alert as the live stream sends it.
#[derive(Debug, Clone)]
pub struct StreamAlert {
    /// The alert.
    pub alert_id: Id16,
    /// Its team.
    pub team_id: String,
    /// Who may see it.
    pub level: AlertLevel,
    /// The payload.
    pub payload: Arc<[u8]>,
}

/// Signals between the handle, the task and the streams.
#[derive(Debug)]
struct Signals {
    /// Shared with the stall scheduler (`AppState::alerts_raised`), which wakes its waiters
    /// after raising alerts.
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    alerts: broadcast::Sender<StreamAlert>,
}

/// The running deliverer. Cheap to clone; the task stops when [`Deliverer::close`] is called or
/// the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Deliverer {
    owner: Arc<Owner>,
}

#[derive(Debug)]
struct Owner {
    signals: Arc<Signals>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    vapid_public_key: String,
    providers: Vec<ProviderKind>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.signals.stop.send_replace(true);
        self.signals.wake.notify_one();
    }
}

impl Deliverer {
    /// Loads the VAPID key (generating it on first start when the configuration names no file)
    /// and the configured providers, and starts the task on the current Tokio runtime. `wake`
    /// is the scheduler's "alerts raised" signal: `notify_one` or `notify_waiters` on it wakes
    /// the deliverer as [`notify`](Self::notify) does.
    pub fn start(
        storage: Arc<dyn RelayStorage>,
        config: &PushConfig,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Result<Self, DeliveryError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DeliveryError::NoRuntime)?;
        let timeout = Duration::from_secs(config.request_timeout_secs);
        let client = http_client(timeout).map_err(DeliveryError::Credentials)?;
        let web = webpush::WebPushProvider::load(config, data_dir)?;
        let vapid_public_key = web.public_key_base64url();
        let mut providers: HashMap<ProviderKind, Arc<dyn PushProvider>> = HashMap::new();
        providers.insert(ProviderKind::WebPush, Arc::new(web));
        if let Some(fcm) = &config.fcm {
            providers.insert(ProviderKind::Fcm, Arc::new(fcm::FcmProvider::load(fcm, client.clone())?));
        }
        if let Some(apns) = &config.apns {
            providers.insert(ProviderKind::Apns, Arc::new(apns::ApnsProvider::load(apns)?));
        }
        let (stop, _) = watch::channel(false);
        let (alerts, _) = broadcast::channel(1024);
        let signals = Arc::new(Signals { wake, stop, alerts });
        let mut kinds: Vec<ProviderKind> = providers.keys().copied().collect();
        kinds.sort_by_key(|k| k.as_str());
        let worker = Worker {
            storage,
            providers,
            client,
            config: config.clone(),
            metrics,
            signals: signals.clone(),
            slots: Arc::new(Semaphore::new(config.concurrency)),
        };
        let task = runtime.spawn(worker.run());
        Ok(Deliverer {
            owner: Arc::new(Owner {
                signals,
                task: Mutex::new(Some(task)),
                vapid_public_key,
                providers: kinds,
            }),
        })
    }

    /// Wakes the deliverer: call after raising alerts, so they go out now rather than at the
    /// next poll.
    pub fn notify(&self) {
        self.owner.signals.wake.notify_one();
    }

    /// Alerts as they are fanned out, for the live stream.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamAlert> {
        self.owner.signals.alerts.subscribe()
    }

    /// Turns true when the deliverer stops (live streams end then).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.owner.signals.stop.subscribe()
    }

    /// The VAPID public key (base64url): the apps' `applicationServerKey`.
    pub fn vapid_public_key(&self) -> &str {
        &self.owner.vapid_public_key
    }

    /// The providers this relay delivers through.
    pub fn providers(&self) -> &[ProviderKind] {
        &self.owner.providers
    }

    /// Stops the task: no new attempts start, attempts in flight finish (each within the request
    /// timeout) and are recorded, live streams end.
    pub async fn close(&self) {
        self.owner.signals.stop.send_replace(true);
        self.owner.signals.wake.notify_one();
        let task = self.owner.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// What the task owns.
struct Worker {
    storage: Arc<dyn RelayStorage>,
    providers: HashMap<ProviderKind, Arc<dyn PushProvider>>,
    client: reqwest::Client,
    config: PushConfig,
    metrics: Arc<Metrics>,
    signals: Arc<Signals>,
    slots: Arc<Semaphore>,
}

impl Worker {
    async fn run(self) {
        let mut in_flight: JoinSet<DeliveryAttempt> = JoinSet::new();
        let mut stop = self.signals.stop.subscribe();
        let poll = Duration::from_secs(self.config.poll_interval_secs);
        let mut fan_out_due = true;
        loop {
            if *stop.borrow() {
                break;
            }
            // Registered before the work below, so a `notify_waiters` while it runs is not lost.
            let woken = self.signals.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if fan_out_due {
                fan_out_due = self.fan_out().await;
            }
            let mut finished = Vec::new();
            while let Some(done) = in_flight.try_join_next() {
                finished.extend(done.ok());
            }
            self.record(finished).await;
            let wait = self.start_due(&mut in_flight).await.min(poll);
            tokio::select! {
                () = woken => fan_out_due = true,
                () = tokio::time::sleep(wait) => fan_out_due |= wait == poll,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    self.record(done.ok().into_iter().collect()).await;
                }
                _ = stop.changed() => {}
            }
        }
        // Let the attempts in flight finish (each bounded by the request timeout) and record them.
        let mut finished = Vec::new();
        while let Some(done) = in_flight.join_next().await {
            finished.extend(done.ok());
        }
        self.record(finished).await;
    }

    /// Fans out waiting alerts; `true` when more may be waiting.
    async fn fan_out(&self) -> bool {
        let storage = self.storage.clone();
        let now = SystemClock.now_ms();
        match tokio::task::spawn_blocking(move || storage.fan_out_alerts(now, FAN_OUT_BATCH)).await {
            Ok(Ok(alerts)) => {
                let more = alerts.len() as u32 == FAN_OUT_BATCH;
                for alert in alerts {
                    self.metrics.record_fan_out(u64::from(alert.deliveries));
                    tracing::info!(
                        alert = %hex::encode(alert.alert_id),
                        team = %alert.team_id,
                        deliveries = alert.deliveries,
                        "alert fanned out"
                    );
                    // No open stream is not an error.
                    let _ = self.signals.alerts.send(StreamAlert {
                        alert_id: alert.alert_id,
                        team_id: alert.team_id,
                        level: alert.level,
                        payload: alert.payload.into(),
                    });
                }
                more
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not fan out alerts; will try again");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "fan-out task failed");
                false
            }
        }
    }

    /// Claims as many due deliveries as there are free slots and starts them; returns how long
    /// to wait before looking again.
    async fn start_due(&self, in_flight: &mut JoinSet<DeliveryAttempt>) -> Duration {
        let idle = Duration::from_secs(self.config.poll_interval_secs);
        let free = self.slots.available_permits();
        let storage = self.storage.clone();
        let now = SystemClock.now_ms();
        let lease_until = now + self.config.request_timeout_secs as i64 * 1000 + LEASE_MARGIN_MS;
        if free > 0 {
            let limit = free.min(1024) as u32;
            let claimed =
                tokio::task::spawn_blocking(move || storage.claim_due_deliveries(now, lease_until, limit))
                    .await;
            match claimed {
                Ok(Ok(claimed)) => {
                    for delivery in claimed {
                        let Ok(permit) = self.slots.clone().try_acquire_owned() else { break };
                        let attempt = Attempt {
                            provider: self.providers.get(&delivery.subscription.provider).cloned(),
                            client: self.client.clone(),
                            config: self.config.clone(),
                            delivery,
                        };
                        in_flight.spawn(async move {
                            let record = attempt.perform().await;
                            drop(permit);
                            record
                        });
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not claim deliveries; will try again");
                    return Duration::from_secs(1);
                }
                Err(e) => {
                    tracing::error!(error = %e, "claim task failed");
                    return Duration::from_secs(1);
                }
            }
        }
        if self.slots.available_permits() == 0 {
            // Woken when an attempt finishes.
            return idle;
        }
        let storage = self.storage.clone();
        match tokio::task::spawn_blocking(move || storage.next_delivery_due()).await {
            Ok(Ok(Some(at))) => {
                Duration::from_millis(u64::try_from(at - SystemClock.now_ms()).unwrap_or(0).max(1))
            }
            Ok(Ok(None)) => idle,
            _ => Duration::from_secs(1),
        }
    }

    /// Records finished attempts in one transaction.
    async fn record(&self, attempts: Vec<DeliveryAttempt>) {
        if attempts.is_empty() {
            return;
        }
        for a in &attempts {
            self.metrics.record_push_attempt(a.provider.as_str(), a.outcome);
        }
        let storage = self.storage.clone();
        match tokio::task::spawn_blocking(move || storage.record_delivery_attempts(&attempts)).await {
            Ok(Ok(())) => {}
            // The leases bring the deliveries back: they are attempted again, not lost.
            Ok(Err(e)) => tracing::error!(error = %e, "could not record delivery attempts"),
            Err(e) => tracing::error!(error = %e, "recording task failed"),
        }
    }
}

/// One delivery attempt, performed off the deliverer's loop.
struct Attempt {
    provider: Option<Arc<dyn PushProvider>>,
    client: reqwest::Client,
    config: PushConfig,
    delivery: ClaimedDelivery,
}

/// The push service's answer, or why there was none.
enum Answer {
    Status { status: u16, retry_after: Option<Duration>, body: String },
    TimedOut,
    Unreachable(String),
}

impl Attempt {
    async fn perform(self) -> DeliveryAttempt {
        let d = &self.delivery;
        let now = SystemClock.now_ms();
        let record =
            |status: Option<u16>, outcome: &'static str, error: Option<String>, next| DeliveryAttempt {
                alert_id: d.alert_id,
                subscription_id: d.subscription.subscription_id,
                team_id: d.subscription.team_id.clone(),
                provider: d.subscription.provider,
                attempt: d.attempt,
                status,
                outcome,
                error,
                at: SystemClock.now_ms(),
                next,
            };
        let ttl_ms = i64::from(self.config.ttl_secs) * 1000;
        if now - d.queued_at > ttl_ms {
            let why = format!("not delivered within the TTL of {} s; dropped", self.config.ttl_secs);
            return record(None, "expired", Some(why), DeliveryNext::Failed);
        }
        let Some(provider) = &self.provider else {
            let why =
                format!("the {} provider is not configured on this relay", d.subscription.provider.as_str());
            return record(None, "rejected", Some(why), DeliveryNext::Failed);
        };
        let remaining_ttl = u32::try_from((ttl_ms - (now - d.queued_at)) / 1000).unwrap_or(0);
        let message = AlertMessage {
            alert_id: d.alert_id,
            level: d.level,
            payload: d.payload.clone(),
            ttl_secs: remaining_ttl,
            topic: hex::encode(&d.opportunity_id),
            now_ms: now,
        };
        let retry = |retry_after: Option<Duration>, outcome: &'static str, status, why: String| {
            if d.attempt >= self.config.max_attempts {
                let why = format!("{why}; gave up after {} attempts", d.attempt);
                return record(status, "gave_up", Some(why), DeliveryNext::Failed);
            }
            let delay = retry_delay(
                d.attempt,
                self.config.backoff_base_ms,
                self.config.backoff_max_ms,
                retry_after,
                random_unit(),
            );
            let next = SystemClock.now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            let why = format!("{why}; retrying in {} ms", delay.as_millis());
            record(status, outcome, Some(why), DeliveryNext::RetryAt(next))
        };
        let call = match provider.build(&d.subscription, &message).await {
            Ok(call) => call,
            Err(ProviderError::Permanent(why)) => {
                return record(None, "rejected", Some(why), DeliveryNext::Failed);
            }
            Err(ProviderError::Transient(why)) => return retry(None, "retry", None, why),
        };
        match send(&self.client, &call).await {
            Answer::Status { status, retry_after, body } => match provider.classify(status, &body) {
                PushOutcome::Accepted => record(Some(status), "accepted", None, DeliveryNext::Delivered),
                PushOutcome::SubscriptionGone => record(
                    Some(status),
                    "gone",
                    Some(format!("the push service answered {status}: the subscription is gone; removed")),
                    DeliveryNext::SubscriptionGone,
                ),
                PushOutcome::Retryable => {
                    retry(retry_after, "retry", Some(status), format!("the push service answered {status}"))
                }
                PushOutcome::Rejected => record(
                    Some(status),
                    "rejected",
                    Some(format!("the push service rejected the message ({status}): {}", body.trim())),
                    DeliveryNext::Failed,
                ),
            },
            Answer::TimedOut => retry(
                None,
                "timeout",
                None,
                format!("no answer within {} s", self.config.request_timeout_secs),
            ),
            Answer::Unreachable(why) => retry(None, "unreachable", None, why),
        }
    }
}

async fn send(client: &reqwest::Client, call: &HttpCall) -> Answer {
    let mut builder = client.post(&call.url);
    if call.http2 {
        builder = builder.version(reqwest::Version::HTTP_2);
    }
    for (name, value) in &call.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            Answer::TimedOut
        } else {
            // The error chain names the cause (refused, reset, DNS) without the URL's secrets.
            Answer::Unreachable(format!("cannot reach the push service: {:#}", e.without_url()))
        }
    };
    let response = match builder.body(call.body.clone()).send().await {
        Ok(response) => response,
        Err(e) => return failed(e),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = match response.bytes().await {
        Ok(bytes) => String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LOGGED_ANSWER)]).into_owned(),
        Err(e) if e.is_timeout() && !(200..300).contains(&status) => return Answer::TimedOut,
        // The status is what counts; a body cut off after it is not worth failing over.
        Err(_) => String::new(),
    };
    Answer::Status { status, retry_after, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_stay_within_the_cap_and_honour_retry_after() {
        let ms = |d: Duration| d.as_millis() as u64;
        // Equal jitter: between half and all of base·2^(n−1).
        assert_eq!(ms(retry_delay(1, 1000, 60_000, None, 0.0)), 500);
        assert_eq!(ms(retry_delay(1, 1000, 60_000, None, 0.999_999)), 999);
        assert_eq!(ms(retry_delay(3, 1000, 60_000, None, 0.0)), 2000);
        assert_eq!(ms(retry_delay(3, 1000, 60_000, None, 0.5)), 3000);
        // Capped, even for absurd attempt numbers.
        assert_eq!(ms(retry_delay(30, 1000, 60_000, None, 0.0)), 30_000);
        assert_eq!(ms(retry_delay(u32::MAX, 1000, 60_000, None, 1.0)), 60_000);
        // Retry-After wins when longer, within the cap.
        assert_eq!(ms(retry_delay(1, 1000, 60_000, Some(Duration::from_secs(7)), 0.0)), 7000);
        assert_eq!(ms(retry_delay(1, 1000, 60_000, Some(Duration::from_secs(7200)), 0.0)), 60_000);
        assert_eq!(ms(retry_delay(5, 1000, 60_000, Some(Duration::from_secs(1)), 0.0)), 8000);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn bad_push_settings_are_named() {
        assert!(PushConfig::default().check().is_ok());
        let bad = PushConfig { concurrency: 0, ..Default::default() };
        assert!(bad.check().unwrap_err().contains("push.concurrency is 0"));
        let bad = PushConfig { backoff_max_ms: 10, backoff_base_ms: 100, ..Default::default() };
        assert!(bad.check().unwrap_err().contains("push.backoff_max_ms"));
        let bad = PushConfig { contact: "ops@example.com".into(), ..Default::default() };
        assert!(bad.check().unwrap_err().contains("push.contact"));
    }
}
