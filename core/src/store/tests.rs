//! Store behaviour, on real SQLite files in temporary directories.

use std::sync::Arc;

use automerge::{Automerge, ReadDoc};
use tempfile::TempDir;

use super::*;
use crate::clock::ManualClock;
use crate::model::*;

const DAY_MS: i64 = 86_400_000;
/// 2026-11-26 09:00 Beijing time.
const NOW: i64 = 1_795_654_800_000;

struct Fixture {
    _dir: TempDir,
    path: std::path::PathBuf,
    clock: Arc<ManualClock>,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.fieldsync");
    let clock = Arc::new(ManualClock::new(NOW));
    let store = Store::open_with(&path, StoreOptions { clock: clock.clone() }).unwrap();
    Fixture { _dir: dir, path, clock, store }
}

fn customer(name: &str, phone: &str) -> NewCustomer {
    NewCustomer { company_name: name.into(), phones: vec![phone.into()], ..Default::default() }
}

fn at(lat: f64, lon: f64, datum: Datum) -> Location {
    Location { lat, lon, datum, source: FixSource::Gps, accuracy_m: Some(10.0), at: None, mock: false }
}

#[test]
fn every_record_kind_round_trips_through_the_store() {
    let f = fixture();
    let c = f.store.create(customer("苏州精工机械有限公司", "0512-6888 8888")).unwrap();
    assert_eq!(f.store.get::<Customer>(c.id).unwrap(), c);
    assert_eq!(c.provenance.created_by, f.store.device_id());

    let card = f
        .store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:张三;TEL:13812345678;;".into(),
            format: "mecard".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(f.store.get::<LeadCard>(card.id).unwrap(), card);

    let opp = f
        .store
        .create(NewOpportunity {
            customer_id: c.id,
            owner: "rep-li".into(),
            title: "CNC 改造".into(),
            stage: Stage::FirstContact,
            amount: Some(Money { minor_units: 12_000_000, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: Some(NOW + 3 * DAY_MS),
        })
        .unwrap();
    assert_eq!(f.store.get::<Opportunity>(opp.id).unwrap(), opp);

    let visit = f
        .store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: Some(opp.id),
            planned_at: NOW,
            notes: "首次拜访".into(),
        })
        .unwrap();
    assert_eq!(f.store.get::<Visit>(visit.id).unwrap(), visit);

    let slip = f
        .store
        .create(NewServiceSlip {
            visit_id: visit.id,
            items: vec![SlipItem { description: "主轴保养".into(), quantity: 1.0, unit: "次".into() }],
            notes: String::new(),
        })
        .unwrap();
    assert_eq!(f.store.get::<ServiceSlip>(slip.id).unwrap(), slip);

    let rules = f.store.create(NewTeamRules::default()).unwrap();
    assert_eq!(f.store.get::<TeamRules>(rules.id).unwrap(), rules);

    assert_eq!(f.store.document_count().unwrap(), 6);
    assert_eq!(f.store.outbox_len().unwrap(), 6, "one change per created record");
}

#[test]
fn documents_carry_kind_schema_and_the_device_as_actor() {
    let f = fixture();
    let c = f.store.create(customer("宁波海天塑机", "13812345678")).unwrap();
    let (_, _, bytes) = f.store.outbox_changes(10).unwrap().pop().unwrap();
    let mut doc = Automerge::new();
    doc.load_incremental(&bytes).unwrap();
    let kind = doc.get(automerge::ROOT, "kind").unwrap().unwrap().0.to_string();
    assert!(kind.contains("customer"), "{kind}");
    assert!(doc.get(automerge::ROOT, "schema").unwrap().is_some());
    let change = doc.get_changes(&[]).pop().unwrap();
    assert_eq!(change.actor_id().to_bytes(), f.store.device_id().as_bytes());
    assert_eq!(autosurgeon::hydrate::<_, Customer>(&doc).unwrap(), c);
}

#[test]
fn update_writes_only_the_changed_fields_so_concurrent_edits_merge() {
    let f = fixture();
    let original = f.store.create(customer("常州恒立液压", "13900001111")).unwrap();
    let (_, _, create_bytes) = f.store.outbox_changes(1).unwrap().pop().unwrap();

    // Two reps hold the same document and edit different fields offline.
    let mut rep_a = Automerge::new().with_actor(automerge::ActorId::from(&[0xaa; 16][..]));
    rep_a.load_incremental(&create_bytes).unwrap();
    let mut rep_b = rep_a.fork().with_actor(automerge::ActorId::from(&[0xbb; 16][..]));

    let mut edit_a = original.clone();
    edit_a.address = Some("常州市武进区".into());
    let mut tx = rep_a.transaction();
    autosurgeon::reconcile(&mut tx, &edit_a).unwrap();
    tx.commit();

    let mut edit_b = original.clone();
    edit_b.phones.push("0519-8888 0000".into());
    let mut tx = rep_b.transaction();
    autosurgeon::reconcile(&mut tx, &edit_b).unwrap();
    tx.commit();

    rep_a.merge(&mut rep_b).unwrap();
    let merged: Customer = autosurgeon::hydrate(&rep_a).unwrap();
    assert_eq!(merged.address.as_deref(), Some("常州市武进区"));
    assert_eq!(merged.phones, vec!["13900001111".to_string(), "0519-8888 0000".to_string()]);

    // And through the store: an update produces one small change.
    let mut edited = original.clone();
    edited.tags.push("液压".into());
    let stored = f.store.update(&edited).unwrap();
    assert_eq!(stored.tags, vec!["液压".to_string()]);
    let outbox = f.store.outbox(10).unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox[1].size_bytes < 200, "a one-tag edit is {} bytes", outbox[1].size_bytes);
}

#[test]
fn an_update_that_changes_nothing_makes_no_change() {
    let f = fixture();
    let c = f.store.create(customer("无锡威孚", "13700000000")).unwrap();
    f.store.update(&c).unwrap();
    assert_eq!(f.store.outbox_len().unwrap(), 1);
}

#[test]
fn documents_are_compacted_and_still_read_back_after_many_edits() {
    let f = fixture();
    let mut c = f.store.create(customer("东莞长盈精密", "13600000000")).unwrap();
    for i in 0..(documents::COMPACT_AFTER_CHANGES * 2 + 5) {
        f.clock.advance(1000);
        c.tags = vec![format!("edit-{i}")];
        c = f.store.update(&c).unwrap();
    }
    let pending: i64 = f
        .store
        .db
        .read(|conn| Ok(conn.query_row("SELECT pending_changes FROM documents", [], |r| r.get(0))?))
        .unwrap();
    assert!(pending < documents::COMPACT_AFTER_CHANGES, "pending {pending}");
    assert_eq!(f.store.get::<Customer>(c.id).unwrap(), c);
    assert_eq!(f.store.outbox_len().unwrap() as i64, documents::COMPACT_AFTER_CHANGES * 2 + 6);
}

