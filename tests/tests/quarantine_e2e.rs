//! Fault injection end to end: a relay answers a page with one corrupt entry. The phone keeps
//! that entry aside, applies everything else, moves its cursor, repairs the document from the
//! relay's snapshot and converges; nothing wedges its later syncs.

use fieldsync_core::model::{Customer, NewCustomer};
use fieldsync_core::sync::client::RelayClient;
use fieldsync_e2e::{CorruptingFront, RelayProcess, admin, enroll};
use serde_json::Value;

fn code(boot: &Value, role: &str) -> String {
    boot["users"].as_array().unwrap().iter().find(|u| u["role"] == role).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_one_corrupt_entry_is_quarantined_and_the_device_converges_on_everything_else() {
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "1"]);
    let relay = RelayProcess::start(data.path());
    let front = CorruptingFront::start(relay.addr);
    let rep = enroll(&relay.url(), &code(&boot, "rep")).await;
    let supervisor = enroll(&relay.url(), &code(&boot, "supervisor")).await;
    let supervisor_via_front = RelayClient::new(&front.url()).unwrap();

    let names = ["苏州精工机械", "无锡华光电机", "常州恒力模具"];
    let ids: Vec<_> = names
        .iter()
        .map(|n| {
            let draft = NewCustomer {
                company_name: (*n).into(),
                phones: vec!["13812345678".into()],
                ..Default::default()
            };
            rep.store.create(draft).unwrap().id
        })
        .collect();
    rep.client.sync(&rep.store, |_| {}).await.unwrap();
    supervisor.client.sync(&supervisor.store, |_| {}).await.unwrap(); // snapshots; now on the log
    // The rep edits every customer; the supervisor pulls the changes through the damaging front.
    for id in &ids {
        let mut c: Customer = rep.store.get(*id).unwrap();
        c.tags.push("重点".into());
        rep.store.update(&c).unwrap();
    }
    rep.client.sync(&rep.store, |_| {}).await.unwrap();
    let report = supervisor_via_front.sync(&supervisor.store, |_| {}).await.unwrap();
    assert_eq!(front.corrupted(), 1, "the front damaged one entry");
    assert_eq!(report.quarantined, 1, "{report:?}");
    assert_eq!(report.repaired, 1, "the document was repaired from the relay's snapshot: {report:?}");
    assert_eq!(supervisor.store.quarantined_entries(10).unwrap().len(), 1);
    assert!(supervisor.store.documents_to_repair(5).unwrap().is_empty());
    for id in &ids {
        let want: Customer = rep.store.get(*id).unwrap();
        let got: Customer = supervisor.store.get(*id).unwrap();
        assert_eq!(got, want, "customer {id} converged");
    }
    // Later syncs go on normally.
    let mut c: Customer = rep.store.get(ids[0]).unwrap();
    c.address = Some("苏州工业园区".into());
    rep.store.update(&c).unwrap();
    rep.client.sync(&rep.store, |_| {}).await.unwrap();
    let report = supervisor_via_front.sync(&supervisor.store, |_| {}).await.unwrap();
    assert_eq!(report.quarantined, 0);
    assert_eq!(supervisor.store.get::<Customer>(ids[0]).unwrap().address.as_deref(), Some("苏州工业园区"));

    // The relay's own log is healthy: the admin's repair finds nothing to remove.
    drop(relay);
    let team = boot["team_id"].as_str().unwrap();
    let repaired = admin(data.path(), &["repair-log", "--team", team]);
    assert_eq!(repaired["removed"], serde_json::json!([]), "{repaired}");
    assert!(repaired["entries_checked"].as_u64().unwrap() >= 6, "{repaired}");
}
