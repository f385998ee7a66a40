//! Sync end to end: several devices, each a real store with the real HTTP client, against a real
//! relay process on loopback.

use fieldsync_core::DocId;
use fieldsync_core::model::{Customer, NewCustomer, NewVisit, RecordKind};
use fieldsync_core::store::PushLimits;
use fieldsync_core::sync::client::SyncError;
use fieldsync_e2e::{Proxy, RelayProcess, admin, enroll, raw_http};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn codes(bootstrap: &Value) -> Vec<String> {
    bootstrap["users"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap().to_owned()).collect()
}

fn customer(name: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec!["13812345678".into()], ..Default::default() }
}

/// A small deterministic shuffle (no rand dependency): the orders differ per seed.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_offline_with_concurrent_edits_converge_over_http_in_random_orders() {
    let data = tempfile::tempdir().unwrap();
    // The rep owns the shared customer; the supervisors see it whole (reps see only their own
    // customers' records, docs/ownership.md).
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "2"]);
    let relay = RelayProcess::start(data.path());
    let mut devices = Vec::new();
    for code in codes(&boot) {
        devices.push(enroll(&relay.url(), &code).await);
    }
    let shared = devices[0].store.create(customer("苏州精工机械")).unwrap();
    for d in &devices {
        d.client.sync(&d.store, |_| {}).await.unwrap();
    }
    for round in 0..4u64 {
        // Offline: everyone edits the shared customer and adds their own records.
        for (i, d) in devices.iter().enumerate() {
            let mut c: Customer = d.store.get(shared.id).unwrap();
            c.tags.push(format!("r{round}-d{i}"));
            if i == round as usize % 3 {
                c.address = Some(format!("地址 {round}"));
            }
            d.store.update(&c).unwrap();
            d.store
                .create(NewVisit {
                    customer_id: shared.id,
                    opportunity_id: None,
                    planned_at: round as i64,
                    notes: format!("{round}/{i}"),
                })
                .unwrap();
        }
        for i in shuffled(3, round) {
            devices[i].client.sync(&devices[i].store, |_| {}).await.unwrap();
        }
    }
    for d in &devices {
        d.client.sync(&d.store, |_| {}).await.unwrap();
    }
    let reference: Customer = devices[0].store.get(shared.id).unwrap();
    assert_eq!(reference.tags.len(), 12, "every tag from every device survived: {:?}", reference.tags);
    for d in &devices[1..] {
        assert_eq!(d.store.get::<Customer>(shared.id).unwrap(), reference);
        // The customer, its ownership listing and twelve visits.
        assert_eq!(d.store.document_count().unwrap(), 14);
        assert_eq!(d.store.outbox_len().unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_relay_mid_sync_twenty_times_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "1"]);
    let codes = codes(&boot);
    let mut relay = RelayProcess::start(data.path());
    let writer = enroll(&relay.url(), &codes[0]).await;
    let small_pages = writer.client.clone().with_limits(PushLimits { max_changes: 10, ..Default::default() });
    let mut created: Vec<DocId> = Vec::new();
    let mut interrupted = 0;
    for round in 0..20u64 {
        let batch = writer
            .store
            .create_batch((0..150).map(|i| customer(&format!("客户 {round}-{i}"))).collect())
            .unwrap();
        created.extend(batch.iter().map(|c| c.id));
        let store = &writer.store;
        let sync = small_pages.sync(store, |_| {});
        let delay = std::time::Duration::from_millis(5 + (round * 37) % 60);
        tokio::pin!(sync);
        tokio::select! {
            result = &mut sync => { result.unwrap(); }
            () = tokio::time::sleep(delay) => {
                relay.kill9();
                if sync.await.is_err() { interrupted += 1; }
            }
        }
        relay.restart();
    }
    small_pages.sync(&writer.store, |_| {}).await.unwrap();
    assert_eq!(writer.store.outbox_len().unwrap(), 0);
    assert!(interrupted >= 5, "only {interrupted} of 20 kills landed mid-sync; the test proved too little");

    // A supervisor's device pulling from scratch sees every document the writer created, the
    // relay's ownership listing of each customer, and the team's scoreboards and tables the
    // relay wrote at its restarts (docs/kpi.md): nothing else.
    let reader = enroll(&relay.url(), &codes[1]).await;
    reader.client.sync(&reader.store, |_| {}).await.unwrap();
    let count = |kind| reader.store.document_count_of(kind).unwrap();
    assert_eq!(count(RecordKind::Customer) as usize, created.len());
    assert_eq!(count(RecordKind::Ownership) as usize, created.len());
    let (boards, tables) = (count(RecordKind::Scoreboard), count(RecordKind::TeamTable));
    assert!(boards >= 1 && boards == tables, "{boards} scoreboards, {tables} tables");
    assert_eq!(reader.store.document_count().unwrap(), 2 * created.len() as u64 + boards + tables);
    for id in created.iter().step_by(97) {
        assert_eq!(reader.store.get::<Customer>(*id).unwrap(), writer.store.get::<Customer>(*id).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_upload_cut_mid_way_resumes_and_completes_with_the_right_hash() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let proxy = Proxy::start(relay.addr);
    let device = enroll(&proxy.url(), &codes(&boot)[0]).await;

    let photo: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let sha = hex::encode(Sha256::digest(&photo));
    let path = device.dir().join("photo.jpg");
    std::fs::write(&path, &photo).unwrap();
    device.store.queue_blob(&sha, &path, photo.len() as u64).unwrap();

    proxy.cut_after(1_200_000); // the connection dies part-way through the upload
    let done = device.client.upload_blobs(&device.store, 512 * 1024).await.unwrap();
    assert_eq!(done, 1);
    assert!(device.store.pending_blobs().unwrap().is_empty());
    let (up, _) = proxy.total();
    assert!(
        up < photo.len() as u64 * 3 / 2,
        "resumed, not restarted: {up} bytes sent for {} bytes",
        photo.len()
    );

    let token = device.store.relay().unwrap().unwrap().1;
    let auth = format!("Bearer {token}");
    let (status, _, body) =
        raw_http(relay.addr, "GET", &format!("/v1/blobs/{sha}"), &[("authorization", &auth)], b"");
    assert_eq!(status, 200);
    assert_eq!(hex::encode(Sha256::digest(&body)), sha);
    let (status, head, body) = raw_http(
        relay.addr,
        "GET",
        &format!("/v1/blobs/{sha}"),
        &[("authorization", &auth), ("range", "bytes=100-199")],
        b"",
    );
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, &photo[100..200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_of_another_tenant_is_refused_on_every_endpoint() {
    let data = tempfile::tempdir().unwrap();
    let tenant_a = admin(data.path(), &["bootstrap", "--tenant", "A", "--reps", "1", "--supervisors", "0"]);
    let tenant_b = admin(data.path(), &["bootstrap", "--tenant", "B", "--reps", "1", "--supervisors", "0"]);
    let relay = RelayProcess::start(data.path());
    let alice = enroll(&relay.url(), &codes(&tenant_a)[0]).await;
    let mallory = enroll(&relay.url(), &codes(&tenant_b)[0]).await;

    let secret = alice.store.create(customer("A 的客户")).unwrap();
    let blob = b"tenant A's signed slip".to_vec();
    let sha = hex::encode(Sha256::digest(&blob));
    let path = alice.dir().join("slip.png");
    std::fs::write(&path, &blob).unwrap();
    alice.store.queue_blob(&sha, &path, blob.len() as u64).unwrap();
    alice.client.sync(&alice.store, |_| {}).await.unwrap();
    alice.client.upload_blobs(&alice.store, 1024).await.unwrap();

    // Sync: Mallory sees nothing of tenant A.
    mallory.client.sync(&mallory.store, |_| {}).await.unwrap();
    assert_eq!(mallory.store.document_count().unwrap(), 0);
    assert!(mallory.store.find::<Customer>(secret.id).unwrap().is_none());

    // Blobs: HEAD, GET, GET with Range and PUT of A's blob are all answered from B's namespace.
    let token = mallory.store.relay().unwrap().unwrap().1;
    let auth = format!("Bearer {token}");
    let blob_path = format!("/v1/blobs/{sha}");
    for method in ["HEAD", "GET"] {
        let (status, _, _) = raw_http(relay.addr, method, &blob_path, &[("authorization", &auth)], b"");
        assert_eq!(status, 404, "{method} of another tenant's blob");
    }
    let (status, _, _) =
        raw_http(relay.addr, "GET", &blob_path, &[("authorization", &auth), ("range", "bytes=0-3")], b"");
    assert_eq!(status, 404);
    let (status, _, body) = raw_http(
        relay.addr,
        "PUT",
        &blob_path,
        &[("authorization", &auth), ("content-type", "application/octet-stream")],
        b"not the same bytes at all",
    );
    assert_eq!(
        status,
        422,
        "claiming A's hash with other bytes fails verification: {}",
        String::from_utf8_lossy(&body)
    );

    // Enrolling again with A's used code, and old or made-up tokens, are refused.
    let (status, _, body) = raw_http(
        relay.addr,
        "POST",
        "/v1/sync",
        &[("authorization", "Bearer made-up-token"), ("content-type", "application/x-fieldsync")],
        b"",
    );
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let device_id = mallory.store.device_id().to_string();
    admin(data.path(), &["revoke-device", &device_id]);
    match mallory.client.sync(&mallory.store, |_| {}).await {
        Err(SyncError::Relay { status: 401, code, .. }) => assert_eq!(code, "invalid_token"),
        other => panic!("a revoked device must be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_reordered_requests_reach_the_same_final_state() {
    let data = tempfile::tempdir().unwrap();
    // B is a supervisor: reps receive only their own customers' records (docs/ownership.md).
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "1"]);
    let relay = RelayProcess::start(data.path());
    let codes = codes(&boot);
    let a = enroll(&relay.url(), &codes[0]).await;
    let b = enroll(&relay.url(), &codes[1]).await;
    let token = a.store.relay().unwrap().unwrap().1;
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/x-fieldsync")];

    let mut c = a.store.create(customer("顺序测试")).unwrap();
    let first = a.store.prepare_sync(PushLimits::default()).unwrap().request;
    c.tags = vec!["later".into()];
    a.store.update(&c).unwrap();
    let both = a.store.prepare_sync(PushLimits::default()).unwrap().request;
    let second =
        fieldsync_core::sync::wire::SyncRequest { changes: vec![both.changes[1].clone()], ..both.clone() };

    // Reordered: the second change first (deferred), then the first, then the second again.
    for request in [&second, &first, &second, &first] {
        let (status, _, _) = raw_http(relay.addr, "POST", "/v1/sync", &headers, &request.encode());
        assert_eq!(status, 200);
    }
    // Replayed: the whole thing twice more.
    for _ in 0..2 {
        let (status, _, _) = raw_http(relay.addr, "POST", "/v1/sync", &headers, &both.encode());
        assert_eq!(status, 200);
    }
    a.client.sync(&a.store, |_| {}).await.unwrap();
    b.client.sync(&b.store, |_| {}).await.unwrap();
    assert_eq!(a.store.outbox_len().unwrap(), 0);
    assert_eq!(b.store.get::<Customer>(c.id).unwrap().tags, vec!["later".to_string()]);
    assert_eq!(b.store.get::<Customer>(c.id).unwrap(), a.store.get::<Customer>(c.id).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reps_creating_one_customer_offline_end_with_one_on_every_device_over_http() {
    for order in [[0usize, 1], [1, 0]] {
        let data = tempfile::tempdir().unwrap();
        let boot = admin(data.path(), &["bootstrap", "--reps", "2", "--supervisors", "1"]);
        let relay = RelayProcess::start(data.path());
        let mut devices = Vec::new();
        for code in codes(&boot) {
            devices.push(enroll(&relay.url(), &code).await);
        }
        // Offline, the same morning, two reps meet the same factory.
        let older = devices[0]
            .store
            .create(NewCustomer {
                company_name: "苏州精工机械有限公司".into(),
                phones: vec!["13812345678".into()],
                ..Default::default()
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let newer = devices[1]
            .store
            .create(NewCustomer {
                company_name: "苏州精工机械".into(),
                phones: vec!["+86 138 1234 5678".into(), "0512-62345678".into()],
                ..Default::default()
            })
            .unwrap();
        for i in order {
            devices[i].client.sync(&devices[i].store, |_| {}).await.unwrap();
        }
        for _ in 0..2 {
            for d in &devices {
                d.client.sync(&d.store, |_| {}).await.unwrap();
            }
        }
        // Rep 0 (the older record, kept: neither rep had followed up) and the supervisor hold
        // the one customer; rep 1's record points at it, and rep 1 is told who owns it now.
        for (i, d) in devices.iter().enumerate() {
            // Rep 1 never held rep 2's record; its listing says where it went.
            let gone = d.store.ownership(newer.id).unwrap().expect("listing");
            assert_eq!(gone.merged_into, Some(older.id), "order {order:?}, device {i}");
            if i != 0 {
                let merged: Customer = d.store.get(newer.id).unwrap();
                assert_eq!(merged.merged_into, Some(older.id), "order {order:?}, device {i}");
            }
            let owner = d.store.ownership(older.id).unwrap().expect("the listing reaches every device");
            assert_eq!(owner.owner_name.as_deref(), Some("rep 1"), "order {order:?}, device {i}");
            let found: Vec<DocId> =
                d.store.customers_by_name_prefix("苏州精工", 10).unwrap().into_iter().map(|c| c.id).collect();
            if i == 1 {
                assert_eq!(found, Vec::<DocId>::new(), "order {order:?}: rep 2 holds no live record");
                assert_eq!(d.store.find::<Customer>(older.id).unwrap(), None, "order {order:?}");
                let told = d.store.ownership(newer.id).unwrap().unwrap();
                assert_eq!(
                    (told.reason.as_str(), told.merged_into),
                    ("merged", Some(older.id)),
                    "order {order:?}"
                );
                continue;
            }
            assert_eq!(found, vec![older.id], "order {order:?}, device {i}: one customer");
            let canonical: Customer = d.store.get(older.id).unwrap();
            assert_eq!(canonical.phones, ["13812345678", "0512-62345678"], "order {order:?}, device {i}");
        }
    }
}