#[test]
fn moving_a_deal_between_stages_records_history_including_backward_moves() {
    let f = fixture();
    let c = f.store.create(customer("佛山美的", "13500000000")).unwrap();
    let opp = f
        .store
        .create(NewOpportunity {
            customer_id: c.id,
            owner: "rep-wang".into(),
            title: "注塑机".into(),
            stage: Stage::FirstContact,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    f.clock.advance(DAY_MS);
    let refused = f.store.move_stage(opp.id, Stage::NeedsConfirmed, None).unwrap_err();
    assert!(
        matches!(&refused, StoreError::MissingEvidence { stage: Stage::NeedsConfirmed, missing }
            if missing == &[EvidenceKind::TechnicalDocument]),
        "{refused}"
    );
    assert!(refused.to_string().contains("技术文件"), "{refused}");
    assert_eq!(f.store.get::<Opportunity>(opp.id).unwrap().stage, Stage::FirstContact, "nothing saved");
    let with_doc = f
        .store
        .attach_deal_evidence(opp.id, EvidenceKind::TechnicalDocument, "需求说明.pdf", b"%PDF-1.7 spec")
        .unwrap();
    assert_eq!(with_doc.evidence[0].sha256.len(), 64);
    assert!(f.store.pending_blobs().unwrap().iter().any(|b| b.sha256 == with_doc.evidence[0].sha256));
    let moved = f.store.move_stage(opp.id, Stage::NeedsConfirmed, None).unwrap();
    f.clock.advance(DAY_MS);
    let back = f.store.move_stage(opp.id, Stage::FirstContact, Some("客户换了负责人".into())).unwrap();
    assert_eq!(moved.stage, Stage::NeedsConfirmed);
    assert_eq!(back.stage, Stage::FirstContact);
    assert_eq!(back.stage_entered_at, NOW + 2 * DAY_MS);
    let path: Vec<_> = back.stage_history.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        path,
        vec![
            (None, Stage::FirstContact),
            (Some(Stage::FirstContact), Stage::NeedsConfirmed),
            (Some(Stage::NeedsConfirmed), Stage::FirstContact)
        ]
    );
    assert_eq!(f.store.opportunities_in_stage(Stage::FirstContact, 10).unwrap().len(), 1);
    assert!(f.store.opportunities_in_stage(Stage::NeedsConfirmed, 10).unwrap().is_empty());
}

fn populate_for_queries(f: &Fixture) -> (Customer, Customer, Customer) {
    let near = f
        .store
        .create(NewCustomer {
            location: Some(at(31.2990, 120.5853, Datum::Wgs84)),
            ..customer("苏州精工机械", "+86 138-1234-5678")
        })
        .unwrap();
    // The same street corner given in GCJ-02, as Amap reports it: about 500 m off in raw degrees.
    let gcj = crate::geo::GeoPoint::wgs84(31.3000, 120.5860).unwrap().to_gcj02();
    let near_gcj = f
        .store
        .create(NewCustomer {
            location: Some(at(gcj.lat(), gcj.lon(), Datum::Gcj02)),
            ..customer("苏州精密模具", "0512-6888 1234")
        })
        .unwrap();
    let far = f
        .store
        .create(NewCustomer {
            location: Some(at(29.8683, 121.5440, Datum::Wgs84)),
            ..customer("宁波精工", "13812349999")
        })
        .unwrap();
    (near, near_gcj, far)
}

#[test]
fn customers_are_found_by_name_prefix_phone_prefix_and_distance() {
    let f = fixture();
    let (near, near_gcj, far) = populate_for_queries(&f);

    let by_name: Vec<_> =
        f.store.customers_by_name_prefix("苏州精", 10).unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(by_name.len(), 2);
    assert!(by_name.contains(&near.id) && by_name.contains(&near_gcj.id));
    assert!(f.store.customers_by_name_prefix("", 10).unwrap().is_empty());

    let by_phone: Vec<_> =
        f.store.customers_by_phone_prefix("１３８1234", 10).unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(by_phone.len(), 2, "full-width digits and +86 are folded");
    assert!(by_phone.contains(&near.id) && by_phone.contains(&far.id));
    assert_eq!(f.store.customers_by_phone_prefix("0512", 10).unwrap()[0].id, near_gcj.id);

    let found = f.store.customers_near(&at(31.2995, 120.5855, Datum::Wgs84), 1_000.0, 10).unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![near.id, near_gcj.id],
        "nearest first, datums converted"
    );
    assert!(
        found[1].distance_m.unwrap() < 200.0,
        "GCJ-02 converted before comparing: {:?}",
        found[1].distance_m
    );
    assert!(f.store.customers_near(&at(31.2995, 120.5855, Datum::Wgs84), 50.0, 10).unwrap().len() < 2);

    let bad = Location { lat: f64::NAN, ..at(0.0, 0.0, Datum::Wgs84) };
    assert!(matches!(f.store.customers_near(&bad, 100.0, 10), Err(StoreError::Invalid(_))));
}

#[test]
fn todays_visits_and_due_deals_come_from_the_projections() {
    let f = fixture();
    let c = f.store.create(customer("杭州老板电器", "13300000000")).unwrap();
    let today = f
        .store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: None,
            planned_at: NOW + 3_600_000,
            notes: String::new(),
        })
        .unwrap();
    f.store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: None,
            planned_at: NOW + DAY_MS,
            notes: String::new(),
        })
        .unwrap();
    f.store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: None,
            planned_at: NOW - DAY_MS,
            notes: String::new(),
        })
        .unwrap();
    let visits = f.store.todays_visits(8 * 60).unwrap();
    assert_eq!(visits.iter().map(|v| v.id).collect::<Vec<_>>(), vec![today.id]);

    let draft = |title: &str, due| NewOpportunity {
        customer_id: c.id,
        owner: "rep".into(),
        title: title.into(),
        stage: Stage::ProposalSubmitted,
        amount: None,
        expected_close_at: None,
        next_action_due_at: due,
    };
    let overdue = f.store.create(draft("overdue", Some(NOW - DAY_MS))).unwrap();
    f.store.create(draft("later", Some(NOW + DAY_MS))).unwrap();
    f.store.create(draft("no date", None)).unwrap();
    let won = f.store.create(draft("won", Some(NOW - 2 * DAY_MS))).unwrap();
    f.store.attach_deal_evidence(won.id, EvidenceKind::SignedContract, "合同.pdf", b"signed").unwrap();
    f.store.move_stage(won.id, Stage::Won, None).unwrap();
    let due: Vec<_> = f.store.opportunities_due_before(NOW, 10).unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(due, vec![overdue.id], "closed deals are never due");
}

#[test]
fn projections_rebuilt_from_documents_answer_queries_identically() {
    let f = fixture();
    populate_for_queries(&f);
    let before = (
        f.store.customers_by_name_prefix("苏州", 10).unwrap(),
        f.store.customers_by_phone_prefix("138", 10).unwrap(),
        f.store.customers_near(&at(31.2995, 120.5855, Datum::Wgs84), 5_000.0, 10).unwrap(),
    );
    f.store
        .db
        .write(|tx| {
            Ok(tx.execute_batch(
                "DELETE FROM customer_index; DELETE FROM customer_phone_index; DELETE FROM customer_geo;",
            )?)
        })
        .unwrap();
    assert!(f.store.customers_by_name_prefix("苏州", 10).unwrap().is_empty());
    assert_eq!(f.store.rebuild_projections().unwrap(), 3);
    let after = (
        f.store.customers_by_name_prefix("苏州", 10).unwrap(),
        f.store.customers_by_phone_prefix("138", 10).unwrap(),
        f.store.customers_near(&at(31.2995, 120.5855, Datum::Wgs84), 5_000.0, 10).unwrap(),
    );
    assert_eq!(before, after);
}

#[test]
fn acknowledged_changes_leave_the_outbox_and_replayed_acks_are_harmless() {
    let f = fixture();
    f.store.create(customer("A", "1")).unwrap();
    f.store.create(customer("B", "2")).unwrap();
    let pending = f.store.outbox_changes(10).unwrap();
    assert_eq!(f.store.acknowledge(&[pending[0].0]).unwrap(), 1);
    assert_eq!(f.store.acknowledge(&[pending[0].0]).unwrap(), 0);
    let left = f.store.outbox(10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].change_hash, pending[1].0.to_string());
}

