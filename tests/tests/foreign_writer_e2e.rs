//! Records written by another Automerge implementation: `tests/js/foreign_writer.mjs` writes
//! every kind a device may write with @automerge/automerge (npm) in the ordinary JavaScript way,
//! enrols and pushes through a real relay process with the HTTP protocol of docs/protocol.md, and
//! a Rust device reads them back with every field intact; then both edit the same records
//! concurrently and each keeps the other's edit.
//!
//! Needs `node` and `npm ci` in `tests/js` (scripts/test.sh does both); without `node` the test
//! says so and passes without running.

use std::path::PathBuf;
use std::process::Command;

use automerge::{ObjType, ROOT, ReadDoc, Value};
use fieldsync_core::model::*;
use fieldsync_core::sync::wire::DICTIONARY;
use fieldsync_core::{DeviceId, DocId, Store};
use fieldsync_e2e::{RelayProcess, admin, enroll};

const AT: i64 = 1_795_654_800_000;

fn js_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/js"))
}

fn code(boot: &serde_json::Value, role: &str) -> String {
    boot["users"].as_array().unwrap().iter().find(|u| u["role"] == role).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs the JS client; its stdout as JSON.
fn node(args: &[&str]) -> serde_json::Value {
    let out =
        Command::new("node").arg(js_dir().join("foreign_writer.mjs")).args(args).output().expect("run node");
    assert!(
        out.status.success(),
        "node foreign_writer.mjs {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the JS client prints JSON")
}

fn node_is_installed() -> bool {
    Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn id(ids: &serde_json::Value, kind: &str) -> DocId {
    ids[kind].as_str().unwrap().parse().unwrap()
}

/// The root field `key` of the record as stored: what Automerge type the JS writer chose.
fn stored_type(store: &Store, id: DocId, key: &str) -> String {
    let doc = automerge::Automerge::load(&store.export_document(id).unwrap()).unwrap();
    match doc.get(ROOT, key).unwrap() {
        Some((Value::Object(ObjType::Text), _)) => "text".into(),
        Some((Value::Object(other), _)) => format!("{other:?}"),
        Some((Value::Scalar(s), _)) => format!("{s:?}"),
        None => "absent".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_by_automerge_js_read_with_every_field_and_concurrent_edits_merge() {
    if !node_is_installed() {
        eprintln!(
            "SKIPPED: `node` is not installed; the foreign-writer test needs Node 20 (scripts/test.sh)"
        );
        return;
    }
    assert!(
        js_dir().join("node_modules/@automerge/automerge").is_dir(),
        "@automerge/automerge is not installed: run `npm ci` in {} (scripts/test.sh does)",
        js_dir().display()
    );
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "0", "--supervisors", "1", "--admins", "1"]);
    let relay = RelayProcess::start(data.path());
    let js_state = tempfile::tempdir().unwrap();
    let dictionary = js_state.path().join("dictionary.bin");
    std::fs::write(&dictionary, DICTIONARY).unwrap();
    let state = js_state.path().to_str().unwrap();
    let dict = dictionary.to_str().unwrap();

    let created = node(&["create", &relay.url(), &code(&boot, "admin"), state, dict]);
    assert_eq!(created["pushed"], 6, "{created}");
    let ids = &created["ids"];
    let js: DeviceId = created["device_id"].as_str().unwrap().parse().unwrap();
    let provenance = Provenance { created_at: AT, created_by: js };

    let phone = enroll(&relay.url(), &code(&boot, "supervisor")).await;
    let report = phone.client.sync(&phone.store, |_| {}).await.unwrap();
    assert_eq!(report.quarantined, 0, "{report:?}");
    let store = &phone.store;

    // Every field, as the JS client wrote it (tests/js/foreign_writer.mjs, `records`).
    let customer_id = id(ids, "customer");
    let customer = Customer {
        id: customer_id,
        company_name: "南通凯丰注塑有限责任公司".into(),
        contacts: vec![Contact {
            name: "陈静".into(),
            title: Some("采购经理".into()),
            phones: vec!["13912345678".into()],
            email: None,
        }],
        phones: vec!["0513-8123 4567".into()],
        address: Some("南通市崇川区工农路 88 号".into()),
        location: Some(Location {
            lat: 32.0,
            lon: 120.8641,
            datum: Datum::Wgs84,
            source: FixSource::Manual,
            accuracy_m: None,
            at: None,
            mock: false,
        }),
        tags: vec!["注塑".into(), "重点".into()],
        credit_code: None,
        merged_into: None,
        provenance,
    };
    assert_eq!(store.get::<Customer>(customer_id).unwrap(), customer);
    assert_eq!(stored_type(store, customer_id, "company_name"), "text", "the JS default, read leniently");
    let listed = store.customers_by_name_prefix("南通凯丰", 10).unwrap();
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![customer_id]);

    let lead_card = LeadCard {
        id: id(ids, "lead_card"),
        raw_payload: "BEGIN:VCARD\nVERSION:3.0\nFN:陈静\nORG:凯丰注塑\nTEL:13912345678\nEND:VCARD".into(),
        format: "vcard".into(),
        name: Some("陈静".into()),
        company: Some("凯丰注塑".into()),
        title: None,
        phones: vec!["13912345678".into()],
        emails: vec!["chen@kaifeng.example".into()],
        address: None,
        url: None,
        source_event: Some("CHINAPLAS 2026".into()),
        customer_id: Some(customer_id),
        provenance,
    };
    assert_eq!(store.get::<LeadCard>(lead_card.id).unwrap(), lead_card);

    let opportunity_id = id(ids, "opportunity");
    let opportunity = Opportunity {
        id: opportunity_id,
        customer_id,
        owner: "rep-chen".into(),
        title: "二号车间 280 吨注塑机".into(),
        stage: Stage::NeedsConfirmed,
        stage_entered_at: AT + 1000,
        stage_history: vec![
            StageChange { from: None, to: Stage::FirstContact, at: AT, by: js, note: None },
            StageChange {
                from: Some(Stage::FirstContact),
                to: Stage::NeedsConfirmed,
                at: AT + 1000,
                by: js,
                note: Some("技术交流会".into()),
            },
        ],
        amount: Some(Money { minor_units: 12_800_000, currency: "CNY".into() }),
        margin: None,
        expected_close_at: Some(AT + 30 * 86_400_000),
        next_action_due_at: None,
        evidence: vec![DealEvidence {
            sha256: "a".repeat(64),
            kind: EvidenceKind::TechnicalDocument,
            name: "规格书.pdf".into(),
            added_at: AT + 900,
            added_by: js,
        }],
        provenance,
    };
    assert_eq!(store.get::<Opportunity>(opportunity_id).unwrap(), opportunity);

    let fix = Location {
        lat: 31.2989,
        lon: 120.0,
        datum: Datum::Gcj02,
        source: FixSource::Gps,
        accuracy_m: Some(8.0),
        at: Some(AT + 60_000),
        mock: false,
    };
    let visit_id = id(ids, "visit");
    let visit = Visit {
        id: visit_id,
        customer_id,
        opportunity_id: Some(opportunity_id),
        planned_at: AT,
        started_at: Some(AT + 60_000),
        ended_at: None,
        fixes: vec![fix],
        photos: vec![PhotoRef {
            sha256: "b".repeat(64),
            thumbnail_sha256: Some("c".repeat(64)),
            taken_at: AT + 120_000,
            original_sha256: None,
            exif_location: None,
            exif_taken_at: None,
            fix: None,
            on_site: Some(true),
            flags: vec![],
        }],
        notes: "客户要求下周报价".into(),
        next_step: None,
        on_site: Some(true),
        flags: vec![EvidenceFlag::new("no_exif", "the photo has no EXIF block")],
        provenance,
    };
    assert_eq!(store.get::<Visit>(visit_id).unwrap(), visit);

    let slip_id = id(ids, "service_slip");
    let slip = ServiceSlip {
        id: slip_id,
        visit_id,
        items: vec![
            SlipItem { description: "保养".into(), quantity: 2.0, unit: "台".into() },
            SlipItem { description: "调试".into(), quantity: 1.5, unit: "hours".into() },
        ],
        notes: String::new(),
        signer_name: None,
        signature_png_sha256: None,
        strokes_sha256: None,
        photo_sha256s: vec![],
        fix: None,
        signed_by: None,
        device_public_key: None,
        content_sha256: None,
        device_signature: None,
        signed_at: None,
        provenance,
    };
    assert_eq!(store.get::<ServiceSlip>(slip_id).unwrap(), slip);
    assert_eq!(stored_type(store, slip_id, "items"), "List");

    let rules_id = id(ids, "team_rules");
    let rule = StageRule::new;
    let rules = TeamRules {
        id: rules_id,
        geofence_radius_m: 250.0,
        geofence_mode: GeofenceMode::Hard,
        stage_rules: vec![
            rule(Stage::FirstContact, 5, 5),
            rule(Stage::NeedsConfirmed, 7, 10),
            rule(Stage::ProposalSubmitted, 8, 8),
            rule(Stage::Negotiation, 10, 15),
            rule(Stage::ContractSigning, 3, 3),
        ],
        stage_evidence: vec![StageEvidence {
            stage: Stage::ProposalSubmitted,
            required: vec![EvidenceKind::Quote],
        }],
        alert_grace_hours: 12,
        required_customer_fields: vec!["address".into()],
        dedup_same_name: 0.85,
        dedup_possible_name: 0.6,
        // Not written by the JavaScript writer: the defaults.
        pool_return_days: 30,
        pool_return_without_won_days: 0,
        max_owned_customers: 200,
        reclaim_cooldown_days: 30,
        pool_warn_days: 3,
        // The JS writer predates the heat thresholds: they read as the defaults.
        heat_window_days: 30,
        heat_hot_touches: 4,
        heat_dormant_days: 60,
        heat_new_lead_days: 14,
        // Nor the KPI calendar and incentive rules: China time, no holidays, no rules.
        utc_offset_minutes: 480,
        holidays: Vec::new(),
        make_up_working_days: Vec::new(),
        incentive_rules: Vec::new(),
        brief_weekday: 1,
        brief_hour: 8,
        provenance,
    };
    assert_eq!(store.get::<TeamRules>(rules_id).unwrap(), rules);
    assert_eq!(stored_type(store, rules_id, "geofence_radius_m"), "Int(250)", "a whole number from JS");

    // Concurrent edits: the Rust device edits and pushes; the JS device, without pulling,
    // edits the same records (text in place, a list, a number) and pushes.
    let mut c = store.get::<Customer>(customer_id).unwrap();
    c.tags.push("样品已寄".into());
    c.address = Some("南通市崇川区工农路 90 号".into());
    store.update(&c).unwrap();
    let mut v = store.get::<Visit>(visit_id).unwrap();
    v.next_step = Some("周三送样".into());
    store.update(&v).unwrap();
    let mut s = store.get::<ServiceSlip>(slip_id).unwrap();
    s.notes = "夜班完成".into();
    store.update(&s).unwrap();
    phone.client.sync(store, |_| {}).await.unwrap();
    assert!(store.rejected_changes(10).unwrap().is_empty(), "{:?}", store.rejected_changes(10));

    let edited = node(&["edit", &relay.url(), state, dict]);
    assert_eq!(edited["pushed"], 3, "{edited}");
    let report = phone.client.sync(store, |_| {}).await.unwrap();
    assert_eq!(report.quarantined, 0, "{report:?}");

    let merged = store.get::<Customer>(customer_id).unwrap();
    assert_eq!(merged.company_name, "南通凯丰有限责任公司", "the JS text edit");
    assert_eq!(merged.phones, ["0513-8123 4567", "0513-8123 4568"], "the JS list edit");
    assert_eq!(merged.tags, ["注塑", "重点", "样品已寄"], "the Rust edit");
    assert_eq!(merged.address.as_deref(), Some("南通市崇川区工农路 90 号"), "the Rust edit");
    assert_eq!(merged.contacts, customer.contacts, "untouched");
    let listed = store.customers_by_name_prefix("南通凯丰有限", 10).unwrap();
    assert_eq!(listed.len(), 1, "the name index follows the JS edit");

    let merged = store.get::<Visit>(visit_id).unwrap();
    assert_eq!(merged.notes, "客户要求下周报价，带样品", "the JS text edit");
    assert_eq!(merged.next_step.as_deref(), Some("周三送样"), "the Rust edit");
    assert_eq!(merged.fixes, visit.fixes);

    let merged = store.get::<ServiceSlip>(slip_id).unwrap();
    assert_eq!(merged.notes, "夜班完成", "the Rust edit");
    assert_eq!(
        merged.items,
        vec![
            SlipItem { description: "保养".into(), quantity: 3.0, unit: "台".into() },
            SlipItem { description: "调试".into(), quantity: 1.5, unit: "hours".into() },
            SlipItem { description: "更换滤芯".into(), quantity: 4.0, unit: "件".into() },
        ],
        "the JS edits"
    );
}
