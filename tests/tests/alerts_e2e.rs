//! Stall alerts end to end: a rep's deal stalls → the relay process's scheduler raises the alert
//! → the supervisor's device receives it and reads it as a typed alert. Real stores, the real
//! HTTP client, a real relay process on loopback with a one-second scheduler.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_core::funnel::{DAY_MS, payload};
use fieldsync_core::model::{Alert, EvidenceKind, NewCustomer, NewOpportunity, Stage, StallKind, StallLevel};
use fieldsync_core::push::{EndpointSecurity, PushEndpoint, SubscriptionKeys};
use fieldsync_core::store::StoreOptions;
use fieldsync_core::sync::client::{RelayClient, SyncError};
use fieldsync_core::{Clock, ManualClock, Store, SystemClock};
use fieldsync_e2e::{RelayProcess, admin, raw_http};
use serde_json::Value;
use tempfile::TempDir;

struct Device {
    store: Store,
    client: RelayClient,
    clock: Arc<ManualClock>,
    _dir: TempDir,
}

async fn enroll(url: &str, code: &str, now: i64) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let store =
        Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() }).unwrap();
    let client = RelayClient::new(url).unwrap();
    client.enroll(&store, code, "test phone").await.unwrap();
    Device { store, client, clock, _dir: dir }
}

/// A push service stand-in on loopback: answers every POST with 201 and hands over its body.
fn push_receiver() -> (std::net::SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let _ = sender.send(body);
            }
            let _ = reader.get_mut().write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (address, received)
}

fn code_of(boot: &Value, role: &str) -> String {
    let users = boot["users"].as_array().unwrap();
    let user = users.iter().find(|u| u["role"] == role).unwrap();
    user["code"].as_str().unwrap().to_owned()
}