#[test]
fn invalid_records_are_refused_and_nothing_is_written() {
    let f = fixture();
    let err = f.store.create(customer("   ", "1")).unwrap_err();
    assert!(err.to_string().contains("company_name: must not be empty"), "{err}");
    let long = "厂".repeat(201);
    assert!(matches!(f.store.create(customer(&long, "1")), Err(StoreError::Invalid(_))));
    let mut nan = customer("X", "1");
    nan.location = Some(at(f64::NAN, 1.0, Datum::Wgs84));
    assert!(f.store.create(nan).unwrap_err().to_string().contains("latitude NaN"));
    // A batch with one bad record stores none.
    assert!(f.store.create_batch(vec![customer("ok", "1"), customer("", "2")]).is_err());
    assert_eq!(f.store.document_count().unwrap(), 0);
    assert_eq!(f.store.outbox_len().unwrap(), 0);

    let c = f.store.create(customer("ok", "1")).unwrap();
    let mut forged = c.clone();
    forged.provenance.created_at = 0;
    assert!(matches!(f.store.update(&forged), Err(StoreError::Invalid(_))));
}

#[test]
fn reading_an_id_as_the_wrong_kind_or_a_missing_id_is_a_typed_error() {
    let f = fixture();
    let c = f.store.create(customer("A", "1")).unwrap();
    assert!(matches!(
        f.store.get::<Visit>(c.id),
        Err(StoreError::WrongKind { expected: RecordKind::Visit, actual: RecordKind::Customer, .. })
    ));
    let missing = DocId::generate();
    assert!(matches!(f.store.get::<Customer>(missing), Err(StoreError::NotFound { .. })));
    assert_eq!(f.store.find::<Customer>(missing).unwrap(), None);
    assert!(matches!(f.store.move_stage(missing, Stage::Won, None), Err(StoreError::NotFound { .. })));
}

#[test]
fn a_signed_slip_can_no_longer_be_changed() {
    let f = fixture();
    let slip = f
        .store
        .create(NewServiceSlip { visit_id: DocId::generate(), items: vec![], notes: String::new() })
        .unwrap();
    let mut signed = slip.clone();
    signed.signer_name = Some("王经理".into());
    signed.signed_at = Some(NOW);
    f.store.update(&signed).unwrap();
    let mut tampered = signed.clone();
    tampered.notes = "加一台".into();
    assert!(matches!(f.store.update(&tampered), Err(StoreError::Sealed { .. })));
    assert_eq!(f.store.get::<ServiceSlip>(slip.id).unwrap(), signed);
}

#[test]
fn a_corrupt_document_row_fails_alone_and_the_rest_of_the_store_works() {
    let f = fixture();
    let good = f.store.create(customer("good", "1")).unwrap();
    let bad = f.store.create(customer("bad", "2")).unwrap();
    f.store
        .db
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE documents SET snapshot = x'00ff00ff' WHERE doc_id = ?1",
                [bad.id.to_string()],
            )?)
        })
        .unwrap();
    let err = f.store.get::<Customer>(bad.id).unwrap_err();
    assert!(matches!(err, StoreError::CorruptDocument { id, .. } if id == bad.id), "{err}");
    assert!(matches!(f.store.update(&bad), Err(StoreError::CorruptDocument { .. })));
    assert_eq!(f.store.get::<Customer>(good.id).unwrap(), good);
    assert!(f.store.rebuild_projections().is_err(), "a rebuild reports the corrupt document");
    assert_eq!(f.store.get::<Customer>(good.id).unwrap(), good, "a failed rebuild rolled back");
    assert_eq!(f.store.customers_by_name_prefix("good", 10).unwrap().len(), 1);
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let f = fixture();
    let err = Store::open(&f.path).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyOpen { .. }), "{err}");
    f.store.create(customer("still works", "1")).unwrap();
    f.store.close().unwrap();
    assert!(matches!(f.store.create(customer("x", "1")), Err(StoreError::Closed)));
    assert!(matches!(f.store.customers_by_name_prefix("s", 1), Err(StoreError::Closed)));
    f.store.close().unwrap();
    let reopened = Store::open(&f.path).unwrap();
    assert_eq!(reopened.device_id(), f.store.device_id(), "identity survives reopening");
    assert_eq!(reopened.document_count().unwrap(), 1);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"this is a rep's shopping list, not a database\n".repeat(100);
    std::fs::write(&path, &content).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), content);
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wechat.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE messages (body TEXT); INSERT INTO messages VALUES ('你好');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotAFieldsyncStore { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_store_from_a_newer_schema_is_refused_and_left_untouched() {
    let f = fixture();
    f.store.create(customer("A", "1")).unwrap();
    f.store.close().unwrap();
    {
        let conn = rusqlite::Connection::open(&f.path).unwrap();
        conn.pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1).unwrap();
    }
    let before = std::fs::read(&f.path).unwrap();
    let err = Store::open(&f.path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, .. } if found == schema::SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("update the app"));
    assert_eq!(std::fs::read(&f.path).unwrap(), before);
}

const V1_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/store_v1.fieldsync");

/// Writes the committed version-1 fixture. Run once by hand when the fixture must be remade:
/// `cargo test -p fieldsync-core write_v1_fixture -- --ignored`.
#[test]
#[ignore]
fn write_v1_fixture() {
    let _ = std::fs::remove_file(V1_FIXTURE);
    let store = Store::open_at_version(
        std::path::Path::new(V1_FIXTURE),
        StoreOptions { clock: Arc::new(ManualClock::new(NOW)) },
        1,
    )
    .unwrap();
    let c = store
        .create(NewCustomer {
            location: Some(at(31.2990, 120.5853, Datum::Wgs84)),
            ..customer("苏州精工机械有限公司", "0512-6888 8888")
        })
        .unwrap();
    store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: None,
            planned_at: NOW,
            notes: "v1 visit".into(),
        })
        .unwrap();
    store.close().unwrap();
    let _ = std::fs::remove_file(db::lock_path(std::path::Path::new(V1_FIXTURE)));
}

#[test]
fn an_old_version_1_store_upgrades_to_the_current_schema_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.fieldsync");
    std::fs::copy(V1_FIXTURE, &path).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), 1, "the fixture is a version-1 store");
    }
    let upgraded = Store::open(&path).unwrap();
    assert_eq!(upgraded.schema_version().unwrap(), schema::SCHEMA_VERSION);
    let found = upgraded.customers_by_name_prefix("苏州精工", 10).unwrap();
    assert_eq!(found.len(), 1);
    let mut c: Customer = upgraded.get(found[0].id).unwrap();
    assert_eq!(c.phones, vec!["0512-6888 8888".to_string()]);
    assert_eq!(upgraded.outbox_len().unwrap(), 2);
    let found = upgraded.duplicate_candidates(&customer("精工机械（苏州）", "+86 512 68888888")).unwrap();
    assert_eq!(found.len(), 1, "the upgrade indexed the old customer for the duplicate check");
    assert_eq!((found[0].customer.id, found[0].decision), (c.id, crate::dedup::Decision::Same));
    c.tags.push("upgraded".into());
    upgraded.update(&c).unwrap();

    let fresh = fixture();
    let schema_of = |store: &Store| store.db.read(schema::describe).unwrap();
    assert_eq!(schema_of(&upgraded), schema_of(&fresh.store));
}

// ---- the duplicate check --------------------------------------------------------------------

mod duplicate_check {
    use super::*;
    use crate::dedup::{Decision, MatchReason};

    fn check(f: &Fixture, name: &str, phone: &str) -> Vec<DuplicateCandidate> {
        f.store.duplicate_candidates(&customer(name, phone)).unwrap()
    }

