//! `fieldsync bench push-delivery`: push messages the relay's deliverer sends per second to a
//! push receiver on loopback, end to end (fan-out into SQLite, claim, RFC 8291 encryption,
//! VAPID ES256 signature, HTTP POST, recording the answer), and as the reference in the same
//! run, the same number of bare HTTP POSTs of the same size with the same concurrency through
//! the same HTTP client (no storage, no encryption, no signature). A third figure isolates the
//! cryptography: building the requests without sending them.
//!
//! The receiver runs in the same process (it shares the CPU with the sender, as it would not in
//! production), answers 201 at once, and counts what it received.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fieldsync_core::push::{EndpointSecurity, PushEndpoint, SubscriptionKeys, VapidContact, VapidKey};
use fieldsync_core::{Clock as _, SystemClock};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use super::emit;
use crate::delivery::webpush::WebPushProvider;
use crate::delivery::{AlertMessage, Deliverer, PushConfig, http_client};
use crate::http::auth::secret_hash;
use crate::metrics::Metrics;
use crate::storage::push::{AlertLevel, NewPushSubscription, ProviderKind, PushStorage, PushSubscriptionRow};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{RelayStorage, Role};

/// What to run.
#[derive(Debug, Clone)]
pub struct PushDeliveryBench {
    /// Supervisors' devices, one subscription each.
    pub subscriptions: u32,
    /// Alerts raised; each goes to every subscription.
    pub alerts: u32,
    /// Requests in flight at most (the deliverer's `push.concurrency`).
    pub concurrency: usize,
}

/// A typical alert payload (about the size `funnel::payload::encode` writes).
const PAYLOAD: &str = r#"{"v":1,"id":"0193b0c2a4e07c2a9f3e6b1d2c4a5e6f","key":"opp:0193b0c2a4e07c2a:方案提交:1777000000000:no_activity:supervisor:0","opportunity_id":"0193b0c2a4e07c2a9f3e6b1d2c4a5e70","customer_id":"0193b0c2a4e07c2a9f3e6b1d2c4a5e71","title":"华东 pump retrofit, line 3","owner":"李娜","stage":"方案提交","level":"supervisor","kinds":["no_activity"],"stage_entered_at":1777000000000,"last_activity_at":1777100000000,"due_at":1777791200000,"threshold_days":8,"rep_last_sync_at":1777600000000,"raised_at":1777791260000,"by":"relay"}"#;

/// A push receiver on loopback that answers 201 and counts.
struct Receiver {
    url: String,
    received: Arc<AtomicU64>,
    reached: Arc<Notify>,
}

async fn start_receiver(target: u64) -> Result<Receiver> {
    let received = Arc::new(AtomicU64::new(0));
    let reached = Arc::new(Notify::new());
    let (count, done) = (received.clone(), reached.clone());
    let router = axum::Router::new().route(
        "/push/{id}",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let (count, done) = (count.clone(), done.clone());
            async move {
                if count.fetch_add(1, Ordering::SeqCst) + 1 >= target {
                    done.notify_one();
                }
                axum::http::StatusCode::CREATED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Receiver { url, received, reached })
}

impl Receiver {
    async fn wait_for(&self, target: u64, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while self.received.load(Ordering::SeqCst) < target {
            let left =
                limit.checked_sub(started.elapsed()).context("the receiver did not get every message")?;
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), self.reached.notified()).await;
        }
        Ok(())
    }
}

