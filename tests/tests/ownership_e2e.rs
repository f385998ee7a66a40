//! Customer ownership and the public pool end to end (docs/ownership.md): real stores with the
//! real HTTP client against a real relay process on loopback; the pool's returns by the relay's
//! scheduler (`fieldsync admin tick`, as after downtime, with the relay stopped); a transfer
//! through `POST /v1/admin/transfer`.

use fieldsync_core::model::{Customer, NewCustomer};
use fieldsync_e2e::{RelayProcess, admin, enroll, raw_http};
use serde_json::Value;

const DAY_MS: i64 = 86_400_000;

fn user(boot: &Value, i: usize, field: &str) -> String {
    boot["users"][i][field].as_str().unwrap().to_owned()
}

fn customer(name: &str, phone: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec![phone.into()], ..Default::default() }
}

fn transfer(relay: &RelayProcess, token: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, _, body) = raw_http(relay.addr, "POST", "/v1/admin/transfer", &headers, body.as_bytes());
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_returns_to_the_pool_while_its_owner_is_offline_then_is_claimed_and_transferred() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "2", "--supervisors", "0", "--admins", "1"]);
    let other = admin(data.path(), &["bootstrap", "--tenant", "Rival", "--reps", "1", "--supervisors", "0"]);
    let mut relay = RelayProcess::start(data.path());
    let owner = enroll(&relay.url(), &user(&boot, 0, "code")).await;
    let rival = enroll(&relay.url(), &user(&boot, 1, "code")).await;
    let admin_phone = enroll(&relay.url(), &user(&boot, 2, "code")).await;
    let (owner_id, rival_id) = (user(&boot, 0, "user_id"), user(&boot, 1, "user_id"));

    let quiet = owner.store.create(customer("常州恒达轴承有限公司", "0519-86661234")).unwrap();
    owner.client.sync(&owner.store, |_| {}).await.unwrap();
    rival.client.sync(&rival.store, |_| {}).await.unwrap();
    assert!(owner.store.ownership(quiet.id).unwrap().unwrap().mine);
    assert_eq!(rival.store.find::<Customer>(quiet.id).unwrap(), None, "another rep gets no record");
    assert_eq!(rival.store.ownership(quiet.id).unwrap().unwrap().owner_name.as_deref(), Some("rep 1"));

    // The owner goes offline; 31 days pass without a follow-up. The scheduler catches up.
    relay.kill9();
    let now = fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock);
    let report = admin(data.path(), &["tick", "--now", &(now + 31 * DAY_MS).to_string()]);
    assert_eq!(report["returned_to_pool"], 1, "{report}");
    let again = admin(data.path(), &["tick", "--now", &(now + 32 * DAY_MS).to_string()]);
    assert_eq!(again["returned_to_pool"], 0, "returned once: {again}");
    relay.restart();

    // Back online, the owner learns it; the other rep finds it in the pool and claims it.
    owner.client.sync(&owner.store, |_| {}).await.unwrap();
    let view = owner.store.ownership(quiet.id).unwrap().unwrap();
    assert_eq!((view.owner_user_id, view.reason.as_str()), (None, "returned_to_pool"));
    assert!(owner.store.my_customers().unwrap().is_empty());
    rival.client.sync(&rival.store, |_| {}).await.unwrap();
    assert_eq!(rival.store.pool_customers(None, 10).unwrap()[0].customer_id, quiet.id);
    rival.store.claim_customer(quiet.id).unwrap();
    let report = rival.client.sync(&rival.store, |_| {}).await.unwrap();
    assert!(report.repaired >= 1, "the claimed record was fetched: {report:?}");
    assert_eq!(rival.store.get::<Customer>(quiet.id).unwrap().phones, vec!["0519-86661234".to_string()]);
    assert!(rival.store.ownership(quiet.id).unwrap().unwrap().mine);

    // The rival rep leaves: the admin moves their customers back in one step.
    let token = admin_phone.store.relay().unwrap().unwrap().1;
    let outsider = user(&other, 0, "user_id");
    let (status, body) = transfer(&relay, &token, &format!(r#"{{"from":"{rival_id}","to":"{outsider}"}}"#));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_transfer")), "{body}");
    let rep_token = owner.store.relay().unwrap().unwrap().1;
    let (status, _) = transfer(&relay, &rep_token, &format!(r#"{{"from":"{rival_id}","to":"{owner_id}"}}"#));
    assert_eq!(status, 403, "only admins transfer");
    let (status, body) = transfer(&relay, &token, r#"{"from": 1}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = transfer(&relay, &token, &format!(r#"{{"from":"{rival_id}","to":"{owner_id}"}}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["customers"].as_u64(), body["deals"].as_u64()), (Some(1), Some(0)), "{body}");
    owner.client.sync(&owner.store, |_| {}).await.unwrap();
    let back = owner.store.ownership(quiet.id).unwrap().unwrap();
    assert!(back.mine && back.reason == "transferred", "{back:?}");
    owner.store.get::<Customer>(quiet.id).unwrap();
    rival.client.sync(&rival.store, |_| {}).await.unwrap();
    assert!(rival.store.my_customers().unwrap().is_empty());
}