    #[test]
    fn a_switchboard_many_unrelated_customers_list_stops_counting_as_evidence() {
        let f = fixture();
        let switchboard = "0512-6266 0000";
        let park = [
            "苏州恒润精密模具",
            "苏州天成塑胶制品",
            "苏州华宇电子",
            "苏州金达五金",
            "苏州瑞丰包装",
            "苏州博远自动化",
            "苏州新宏泵业",
            "苏州立信阀门",
            "苏州永安线缆",
            "苏州德诚涂料",
        ];
        for name in park {
            f.store.create(customer(name, switchboard)).unwrap();
        }
        // Another company of the park: no duplicate (the switchboard was "possible" before).
        assert!(check(&f, "苏州凯丰注塑", switchboard).is_empty());
        // One of them written again: its name is the evidence, "possible" at most, never "same".
        let again = check(&f, "苏州天成塑胶制品有限公司", switchboard);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].decision, Decision::Possible, "{again:?}");
        assert!(!again[0].reasons.iter().any(|r| matches!(r, MatchReason::SharedPhone { .. })));
        // A desk behind the switchboard (an extension) still reaches one company.
        f.store.create(customer("苏州凯丰注塑", "0512-6266 0000转8021")).unwrap();
        let desk = check(&f, "凯丰注塑科技（苏州）有限公司", "0512-62660000-8021");
        assert_eq!(desk[0].decision, Decision::Same, "{desk:?}");
    }

    #[test]
    fn a_company_entered_by_five_reps_keeps_its_own_number_as_evidence() {
        let f = fixture();
        for name in ["南通凯丰注塑", "南通凯丰注塑有限公司", "凯丰注塑（南通）", "南通市凯丰注塑", "凯丰注塑"]
        {
            f.store.create(customer(name, "0513-8555 1234")).unwrap();
        }
        let found = check(&f, "南通凯丰注塑科技有限公司", "0513-85551234");
        assert!(found.iter().all(|c| c.decision == Decision::Same), "{found:?}");
        assert_eq!(found.len(), 5);
    }

    #[test]
    fn names_differing_by_filler_or_by_how_the_region_is_written_are_the_same_company_with_one_phone() {
        let f = fixture();
        for (existing, new, phone) in [
            ("南通凯丰注塑有限责任公司", "南通凯丰注塑科技有限公司", "0513-8555 1234"),
            ("湖北省盛隆永电机科技有限公司", "襄阳盛隆永电机", "139 7100 2233"),
            ("天创新模具（中山）制造有限公司", "中山天创新模具", "0760-8812 3456"),
            ("滨州市光铭五金有限公司", "滨州光铭五金实业发展有限公司", "0543-3225 6059"),
        ] {
            f.store.create(customer(existing, phone)).unwrap();
            let found = check(&f, new, phone);
            assert_eq!(
                found.first().map(|c| c.decision),
                Some(Decision::Same),
                "{existing} / {new}: {found:?}"
            );
        }
        // Filler is not a trade name: different 字号 with the same filler stay apart.
        f.store.create(customer("苏州恒润精密模具科技有限公司", "0512-6000 1111")).unwrap();
        assert!(
            check(&f, "苏州恒通精密模具科技有限公司", "0512-6000 2222")
                .iter()
                .all(|c| c.decision != Decision::Same)
        );
        // Two different filler words (a maker and its trading company) are not discounted.
        f.store.create(customer("新乡光川璟液压科技有限公司", "134 8342 0226")).unwrap();
        let arm = check(&f, "新乡市光川璟液压贸易有限公司", "134 8342 0226");
        assert_eq!(arm[0].decision, Decision::Possible, "{arm:?}");
    }

    /// Postings per gram, as counted by the triggers and as actually stored.
    fn gram_counts_agree(store: &Store) {
        let read = |sql: &'static str| -> Vec<(String, i64)> {
            store
                .db
                .read(|conn| {
                    Ok(conn
                        .prepare(sql)?
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?)
                })
                .unwrap()
        };
        let counted = read("SELECT gram, customers FROM customer_name_gram_counts ORDER BY gram");
        let actual = read("SELECT gram, count(*) FROM customer_name_grams GROUP BY gram ORDER BY gram");
        assert!(!actual.is_empty());
        assert_eq!(counted, actual);
    }

    #[test]
    fn the_same_phone_in_another_notation_and_the_same_name_is_same() {
        let f = fixture();
        let existing = f.store.create(customer("苏州市精工机械有限公司", "0512-6888 8888")).unwrap();
        f.store.create(customer("宁波华丰电子有限公司", "13900001111")).unwrap();
        let found = check(&f, "精工机械（苏州）", "+86 512 68888888");
        assert_eq!(found.len(), 1, "{found:?}");
        let hit = &found[0];
        assert_eq!((hit.customer.id, hit.matched, hit.decision), (existing.id, existing.id, Decision::Same));
        assert!(hit.warning);
        assert_eq!(hit.score, 1.0);
        assert!(
            hit.reasons
                .iter()
                .any(|r| matches!(r, MatchReason::SharedPhone { e164, .. } if e164 == "+8651268888888"))
        );
    }

    #[test]
    fn a_similar_name_without_a_shared_phone_is_found_through_the_name_index() {
        let f = fixture();
        let existing = f.store.create(customer("宁波鑫达精密模具有限公司", "13812345678")).unwrap();
        for (i, other) in ["宁波华丰电子有限公司", "宁波精达机械有限公司", "鑫源模具厂"].iter().enumerate()
        {
            f.store.create(customer(other, &format!("1390000111{i}"))).unwrap();
        }
        for query in ["鑫达精密模具", "宁波鑫大精密模具有限公司", "鑫达精密模具厂"] {
            let found = check(&f, query, "13700000000");
            let hit = found.first().unwrap_or_else(|| panic!("{query}: nothing found"));
            assert_eq!(hit.customer.id, existing.id, "{query}: {found:?}");
            assert_eq!(hit.decision, Decision::Possible, "no shared phone: at most possible");
            assert!(hit.warning, "{query}: a name ≥ 0.8 warns before saving ({})", hit.score);
        }
        assert!(check(&f, "杭州远航物流有限公司", "13700000000").is_empty());
    }

    #[test]
    fn machinery_and_moulds_of_one_brand_sharing_a_phone_are_never_same() {
        let f = fixture();
        let machinery = f.store.create(customer("苏州精工机械有限公司", "13812345678")).unwrap();
        let found = check(&f, "苏州精工模具有限公司", "138-1234-5678");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].customer.id, found[0].decision), (machinery.id, Decision::Possible));
        assert!(!found[0].warning, "score {} is below the warning bar", found[0].score);
        assert!(found[0].reasons.contains(&MatchReason::DifferentNameWord));

        let outcome = f
            .store
            .create_customer_checked(
                customer("苏州精工模具有限公司", "138-1234-5678"),
                CreateMode::WarnIfDuplicates,
            )
            .unwrap();
        let CreateOutcome::Created { customer: moulds, candidates } = outcome else {
            panic!("a possible duplicate does not block saving: {outcome:?}");
        };
        assert_eq!(candidates.len(), 1, "it is still reported for review");
        assert_ne!(moulds.id, machinery.id);
    }

    #[test]
    fn a_likely_duplicate_blocks_a_checked_create_until_the_rep_insists() {
        let f = fixture();
        let existing = f.store.create(customer("东莞市鸿盛五金制品有限公司", "0769-8512 3456")).unwrap();
        let documents = f.store.document_count().unwrap();
        let outbox = f.store.outbox_len().unwrap();
        let draft = customer("鸿盛五金制品厂", "076985123456");

        let outcome = f.store.create_customer_checked(draft.clone(), CreateMode::WarnIfDuplicates).unwrap();
        let CreateOutcome::Duplicates(candidates) = outcome else { panic!("{outcome:?}") };
        assert_eq!(candidates[0].customer.id, existing.id);
        assert_eq!(f.store.document_count().unwrap(), documents, "nothing saved");
        assert_eq!(f.store.outbox_len().unwrap(), outbox);

        let outcome = f.store.create_customer_checked(draft, CreateMode::CreateAnyway).unwrap();
        let CreateOutcome::Created { customer: created, candidates } = outcome else { panic!("{outcome:?}") };
        assert_eq!(candidates[0].customer.id, existing.id);
        assert_eq!(f.store.get::<Customer>(created.id).unwrap(), created);
    }

    #[test]
    fn a_merged_away_customer_is_reported_as_the_customer_it_was_merged_into() {
        let f = fixture();
        let canonical = f.store.create(customer("苏州精工机械有限公司", "0512-6888 8888")).unwrap();
        f.clock.advance(60_000);
        let mut duplicate = f.store.create(customer("精工机械厂", "13812345678")).unwrap();
        duplicate.merged_into = Some(canonical.id);
        f.store.update(&duplicate).unwrap();

        let found = check(&f, "精工机械", "13812345678");
        assert_eq!(found.len(), 1, "one customer, reported once: {found:?}");
        assert_eq!(found[0].customer.id, canonical.id);
        assert_eq!(found[0].matched, duplicate.id, "the merged-away record's phone matched");
        assert_eq!(found[0].decision, Decision::Same);
        assert!(found.iter().all(|c| c.customer.merged_into.is_none()));
    }

    #[test]
    fn candidates_are_the_same_after_the_projections_are_rebuilt() {
        let f = fixture();
        populate_for_queries(&f);
        f.store.create(customer("昆山宏达精密机械有限公司", "0512-5771 2345转 301")).unwrap();
        let mut renamed = f.store.create(customer("常州华泰模具有限公司", "13912345678")).unwrap();
        renamed.company_name = "常州华泰精密模具有限公司".into();
        renamed.phones.push("0519-8888 1234".into());
        f.store.update(&renamed).unwrap();
        gram_counts_agree(&f.store);

        let queries =
            [("宏达精密机械", "0512-57712345"), ("华泰精密模具", "0519 88881234"), ("华泰模具", "")];
        let before: Vec<_> = queries.iter().map(|(n, p)| check(&f, n, p)).collect();
        assert!(before.iter().all(|c| !c.is_empty()), "{before:?}");
        assert_eq!(before[1][0].customer.id, renamed.id);
        assert_eq!(before[1][0].decision, Decision::Same, "found by the phone added later");

        f.store.rebuild_projections().unwrap();
        let after: Vec<_> = queries.iter().map(|(n, p)| check(&f, n, p)).collect();
        assert_eq!(before, after);
        gram_counts_agree(&f.store);
    }

    #[test]
    fn an_equal_credit_code_finds_the_customer_under_any_name_and_phone() {
        let f = fixture();
        let existing = f
            .store
            .create(NewCustomer {
                credit_code: Some("914403001922038216".into()),
                ..customer("华为技术有限公司", "0755-2878 0808")
            })
            .unwrap();
        let draft = NewCustomer {
            credit_code: Some("9144 0300 1922 0382 16".into()),
            ..customer("Huawei Technologies Co., Ltd.", "13800000000")
        };
        let found = f.store.duplicate_candidates(&draft).unwrap();
        assert_eq!((found[0].customer.id, found[0].decision), (existing.id, Decision::Same));
        assert_eq!(found[0].reasons, vec![MatchReason::CreditCodeMatch]);
        assert!(found[0].warning);
    }

    #[test]
    fn renaming_a_customer_moves_it_in_the_name_index() {
        let f = fixture();
        let mut c = f.store.create(customer("温州瑞丰阀门有限公司", "13812345678")).unwrap();
        c.company_name = "温州博远轴承有限公司".into();
        f.store.update(&c).unwrap();
        assert!(check(&f, "瑞丰阀门", "13700000000").is_empty(), "the old name is gone");
        assert_eq!(check(&f, "博远轴承", "13700000000")[0].customer.id, c.id);
        gram_counts_agree(&f.store);
    }

    #[test]
    fn a_lead_card_is_checked_by_its_company_and_phones() {
        let f = fixture();
        let existing = f.store.create(customer("佛山市顺德区美达电器有限公司", "0757-2233 4455")).unwrap();
        let card = NewLeadCard {
            raw_payload: "MECARD:N:陈明;ORG:美达电器;TEL:13812345678;TEL:075722334455;;".into(),
            format: "mecard".into(),
            name: Some("陈明".into()),
            company: Some("美达电器".into()),
            phones: vec!["13812345678".into(), "075722334455".into()],
            ..Default::default()
        };
        let found = f.store.lead_card_duplicate_candidates(&card).unwrap();
        assert_eq!((found[0].customer.id, found[0].decision), (existing.id, Decision::Same));

        let phone_only = NewLeadCard { company: None, ..card.clone() };
        let found = f.store.lead_card_duplicate_candidates(&phone_only).unwrap();
        assert_eq!((found[0].customer.id, found[0].decision), (existing.id, Decision::Possible));
        assert!(!found[0].warning);

        let name_only = NewLeadCard { phones: vec![], ..card };
        let found = f.store.lead_card_duplicate_candidates(&name_only).unwrap();
        assert_eq!(found[0].customer.id, existing.id);
    }

    #[test]
    fn a_scanned_card_s_extension_tells_customers_behind_one_switchboard_apart() {
        let f = fixture();
        let other_extension = f.store.create(customer("上海远大模具有限公司", "021-62345678转8022")).unwrap();
        let same_extension = f.store.create(customer("远大模具（上海）", "021 6234 5678 ext. 8021")).unwrap();
        let payload = "BEGIN:VCARD\nVERSION:4.0\nFN:周敏\nORG:上海远大模具有限公司\n\
                       TEL;VALUE=uri;TYPE=work:tel:+86-21-6234-5678;ext=8021\nEND:VCARD";
        let parsed = crate::leadcard::parse_payload(payload).unwrap();
        let card = NewLeadCard {
            raw_payload: payload.into(),
            format: "vcard4.0".into(),
            company: parsed.company,
            phones: parsed.phones.into_iter().map(|p| p.value).collect(),
            ..Default::default()
        };
        let found = f.store.lead_card_duplicate_candidates(&card).unwrap();
        let decision_of = |id| found.iter().find(|c| c.customer.id == id).map(|c| c.decision);
        assert_eq!(decision_of(same_extension.id), Some(Decision::Same));
        let other = found.iter().find(|c| c.customer.id == other_extension.id).expect("still a candidate");
        assert!(
            !other.reasons.iter().any(|r| matches!(r, MatchReason::SharedPhone { .. })),
            "another extension is not the same number: {:?}",
            other.reasons
        );
        assert!(other.reasons.contains(&MatchReason::SharedSwitchboard { e164: "+862162345678".into() }));
    }

    #[test]
    fn the_teams_thresholds_decide_what_warns() {
        let f = fixture();
        f.store.create(customer("宁波鑫达精密模具有限公司", "13812345678")).unwrap();
        assert!(check(&f, "宁波鑫大精密模具", "13700000000")[0].warning);
        assert_eq!(f.store.dedup_thresholds().unwrap(), crate::dedup::DedupThresholds::default());
        f.store
            .create(NewTeamRules {
                dedup_same_name: 0.97,
                dedup_possible_name: 0.5,
                ..NewTeamRules::default()
            })
            .unwrap();
        assert_eq!(f.store.dedup_thresholds().unwrap().same_name, 0.97);
        let found = check(&f, "宁波鑫大精密模具", "13700000000");
        assert!(!found[0].warning, "a one-character typo is below a 0.97 bar: {}", found[0].score);
    }

    #[test]
    fn an_import_merges_same_companies_creates_the_rest_and_refuses_bad_drafts_alone() {
        let f = fixture();
        let existing = f
            .store
            .create(NewCustomer {
                tags: vec!["老客户".into()],
                ..customer("苏州市精工机械有限公司", "0512-6888 8888")
            })
            .unwrap();
        f.clock.advance(60_000);
        let drafts = vec![
            NewCustomer {
                address: Some("苏州工业园区星湖街 8 号".into()),
                tags: vec!["展会".into()],
                ..customer("精工机械", "+86 512 68888888")
            },
            customer("无锡恒通电气有限公司", "13912345678"),
            customer("", "13900000000"),
            NewCustomer {
                phones: vec!["139 1234 5678".into(), "0510-8123 4567".into()],
                ..customer("恒通电气（无锡）", "")
            },
            customer("苏州精工模具有限公司", "0512-68888888"),
        ];
        let mut progress = Vec::new();
        let outcomes = f.store.import_customers(drafts, &mut |done| progress.push(done)).unwrap();
        assert_eq!(progress, vec![1, 2, 3, 4, 5]);

        let ImportedCustomer::Merged { into, conflicts, .. } = &outcomes[0] else {
            panic!("{:?}", outcomes[0])
        };
        assert_eq!(*into, existing.id);
        assert!(conflicts.is_empty());
        let merged: Customer = f.store.get(existing.id).unwrap();
        assert_eq!(merged.phones, vec!["0512-6888 8888"], "the same number is kept once");
        assert_eq!(merged.tags, vec!["老客户", "展会"]);
        assert_eq!(merged.address.as_deref(), Some("苏州工业园区星湖街 8 号"));
        assert_eq!(merged.company_name, "苏州市精工机械有限公司");

        let ImportedCustomer::Created { id: hengtong, .. } = &outcomes[1] else {
            panic!("{:?}", outcomes[1])
        };
        assert!(matches!(&outcomes[2], ImportedCustomer::Refused(e) if e.field == "company_name"));
        let ImportedCustomer::Merged { into, .. } = &outcomes[3] else { panic!("{:?}", outcomes[3]) };
        assert_eq!(into, hengtong, "an earlier row of the same import is found too");
        let hengtong: Customer = f.store.get(*hengtong).unwrap();
        assert_eq!(hengtong.phones, vec!["13912345678", "0510-8123 4567"]);
        let ImportedCustomer::Created { candidates, .. } = &outcomes[4] else { panic!("{:?}", outcomes[4]) };
        assert_eq!(
            candidates[0].customer.id, existing.id,
            "moulds vs machinery: created, flagged for review"
        );
        assert_eq!(candidates[0].decision, Decision::Possible);

        assert_eq!(f.store.document_count().unwrap(), 3, "existing + 恒通 + 模具");
        gram_counts_agree(&f.store);
    }
}