/// Runs the scenario in `dir` and prints its result line.
pub fn run(bench: &PushDeliveryBench, dir: &Path) -> Result<()> {
    if bench.subscriptions == 0 || bench.alerts == 0 || bench.concurrency == 0 {
        bail!("--subscriptions, --alerts and --concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(measure(bench, dir))
}

async fn measure(bench: &PushDeliveryBench, dir: &Path) -> Result<()> {
    let messages = u64::from(bench.subscriptions) * u64::from(bench.alerts);
    let storage = Arc::new(SqliteStorage::open(dir)?);
    let now = SystemClock.now_ms();
    let tenant = storage.create_tenant("bench", now)?;
    let team = storage.create_team(&tenant, "bench", now)?;
    let receiver = start_receiver(messages).await?;
    let mut rows = Vec::new();
    for n in 0..bench.subscriptions {
        let user = storage.create_user(&team, &format!("supervisor {n}"), Role::Supervisor, now)?;
        let code = format!("bench-code-{n}");
        storage.add_enrollment_code(&user, secret_hash(&code), now + 60_000)?;
        let mut device = [0u8; 16];
        device[..4].copy_from_slice(&n.to_be_bytes());
        let token = format!("bench-token-{n}");
        storage.enroll_device(
            secret_hash(&code),
            device,
            [n as u8; 32],
            "bench",
            secret_hash(&token),
            now,
        )?;
        let keys = SubscriptionKeys::generate()?;
        let endpoint = format!("{}/push/{n}", receiver.url);
        let subscription = NewPushSubscription {
            device_id: device,
            user_id: user.clone(),
            team_id: team.clone(),
            provider: ProviderKind::WebPush,
            address: PushEndpoint::parse(&endpoint, EndpointSecurity::AllowInsecureLoopback)?
                .as_str()
                .to_owned(),
            p256dh: Some(keys.public().p256dh()),
            auth: Some(*keys.public().auth()),
        };
        let id = storage.add_push_subscription(&subscription, now)?;
        rows.push(PushSubscriptionRow {
            subscription_id: id,
            device_id: device,
            user_id: user,
            team_id: team.clone(),
            provider: ProviderKind::WebPush,
            address: subscription.address,
            p256dh: subscription.p256dh.map(|k| k.to_vec()),
            auth: subscription.auth.map(|k| k.to_vec()),
            created_at: now,
        });
    }

    // 1. The deliverer, end to end.
    let config = PushConfig {
        contact: "mailto:bench@fieldsync.example".into(),
        allow_insecure_loopback: true,
        concurrency: bench.concurrency,
        ..PushConfig::default()
    };
    let metrics = Arc::new(Metrics::default());
    let wake = Arc::new(Notify::new());
    let deliverer = Deliverer::start(storage.clone() as Arc<dyn RelayStorage>, &config, dir, metrics, wake)?;
    let db = rusqlite::Connection::open(dir.join("relay.sqlite"))?;
    db.busy_timeout(Duration::from_secs(30))?;
    let started = Instant::now();
    {
        let tx = db.unchecked_transaction()?;
        for n in 0..bench.alerts {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&n.to_be_bytes());
            tx.execute(
                "INSERT INTO alerts (alert_id, key, team_id, opportunity_id, level, payload, raised_at)
                 VALUES (?1, ?2, ?3, ?4, 'supervisor', ?5, ?6)",
                rusqlite::params![&id[..], format!("bench-{n}"), team, &id[..], PAYLOAD.as_bytes(), now],
            )?;
        }
        tx.commit()?;
    }
    deliverer.notify();
    receiver.wait_for(messages, Duration::from_secs(600)).await?;
    let delivered_s = started.elapsed().as_secs_f64();
    deliverer.close().await;
    let counts = storage.delivery_counts()?;
    if counts.delivered != messages {
        bail!("{} of {messages} deliveries were recorded as delivered", counts.delivered);
    }

    // 2. Building the same requests without sending them (encryption + VAPID).
    let provider = WebPushProvider::new(
        VapidKey::generate()?,
        VapidContact::parse(&config.contact)?,
        EndpointSecurity::AllowInsecureLoopback,
    );
    let message = AlertMessage {
        alert_id: [7; 16],
        level: AlertLevel::Supervisor,
        payload: PAYLOAD.as_bytes().to_vec(),
        ttl_secs: config.ttl_secs,
        topic: "0193b0c2a4e07c2a9f3e6b1d2c4a5e70".into(),
        now_ms: now,
    };
    let started = Instant::now();
    let mut body_len = 0;
    for n in 0..messages {
        let call = provider.request(&rows[(n % rows.len() as u64) as usize], &message)?;
        body_len = call.body.len();
    }
    let build_s = started.elapsed().as_secs_f64();

    // 3. Reference: bare POSTs of the same size, same concurrency, same client.
    let client = http_client(Duration::from_secs(config.request_timeout_secs)).map_err(anyhow::Error::msg)?;
    let reference = start_receiver(messages).await?;
    let slots = Arc::new(Semaphore::new(bench.concurrency));
    let body = bytes_of(body_len);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..messages {
        let permit = slots.clone().acquire_owned().await?;
        let (client, body) = (client.clone(), body.clone());
        let url = format!("{}/push/{}", reference.url, n % u64::from(bench.subscriptions));
        tasks.spawn(async move {
            let sent = client.post(url).body(body).send().await.map(|r| r.status().as_u16());
            drop(permit);
            sent
        });
    }
    while let Some(done) = tasks.join_next().await {
        let status = done??;
        if status != 201 {
            bail!("the reference receiver answered {status}");
        }
    }
    reference.wait_for(messages, Duration::from_secs(60)).await?;
    let bare_s = started.elapsed().as_secs_f64();

    let rate = |s: f64| (messages as f64 / s).round();
    emit(json!({
        "bench": "push-delivery",
        "subscriptions": bench.subscriptions,
        "alerts": bench.alerts,
        "messages": messages,
        "concurrency": bench.concurrency,
        "body_bytes": body_len,
        "deliverer_s": delivered_s,
        "deliverer_msgs_per_s": rate(delivered_s),
        "build_only_msgs_per_s": rate(build_s),
        "reference_bare_post_msgs_per_s": rate(bare_s),
        "deliverer_vs_bare_post": (bare_s / delivered_s * 1000.0).round() / 1000.0,
    }));
    Ok(())
}

fn bytes_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}