fn get_alerts(relay: &RelayProcess, device: &Device) -> (u16, Value) {
    let token = device.store.relay().unwrap().unwrap().1;
    let auth = format!("Bearer {token}");
    let (status, _, body) = raw_http(relay.addr, "GET", "/v1/alerts", &[("authorization", &auth)], b"");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_stalled_deal_reaches_the_supervisors_phone_as_a_typed_alert() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "1"]);
    // The supervisor's phone also has a Web Push subscription; its push service is a receiver on
    // loopback, which the relay may reach over plain http only because this config says so.
    let config = data.path().join("relay.toml");
    std::fs::write(
        &config,
        "[push]\ncontact = \"mailto:ops@fieldsync.example\"\nallow_insecure_loopback = true\n",
    )
    .unwrap();
    let relay = RelayProcess::start_with_env(
        data.path(),
        &[("FIELDSYNC_SCHEDULER_INTERVAL_SECS", "1"), ("FIELDSYNC_CONFIG", config.to_str().unwrap())],
    );
    let now = SystemClock.now_ms();

    // Nine days ago the rep sent the quote: the deal entered 方案提交 and nothing happened since.
    let rep = enroll(&relay.url(), &code_of(&boot, "rep"), now - 9 * DAY_MS).await;
    let customer =
        rep.store.create(NewCustomer { company_name: "苏州精工机械".into(), ..Default::default() }).unwrap();
    let deal = rep
        .store
        .create(NewOpportunity {
            customer_id: customer.id,
            owner: "rep 1".into(),
            title: "注塑机二期".into(),
            stage: Stage::FirstContact,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    rep.store.attach_deal_evidence(deal.id, EvidenceKind::TechnicalDocument, "需求.pdf", b"spec").unwrap();
    rep.store.move_stage(deal.id, Stage::NeedsConfirmed, None).unwrap();
    rep.store.attach_deal_evidence(deal.id, EvidenceKind::Quote, "报价.pdf", b"quote").unwrap();
    rep.store.move_stage(deal.id, Stage::ProposalSubmitted, None).unwrap();
    // The rep's own phone has been reminding them since day 7.
    rep.clock.set(now);
    let reminders = rep.store.stalled_deals(Some("rep 1"), StallLevel::Reminder, rep.clock.now_ms()).unwrap();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].level, StallLevel::Supervisor, "past the supervisor's day on the phone too");
    // Today they sync (from the factory car park): the relay learns of the deal and of their sync.
    rep.client.sync(&rep.store, |_| {}).await.unwrap();

    let supervisor = enroll(&relay.url(), &code_of(&boot, "supervisor"), now).await;
    let push_keys = SubscriptionKeys::generate().unwrap();
    let (push_service, pushed) = push_receiver();
    let endpoint =
        PushEndpoint::parse(&format!("http://{push_service}/up/1"), EndpointSecurity::AllowInsecureLoopback)
            .unwrap();
    let push_subscription = push_keys.subscription(endpoint);
    // The supervisor's phone registers its endpoint through the client, as the app does.
    let registered =
        supervisor.client.register_push_subscription(&supervisor.store, &push_subscription).await.unwrap();
    assert_eq!(
        (registered.provider.as_str(), registered.address.as_str()),
        ("webpush", push_subscription.endpoint().as_str())
    );
    let again =
        supervisor.client.register_push_subscription(&supervisor.store, &push_subscription).await.unwrap();
    assert_eq!(again.subscription_id, registered.subscription_id, "registering again keeps one subscription");
    let listed = supervisor.client.push_subscriptions(&supervisor.store).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subscription_id, registered.subscription_id);
    let info = supervisor.client.push_info(&supervisor.store).await.unwrap();
    assert!(info.providers.contains(&"webpush".to_owned()), "{info:?}");
    // Reps receive no alerts, so their devices cannot register for them.
    match rep.client.register_push_subscription(&rep.store, &push_subscription).await {
        Err(SyncError::Relay { status: 403, .. }) => {}
        other => panic!("a rep registered a push subscription: {other:?}"),
    }
    let heard: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = heard.clone();
    let subscription =
        supervisor.store.subscribe_alerts(move |alerts| sink.lock().unwrap().extend_from_slice(alerts));

    // The scheduler ticks every second; the supervisor's phone syncs until the alert arrives.
    let deadline = Instant::now() + Duration::from_secs(30);
    while heard.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no alert reached the supervisor within 30 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
        supervisor.client.sync(&supervisor.store, |_| {}).await.unwrap();
    }
    let alerts = heard.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!((alert.opportunity_id, alert.customer_id), (deal.id, customer.id));
    assert_eq!((alert.stage, alert.level), (Stage::ProposalSubmitted, StallLevel::Supervisor));
    assert_eq!(alert.kinds, [StallKind::NoActivity, StallKind::StageTooLong]);
    assert_eq!(alert.opportunity_title, "注塑机二期");
    let synced_ago = alert.rep_sync_age_ms().expect("the alert says when the rep last synced");
    assert!((0..60_000).contains(&synced_ago), "the rep synced just now: {synced_ago} ms");
    assert_eq!(supervisor.store.alerts(10).unwrap(), alerts, "stored, not only heard");

    // The same alert arrived as a push message that the phone's keys decrypt into the typed alert.
    let message = pushed.recv_timeout(Duration::from_secs(15)).expect("no push message within 15 s");
    assert_eq!(&payload::decode_push(&push_keys, &message).unwrap(), alert);

    // Unregistered, the endpoint is gone from the relay's list; a second removal is NotFound.
    supervisor
        .client
        .unregister_push_subscription(&supervisor.store, &registered.subscription_id)
        .await
        .unwrap();
    assert!(supervisor.client.push_subscriptions(&supervisor.store).await.unwrap().is_empty());
    match supervisor.client.unregister_push_subscription(&supervisor.store, &registered.subscription_id).await
    {
        Err(SyncError::Relay { status: 404, code, .. }) => assert_eq!(code, "no_such_subscription"),
        other => panic!("removing a removed subscription: {other:?}"),
    }
    match supervisor.client.unregister_push_subscription(&supervisor.store, "not-an-id").await {
        Err(SyncError::Invalid(message)) => assert!(message.contains("32 hex"), "{message}"),
        other => panic!("a malformed id: {other:?}"),
    }

    // The relay's list holds the same alert, as the push payload phones decode; reps may not read it.
    let (status, body) = get_alerts(&relay, &supervisor);
    assert_eq!(status, 200, "{body}");
    let listed = body["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let decoded = payload::decode(serde_json::to_string(&listed[0]).unwrap().as_bytes()).unwrap();
    assert_eq!(&decoded, alert);
    assert_eq!(get_alerts(&relay, &rep).0, 403);
    // Nor does sync bring it to the rep's phone: alerts are for supervisors.
    rep.client.sync(&rep.store, |_| {}).await.unwrap();
    assert!(rep.store.alerts(10).unwrap().is_empty(), "a rep's phone received an alert document");

    // A second supervisor sync a few ticks later brings nothing new: one alert, not one per tick.
    subscription.cancel();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    supervisor.client.sync(&supervisor.store, |_| {}).await.unwrap();
    assert_eq!(supervisor.store.alerts(10).unwrap().len(), 1);
    assert_eq!(heard.lock().unwrap().len(), 1, "a cancelled subscription hears nothing more");
}