// ---- the funnel ------------------------------------------------------------------------------

mod funnel_queries {
    use super::*;

    fn deal(f: &Fixture, owner: &str, title: &str) -> Opportunity {
        let c = f.store.create(customer(&format!("{title} 客户"), "13500000000")).unwrap();
        f.store
            .create(NewOpportunity {
                customer_id: c.id,
                owner: owner.into(),
                title: title.into(),
                stage: Stage::FirstContact,
                amount: Some(Money { minor_units: 10_000_000, currency: "CNY".into() }),
                expected_close_at: None,
                next_action_due_at: None,
            })
            .unwrap()
    }

    /// Moves a deal forward through the funnel to `to`, attaching what each stage needs.
    fn advance(f: &Fixture, id: DocId, to: Stage) -> Opportunity {
        let mut current = f.store.get::<Opportunity>(id).unwrap();
        let start = current.stage;
        for stage in Stage::ALL.into_iter().filter(|s| *s > start && *s <= to && *s != Stage::Lost) {
            if stage == Stage::Won && current.stage != Stage::ContractSigning {
                continue;
            }
            let rules = f.store.team_rules().unwrap();
            let needs = match &rules {
                Some(r) => r.evidence_for(stage).to_vec(),
                None => NewTeamRules::default()
                    .stage_evidence
                    .iter()
                    .find(|e| e.stage == stage)
                    .map(|e| e.required.clone())
                    .unwrap_or_default(),
            };
            for kind in needs {
                f.store
                    .attach_deal_evidence(id, kind, kind.label_zh(), format!("{id}{kind}").as_bytes())
                    .unwrap();
            }
            current = f.store.move_stage(id, stage, None).unwrap();
        }
        current
    }

