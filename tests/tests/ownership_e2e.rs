//! Customer ownership and the public pool end to end (docs/ownership.md): real stores with the
//! real HTTP client against a real relay process on loopback; the pool's returns by the relay's
//! scheduler (`fieldsync admin tick`, as after downtime, with the relay stopped); a transfer
//! through `POST /v1/admin/transfer`.

use fieldsync_core::model::{Activity, Customer, LeadCard, NewCustomer, NewLeadCard};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reps_claim_a_released_customer_offline_and_a_merge_keeps_the_first_follow_up() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "3", "--supervisors", "1"]);
    let relay = RelayProcess::start(data.path());
    let owner = enroll(&relay.url(), &user(&boot, 0, "code")).await;
    let first = enroll(&relay.url(), &user(&boot, 1, "code")).await;
    let second = enroll(&relay.url(), &user(&boot, 2, "code")).await;
    let supervisor = enroll(&relay.url(), &user(&boot, 3, "code")).await;
    let (first_id, second_id) = (user(&boot, 1, "user_id"), user(&boot, 2, "user_id"));

    // The owner releases a customer; both other reps see it in the pool and go offline.
    let released = owner.store.create(customer("昆山宏达精密模具有限公司", "0512-57771234")).unwrap();
    // The owner's call to the customer's buyer, and the buyer's scanned card: his name and number.
    let call = owner.store.start_call(released.id, "139 1234 5678".into(), Some("陈经理".into())).unwrap();
    let card = owner
        .store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:陈立;TEL:13912345678;;".into(),
            format: "mecard".into(),
            name: Some("陈立".into()),
            phones: vec!["13912345678".into()],
            customer_id: Some(released.id),
            ..Default::default()
        })
        .unwrap();
    owner.client.sync(&owner.store, |_| {}).await.unwrap();
    owner.store.release_customer(released.id).unwrap();
    owner.client.sync(&owner.store, |_| {}).await.unwrap();
    for rep in [&first, &second] {
        rep.client.sync(&rep.store, |_| {}).await.unwrap();
        assert_eq!(rep.store.pool_customers(None, 10).unwrap()[0].customer_id, released.id);
        assert_eq!(rep.store.find::<Customer>(released.id).unwrap(), None, "contacts hidden in the pool");
        assert_eq!(rep.store.find::<Activity>(call.id).unwrap(), None, "so are the call's");
        assert_eq!(rep.store.find::<LeadCard>(card.id).unwrap(), None, "and the card's");
        rep.store.claim_customer(released.id).unwrap();
    }
    // The first to reach the relay gets it; the other learns why on its sync.
    first.client.sync(&first.store, |_| {}).await.unwrap();
    second.client.sync(&second.store, |_| {}).await.unwrap();
    let won = first.store.claims(10).unwrap().remove(0);
    assert!(matches!(won.decision, Some((true, _, _, _))), "{won:?}");
    let lost = second.store.claims(10).unwrap().remove(0);
    let (granted, code, _, _) = lost.decision.clone().expect("decided");
    assert!(!granted && code == "owned_by_other", "{lost:?}");
    assert_eq!(second.store.find::<Customer>(released.id).unwrap(), None);
    assert_eq!(
        second.store.ownership(released.id).unwrap().unwrap().owner_user_id.as_deref(),
        Some(first_id.as_str())
    );
    assert_eq!(first.store.get::<Customer>(released.id).unwrap().phones, vec!["0512-57771234".to_string()]);
    // The winner's phone fetched the customer's call and card with it
    // (`GET /v1/customers/{id}/documents`); the loser's holds neither.
    assert_eq!(first.store.get::<Activity>(call.id).unwrap().contact.as_deref(), Some("陈经理"));
    assert_eq!(first.store.get::<LeadCard>(card.id).unwrap().phones, vec!["13912345678".to_string()]);
    assert_eq!(second.store.find::<Activity>(call.id).unwrap(), None);
    assert_eq!(second.store.find::<LeadCard>(card.id).unwrap(), None);
    // Over HTTP, the loser may neither list nor fetch them.
    let second_token = second.store.relay().unwrap().unwrap().1;
    let auth = format!("Bearer {second_token}");
    let (status, _, _) = raw_http(
        relay.addr,
        "GET",
        &format!("/v1/documents/{}", call.id),
        &[("authorization", auth.as_str())],
        b"",
    );
    assert_eq!(status, 404);
    let listing = format!("/v1/customers/{}/documents", released.id);
    let (status, _, _) = raw_http(relay.addr, "GET", &listing, &[("authorization", auth.as_str())], b"");
    assert_eq!(status, 404);
    let (status, _, _) = raw_http(
        relay.addr,
        "GET",
        "/v1/customers/not-an-id/documents",
        &[("authorization", auth.as_str())],
        b"",
    );
    assert_eq!(status, 400);

    // Two reps enter the same company; the second one calls and writes what was said. The relay
    // merges them: the record entered first stays, the rep who followed up first owns it.
    let older = first.store.create(customer("苏州精工机械有限公司", "13812345678")).unwrap();
    first.client.sync(&first.store, |_| {}).await.unwrap();
    let newer = second.store.create(customer("苏州精工机械", "+86 138-1234-5678")).unwrap();
    let call = second.store.start_call(newer.id, "+86 138-1234-5678".into(), None).unwrap();
    second
        .store
        .finish_activity(
            call.id,
            fieldsync_core::store::ActivityResult {
                duration_s: Some(95),
                outcome: Some("接通".into()),
                summary: "客户要两台数控车床的报价".into(),
                next_action: None,
            },
        )
        .unwrap();
    second.client.sync(&second.store, |_| {}).await.unwrap();
    first.client.sync(&first.store, |_| {}).await.unwrap();
    second.client.sync(&second.store, |_| {}).await.unwrap();
    supervisor.client.sync(&supervisor.store, |_| {}).await.unwrap();

    let merged: Customer = supervisor.store.get(newer.id).unwrap();
    assert_eq!(merged.merged_into, Some(older.id), "the relay merged them");
    let told = first.store.ownership(older.id).unwrap().unwrap();
    assert_eq!(
        (told.owner_user_id.as_deref(), told.reason.as_str()),
        (Some(second_id.as_str()), "merged"),
        "{told:?}"
    );
    assert!(second.store.ownership(older.id).unwrap().unwrap().mine);
    assert_eq!(second.store.get::<Customer>(older.id).unwrap().id, older.id, "the new owner has the record");
    // Nothing orphaned: the call resolves to the kept customer, for the supervisor as for its rep.
    let logged: fieldsync_core::model::Activity = supervisor.store.get(call.id).unwrap();
    assert_eq!(supervisor.store.resolve_customer(logged.customer_id).unwrap().id, older.id);
    assert_eq!(second.store.resolve_customer(newer.id).unwrap().id, older.id);
}