    #[test]
    fn the_reps_phone_reminds_before_the_supervisor_would_be_alerted_and_visits_count_as_activity() {
        let f = fixture();
        let quiet = deal(&f, "rep-li", "安静的方案");
        advance(&f, quiet.id, Stage::ProposalSubmitted);
        let visited = deal(&f, "rep-li", "拜访过的方案");
        advance(&f, visited.id, Stage::ProposalSubmitted);
        let other = deal(&f, "rep-wang", "别人的方案");
        advance(&f, other.id, Stage::ProposalSubmitted);
        let entered = NOW;

        f.clock.set(entered + 3 * DAY_MS);
        let visit = f
            .store
            .create(NewVisit {
                customer_id: visited.customer_id,
                opportunity_id: Some(visited.id),
                planned_at: f.clock.now_ms(),
                notes: String::new(),
            })
            .unwrap();
        f.store.check_in(visit.id, at(31.0, 120.0, Datum::Wgs84), CaptureContext::default()).unwrap();

        f.clock.set(entered + 6 * DAY_MS);
        assert!(
            f.store.stalled_deals(Some("rep-li"), StallLevel::Reminder, f.clock.now_ms()).unwrap().is_empty()
        );

        // Day 7 of 方案提交 (8-day rules, reminder a day before): the quiet deal is due a reminder.
        f.clock.set(entered + 7 * DAY_MS);
        let reminders =
            f.store.stalled_deals(Some("rep-li"), StallLevel::Reminder, f.clock.now_ms()).unwrap();
        assert_eq!(reminders.len(), 2, "rep-wang's deal is not rep-li's: {reminders:?}");
        let kinds = |id| -> Vec<StallKind> {
            reminders.iter().find(|s| s.deal.id == id).unwrap().due.iter().map(|t| t.kind).collect()
        };
        assert_eq!(kinds(quiet.id), [StallKind::NoActivity, StallKind::StageTooLong]);
        assert_eq!(
            kinds(visited.id),
            [StallKind::StageTooLong],
            "the visit on day 3 restarted its activity clock"
        );
        assert!(reminders.iter().all(|s| s.level == StallLevel::Reminder));
        assert_eq!(reminders[0].next_due_at, Some(entered + 8 * DAY_MS));

        // Day 9: both of rep-li's deals are past the 8-day stage limit; the supervisor's view has
        // rep-wang's too, and reminders are left out of it.
        f.clock.set(entered + 9 * DAY_MS);
        let team = f.store.stalled_deals(None, StallLevel::Supervisor, f.clock.now_ms()).unwrap();
        assert_eq!(team.len(), 3);
        assert!(team.iter().all(|s| s.due.iter().all(|t| t.level >= StallLevel::Supervisor)));
        let visited_row = team.iter().find(|s| s.deal.id == visited.id).unwrap();
        assert_eq!(visited_row.last_activity_at, entered + 3 * DAY_MS);
        assert!(visited_row.due.iter().all(|t| t.kind == StallKind::StageTooLong));
    }

    #[test]
    fn a_logged_call_with_its_summary_counts_as_activity_on_the_deal_and_an_empty_one_does_not() {
        use crate::model::{ActivityType, NewActivity};
        let f = fixture();
        let called = deal(&f, "rep-li", "电话跟进的方案");
        advance(&f, called.id, Stage::ProposalSubmitted);
        let dialled = deal(&f, "rep-li", "只拨了号的方案");
        advance(&f, dialled.id, Stage::ProposalSubmitted);
        let entered = NOW;

        f.clock.set(entered + 3 * DAY_MS);
        let call = |deal: &Opportunity, summary: &str| NewActivity {
            activity_type: ActivityType::Call,
            customer_id: deal.customer_id,
            opportunity_id: Some(deal.id),
            visit_id: None,
            contact: None,
            phone: None,
            at: f.clock.now_ms(),
            duration_s: Some(240),
            summary: summary.into(),
            outcome: None,
            next_action: None,
        };
        f.store.log_activity(call(&called, "客户确认下周三看样机")).unwrap();
        f.store.log_activity(call(&dialled, "")).unwrap();

        f.clock.set(entered + 7 * DAY_MS);
        let reminders =
            f.store.stalled_deals(Some("rep-li"), StallLevel::Reminder, f.clock.now_ms()).unwrap();
        let kinds = |id| -> Vec<StallKind> {
            reminders.iter().find(|s| s.deal.id == id).unwrap().due.iter().map(|t| t.kind).collect()
        };
        assert_eq!(
            kinds(called.id),
            [StallKind::StageTooLong],
            "the call on day 3 restarted its activity clock"
        );
        assert_eq!(
            kinds(dialled.id),
            [StallKind::NoActivity, StallKind::StageTooLong],
            "no summary, no activity"
        );
        let row = reminders.iter().find(|s| s.deal.id == called.id).unwrap();
        assert_eq!(row.last_activity_at, entered + 3 * DAY_MS);
    }

    #[test]
    fn funnel_counts_and_stage_conversion_per_rep_and_for_the_team() {
        let f = fixture();
        let mut ids = Vec::new();
        for (owner, to) in [
            ("rep-li", Stage::FirstContact),
            ("rep-li", Stage::NeedsConfirmed),
            ("rep-li", Stage::ProposalSubmitted),
            ("rep-li", Stage::Won),
            ("rep-wang", Stage::NeedsConfirmed),
            ("rep-wang", Stage::Negotiation),
        ] {
            let d = deal(&f, owner, &format!("{owner}-{to}"));
            advance(&f, d.id, to);
            ids.push(d.id);
        }
        // rep-wang's negotiation falls through; a backward move is history, not a new entry.
        f.store.move_stage(ids[5], Stage::ProposalSubmitted, Some("重新报价".into())).unwrap();
        f.store.move_stage(ids[5], Stage::Lost, None).unwrap();

        let report = f.store.funnel_report().unwrap();
        let count = |counts: &[StageCount], stage| counts.iter().find(|c| c.stage == stage).unwrap().deals;
        assert_eq!(count(&report.team, Stage::FirstContact), 1);
        assert_eq!(count(&report.team, Stage::NeedsConfirmed), 2);
        assert_eq!(count(&report.team, Stage::Won), 1);
        assert_eq!(count(&report.team, Stage::Lost), 1);
        assert_eq!(report.team.iter().map(|c| c.deals).sum::<u64>(), 6);
        assert_eq!(
            report.team.iter().find(|c| c.stage == Stage::NeedsConfirmed).unwrap().amount_cny_minor,
            20_000_000
        );
        let owners: Vec<_> = report.by_owner.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(owners, ["rep-li", "rep-wang"]);

        let team = f.store.stage_conversion(None).unwrap();
        let step = |rows: &[StageConversion], from| {
            let row = rows.iter().find(|r| r.from == from).unwrap();
            (row.entered, row.advanced)
        };
        assert_eq!(step(&team, Stage::FirstContact), (6, 5));
        assert_eq!(step(&team, Stage::NeedsConfirmed), (5, 3));
        assert_eq!(step(&team, Stage::ProposalSubmitted), (3, 2));
        assert_eq!(step(&team, Stage::ContractSigning), (1, 1));
        let li = f.store.stage_conversion(Some("rep-li")).unwrap();
        assert_eq!(step(&li, Stage::FirstContact), (4, 3));
        assert_eq!(li.iter().find(|r| r.from == Stage::NeedsConfirmed).unwrap().rate(), Some(2.0 / 3.0));
        assert_eq!(f.store.stage_conversion(Some("nobody")).unwrap()[0].rate(), None);
    }

    #[test]
    fn evidence_is_checked_against_the_synced_rules_and_bad_documents_are_refused() {
        let f = fixture();
        let d = deal(&f, "rep-li", "规则");
        assert!(matches!(
            f.store.attach_deal_evidence(d.id, EvidenceKind::Quote, "空.pdf", b""),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            f.store.attach_deal_evidence(d.id, EvidenceKind::Quote, "  ", b"x"),
            Err(StoreError::Invalid(_))
        ));
        assert!(f.store.get::<Opportunity>(d.id).unwrap().evidence.is_empty(), "nothing saved");
        // A team that asks for nothing on entry lets the move through.
        let mut rules = NewTeamRules::default();
        rules.stage_evidence.clear();
        f.store.create(rules).unwrap();
        assert_eq!(
            f.store.move_stage(d.id, Stage::ProposalSubmitted, None).unwrap().stage,
            Stage::ProposalSubmitted
        );
    }
}

#[test]
fn a_sync_request_never_carries_more_changes_than_the_relay_takes() {
    let f = fixture();
    let cap = crate::sync::wire::MAX_CHANGES_PER_REQUEST;
    let doc_id = crate::DocId::generate();
    f.store
        .db
        .write(|tx| {
            let mut insert = tx.prepare(
                "INSERT INTO outbox (change_hash, doc_id, kind, bytes, created_at) VALUES (?1, ?2, 'customer', ?3, 0)",
            )?;
            for i in 0..=cap {
                insert.execute(rusqlite::params![i.to_le_bytes().to_vec(), doc_id, vec![1u8]])?;
            }
            Ok(())
        })
        .unwrap();
    let limits = PushLimits { max_changes: u32::MAX, max_bytes: usize::MAX, ..Default::default() };
    let prepared = f.store.prepare_sync(limits).unwrap();
    assert_eq!(prepared.request.changes.len(), cap as usize);
    // The relay's decoder takes what the phone builds.
    assert!(crate::sync::wire::SyncRequest::decode(&prepared.request.encode()).is_ok());
}

/// Records changed by another Automerge implementation (@automerge/automerge's defaults: text
/// objects for strings), arriving through the relay.
mod foreign_writers {
    use automerge::transaction::{Transactable, Transaction};
    use automerge::{ActorId, ObjType, ROOT};

    use super::*;
    use crate::sync::wire::{DocumentBytes, SyncResponse};

    /// A change by another device to the stored document `id` as it is now (or to a new one).
    fn remote_change(f: &Fixture, id: DocId, edit: impl FnOnce(&mut Transaction<'_>)) -> Vec<u8> {
        let stored = f.store.db.read(|conn| documents::load(conn, id)).unwrap();
        let mut doc = stored.map(|s| s.doc).unwrap_or_default().with_actor(ActorId::from([9u8; 16]));
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        doc.get_last_local_change().unwrap().raw_bytes().to_vec()
    }

    fn put_text(tx: &mut Transaction<'_>, obj: &automerge::ObjId, key: &str, value: &str) {
        let text = tx.put_object(obj, key, ObjType::Text).unwrap();
        tx.splice_text(&text, 0, 0, value).unwrap();
    }

    /// Syncs with a relay that acknowledges everything pushed and sends `changes`.
    fn receive(f: &Fixture, changes: Vec<(DocId, Vec<u8>)>) -> AppliedSync {
        let prepared = f.store.prepare_sync(PushLimits::default()).unwrap();
        let response = SyncResponse {
            server_time_ms: NOW as u64,
            accepted: prepared.request.changes.len() as u32,
            changes: changes.into_iter().map(|(doc_id, bytes)| DocumentBytes { doc_id, bytes }).collect(),
            cursor: vec![1, 1, 5],
            ..Default::default()
        };
        f.store.apply_sync(&prepared, &response).unwrap()
    }

    #[test]
    fn a_check_in_keeps_a_concurrent_edit_to_notes_another_writer_keeps_as_text() {
        let f = fixture();
        let c = f.store.create(customer("宁波海天塑机", "0574-8888 1234")).unwrap();
        let visit = f
            .store
            .create(NewVisit {
                customer_id: c.id,
                opportunity_id: None,
                planned_at: NOW,
                notes: String::new(),
            })
            .unwrap();
        // A JavaScript client writes the notes the ordinary JS way: as Text.
        let first = remote_change(&f, visit.id, |tx| put_text(tx, &ROOT, "notes", "带样品"));
        assert_eq!(receive(&f, vec![(visit.id, first)]).quarantined, 0);
        // It goes on typing into that Text while the rep, offline, checks in.
        let typing = remote_change(&f, visit.id, |tx| {
            let (_, notes) = tx.get(ROOT, "notes").unwrap().unwrap();
            tx.splice_text(&notes, 3, 0, "和报价单").unwrap();
        });
        f.store.check_in(visit.id, at(31.0, 120.0, Datum::Wgs84), CaptureContext::default()).unwrap();
        let applied = receive(&f, vec![(visit.id, typing)]);
        assert_eq!(applied.quarantined, 0, "{applied:?}");
        let read: Visit = f.store.get(visit.id).unwrap();
        assert_eq!(read.notes, "带样品和报价单");
        assert_eq!(read.fixes.len(), 1);
    }

    #[test]
    fn a_rename_written_as_text_applies_and_the_record_reads_and_is_indexed_under_its_new_name() {
        let f = fixture();
        let c = f.store.create(customer("南通凯丰注塑有限责任公司", "0513-8123 4567")).unwrap();
        let change = remote_change(&f, c.id, |tx| put_text(tx, &ROOT, "company_name", "凯丰注塑科技"));
        let applied = receive(&f, vec![(c.id, change)]);
        assert_eq!((applied.documents_changed, applied.quarantined), (1, 0), "{applied:?}");
        assert_eq!(f.store.get::<Customer>(c.id).unwrap().company_name, "凯丰注塑科技");
        let found = f.store.customers_by_name_prefix("凯丰", 10).unwrap();
        assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), vec![c.id]);
    }

    #[test]
    fn a_remote_change_that_would_make_a_record_unreadable_is_quarantined_and_the_reps_edit_stays() {
        let f = fixture();
        let c = f.store.create(customer("苏州精工机械有限公司", "0512-6888 8888")).unwrap();
        // Another writer, concurrently, stores a map where the company name belongs.
        let change = remote_change(&f, c.id, |tx| {
            let name = tx.put_object(ROOT, "company_name", ObjType::Map).unwrap();
            tx.put(&name, "zh", "苏州精工").unwrap();
        });
        let mut edited = c.clone();
        edited.address = Some("苏州工业园区星湖街 328 号".into());
        f.store.update(&edited).unwrap();

        let applied = receive(&f, vec![(c.id, change)]);
        assert_eq!((applied.documents_changed, applied.quarantined), (0, 1), "{applied:?}");
        assert_eq!(f.store.get::<Customer>(c.id).unwrap(), edited, "still readable, with the rep's edit");
        let quarantined = f.store.quarantined_entries(10).unwrap();
        assert_eq!(quarantined.len(), 1);
        assert!(quarantined[0].reason.contains("field company_name"), "{}", quarantined[0].reason);
        assert_eq!(f.store.documents_to_repair(5).unwrap()[0].doc_id, c.id);
        assert_eq!(f.store.customers_by_name_prefix("苏州精工", 10).unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_enum_spelling_is_quarantined_and_the_deal_keeps_its_stage() {
        let f = fixture();
        let c = f.store.create(customer("A", "1")).unwrap();
        let deal = f
            .store
            .create(NewOpportunity {
                customer_id: c.id,
                owner: "rep-li".into(),
                title: "注塑机".into(),
                stage: Stage::FirstContact,
                amount: None,
                expected_close_at: None,
                next_action_due_at: None,
            })
            .unwrap();
        let change = remote_change(&f, deal.id, |tx| put_text(tx, &ROOT, "stage", "needs_confirmed"));
        let applied = receive(&f, vec![(deal.id, change)]);
        assert_eq!(applied.quarantined, 1, "{applied:?}");
        assert_eq!(f.store.get::<Opportunity>(deal.id).unwrap().stage, Stage::FirstContact);
    }

    /// A fresh phone's page is read on several threads before its transaction (issue 17): each
    /// snapshot keeps the fate it had on one thread — stored as sent and indexed, or quarantined.
    #[test]
    fn a_large_page_of_snapshots_read_in_parallel_keeps_each_ones_fate() {
        let source = fixture();
        let good: Vec<Customer> = (0..150)
            .map(|i| {
                source
                    .store
                    .create(customer(&format!("常州第{i}轴承有限公司"), &format!("139{i:08}")))
                    .unwrap()
            })
            .collect();
        let saved =
            |id: DocId| source.store.db.read(|conn| documents::load(conn, id)).unwrap().unwrap().doc.save();
        let mut page: Vec<(DocId, Vec<u8>)> = good.iter().map(|c| (c.id, saved(c.id))).collect();
        // A snapshot damaged in transit, and a new record that never reads as a customer.
        let mut damaged = saved(good[0].id);
        let last = damaged.len() - 1;
        damaged[last] ^= 0x55;
        let damaged_id = DocId::generate();
        page.insert(70, (damaged_id, damaged));
        let unreadable_id = DocId::generate();
        let mut unreadable = Automerge::new().with_actor(ActorId::from([9u8; 16]));
        let mut tx = unreadable.transaction();
        tx.put(ROOT, "kind", "customer").unwrap();
        tx.put_object(ROOT, "company_name", ObjType::List).unwrap();
        tx.commit();
        page.insert(120, (unreadable_id, unreadable.save()));

        let f = fixture();
        let prepared = f.store.prepare_sync(PushLimits::default()).unwrap();
        let response = SyncResponse {
            server_time_ms: NOW as u64,
            snapshots: page
                .iter()
                .map(|(doc_id, bytes)| DocumentBytes { doc_id: *doc_id, bytes: bytes.clone() })
                .collect(),
            cursor: vec![1, 1, 5],
            ..Default::default()
        };
        let applied = f.store.apply_sync(&prepared, &response).unwrap();
        assert_eq!((applied.documents_changed, applied.quarantined), (150, 2), "{applied:?}");
        assert_eq!(f.store.customer_count().unwrap(), 150);
        assert_eq!(f.store.find::<Customer>(damaged_id).unwrap(), None);
        assert_eq!(f.store.find::<Customer>(unreadable_id).unwrap(), None);
        for c in [&good[0], &good[69], &good[70], &good[149]] {
            // Stored as the relay saved it, read back whole, and indexed for search.
            let stored = f
                .store
                .db
                .read(|conn| {
                    Ok(conn.query_row(
                        "SELECT snapshot FROM documents WHERE doc_id = ?1",
                        [c.id.to_string()],
                        |r| r.get::<_, Vec<u8>>(0),
                    )?)
                })
                .unwrap();
            assert_eq!(stored, saved(c.id));
            assert_eq!(f.store.get::<Customer>(c.id).unwrap(), *c);
            let found = f.store.customers_by_phone_prefix(&c.phones[0], 5).unwrap();
            assert!(found.iter().any(|s| s.id == c.id), "{found:?}");
        }
    }

    #[test]
    fn a_new_record_that_never_reads_is_quarantined_and_listed_nowhere() {
        let f = fixture();
        let id = DocId::generate();
        let change = remote_change(&f, id, |tx| {
            tx.put(ROOT, "kind", "customer").unwrap();
            tx.put_object(ROOT, "company_name", ObjType::List).unwrap();
        });
        let applied = receive(&f, vec![(id, change)]);
        assert_eq!((applied.documents_changed, applied.quarantined), (0, 1), "{applied:?}");
        assert_eq!(f.store.find::<Customer>(id).unwrap(), None);
        assert_eq!(f.store.document_count().unwrap(), 0);
    }
}
