//! `fieldsync photo …` and `fieldsync qr decode`, run as a real process on the shared fixtures.

use std::path::PathBuf;

use fieldsync_e2e::run_fieldsync;
use serde_json::Value;

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures"));
    assert!(
        dir.is_dir(),
        "the shared fixtures are missing at {}; they sit beside the repository",
        dir.display()
    );
    dir
}

#[test]
fn photo_inspect_reports_gps_matching_the_expected_values() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("exif/expected.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (name, facts) in expected.as_object().unwrap() {
        let Some(gps) = facts.get("gps_wgs84").and_then(Value::as_array) else { continue };
        let out = run_fieldsync(&["photo", "inspect", fixtures().join("exif").join(name).to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        for axis in 0..2 {
            let (a, b) = (got["gps"][axis].as_f64().unwrap(), gps[axis].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-5, "{name}: {a} vs {b}");
        }
        assert_eq!(got["pixels"], facts["pixels"], "{name}");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} fixtures carried GPS");
}

#[test]
fn photo_inspect_of_a_file_that_is_not_a_jpeg_exits_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.jpg");
    std::fs::write(&fake, b"this is not a JPEG").unwrap();
    let out = run_fieldsync(&["photo", "inspect", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
}

#[test]
fn photo_ingest_writes_a_copy_and_a_thumbnail_within_the_size_limits() {
    let out_dir = tempfile::tempdir().unwrap();
    let photo = fixtures().join("exif/mobile_HMD_Nokia_8.3_5G.jpg");
    let out = run_fieldsync(&[
        "photo",
        "ingest",
        photo.to_str().unwrap(),
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains("copy") && text.contains("thumb"), "{text}");
    let files: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert!(files.len() >= 2, "copy and thumbnail written");
}

#[test]
fn qr_decode_prints_the_text_of_a_fixture_and_an_error_line_for_a_non_image() {
    let image = fixtures().join("qr/qrcode-1/1.png");
    let expected = std::fs::read_to_string(fixtures().join("qr/qrcode-1/1.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not a png").unwrap();
    let out = run_fieldsync(&["qr", "decode", image.to_str().unwrap(), junk.to_str().unwrap()]);
    assert!(!out.status.success(), "a file that failed makes the exit code non-zero");
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["text"].as_str().unwrap().trim_end(), expected.trim_end());
    assert!(lines[1]["error"].is_string(), "{}", lines[1]);
}

mod slip_verify {
    use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
    use fieldsync_core::model::{NewCustomer, NewServiceSlip, NewVisit, ServiceSlip, SlipItem};
    use fieldsync_core::store::SlipSignature;
    use fieldsync_core::{DocId, Store};
    use fieldsync_e2e::run_fieldsync;

    /// A store with one signed slip; returns the store path, the slip id and the slip document.
    fn signed_slip(dir: &std::path::Path) -> (std::path::PathBuf, DocId, Vec<u8>) {
        let path = dir.join("rep.fieldsync");
        let store = Store::open(&path).unwrap();
        let customer = store
            .create(NewCustomer {
                company_name: "苏州精工机械有限公司".into(), ..Default::default()
            })
            .unwrap();
        let visit = store
            .create(NewVisit {
                customer_id: customer.id,
                opportunity_id: None,
                planned_at: 1,
                notes: String::new(),
            })
            .unwrap();
        let slip = store
            .create(NewServiceSlip {
                visit_id: visit.id,
                items: vec![SlipItem {
                    description: "更换刀库电机".into(),
                    quantity: 1.0,
                    unit: "台".into(),
                }],
                notes: String::new(),
            })
            .unwrap();
        let stroke = (0..20u32)
            .map(|i| StrokePoint {
                x: 10.0 + i as f32 * 9.0,
                y: 40.0 + (i % 5) as f32 * 6.0,
                t_ms: i * 9,
                pressure: 0.6,
            })
            .collect();
        let strokes = SignatureStrokes { pad_width: 200.0, pad_height: 100.0, strokes: vec![stroke] };
        store.sign_slip(slip.id, SlipSignature { signer_name: "王建国".into(), strokes, fix: None }).unwrap();
        let doc = store.export_document(slip.id).unwrap();
        store.close().unwrap();
        (path, slip.id, doc)
    }

    #[test]
    fn a_signed_slip_verifies_with_and_without_its_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let (store_path, slip_id, doc) = signed_slip(dir.path());
        let file = dir.path().join("slip.automerge");
        std::fs::write(&file, &doc).unwrap();
        let out = run_fieldsync(&["slip", "verify", file.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.starts_with(&format!("valid: slip {slip_id} signed by 王建国")), "{stdout}");

        let blobs = format!("{}.blobs", store_path.display());
        let out = run_fieldsync(&["slip", "verify", file.to_str().unwrap(), "--blobs", &blobs, "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["valid"], true);
        assert_eq!(verdict["slip"]["signer"], "王建国");

        // A missing blob directory makes the extended check fail with the reason.
        let out = run_fieldsync(&[
            "slip",
            "verify",
            file.to_str().unwrap(),
            "--blobs",
            dir.path().to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("invalid: the signature strokes blob"));
    }

    #[test]
    fn a_slip_edited_after_signing_is_invalid_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, doc) = signed_slip(dir.path());
        let mut doc = automerge::Automerge::load(&doc).unwrap();
        let mut slip: ServiceSlip = autosurgeon::hydrate(&doc).unwrap();
        slip.items[0].quantity = 3.0;
        let mut tx = doc.transaction();
        autosurgeon::reconcile(&mut tx, &slip).unwrap();
        tx.commit();
        let file = dir.path().join("edited.automerge");
        std::fs::write(&file, doc.save()).unwrap();
        let out = run_fieldsync(&["slip", "verify", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("invalid: ") && stdout.contains("changed after signing"), "{stdout}");
    }

    /// Writes the slip document `doc` changed by `edit` (as another Automerge writer would make
    /// the change) and runs `fieldsync slip verify` on it: the exit code and stdout.
    fn verify_tampered(
        dir: &std::path::Path,
        doc: &[u8],
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> (Option<i32>, String) {
        let mut doc = automerge::Automerge::load(doc).unwrap();
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        let file = dir.join("tampered.automerge");
        std::fs::write(&file, doc.save()).unwrap();
        let out = run_fieldsync(&["slip", "verify", file.to_str().unwrap()]);
        (
            out.status.code(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    fn text(
        tx: &mut automerge::transaction::Transaction<'_>,
        obj: &automerge::ObjId,
        key: &str,
        value: &str,
    ) {
        let t = tx.put_object(obj, key, ObjType::Text).unwrap();
        tx.splice_text(&t, 0, 0, value).unwrap();
    }

    fn items(tx: &automerge::transaction::Transaction<'_>) -> automerge::ObjId {
        tx.get(ROOT, "items").unwrap().unwrap().1
    }

    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc};

    #[test]
    fn slips_changed_with_other_automerge_types_are_invalid_with_the_reason_never_not_a_slip() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, doc) = signed_slip(dir.path());
        type Edit = Box<dyn FnOnce(&mut automerge::transaction::Transaction<'_>)>;
        let changed = "changed after signing";
        let unreadable = "does not read as a service slip";
        let cases: Vec<(&str, Edit, &str)> = vec![
            ("notes rewritten as a Text", Box::new(|tx| text(tx, &ROOT, "notes", "另加一台")), changed),
            (
                "a quantity changed to an int",
                Box::new(|tx| {
                    let item = tx.get(items(tx), 0).unwrap().unwrap().1;
                    tx.put(&item, "quantity", 3).unwrap();
                }),
                changed,
            ),
            (
                "an item added the JavaScript way",
                Box::new(|tx| {
                    let list = items(tx);
                    let item = tx.insert_object(&list, 1, ObjType::Map).unwrap();
                    text(tx, &item, "description", "主轴");
                    tx.put(&item, "quantity", 1).unwrap();
                    text(tx, &item, "unit", "套");
                }),
                changed,
            ),
            (
                "an item added that is not an item",
                Box::new(|tx| {
                    let list = items(tx);
                    tx.insert(&list, 1, "主轴 ×1").unwrap();
                }),
                "field items[1]",
            ),
            (
                "the signing time as a fraction",
                Box::new(|tx| tx.put(ROOT, "signed_at", 1.795e12 + 0.5).unwrap()),
                "field signed_at",
            ),
            (
                "the notes as a map",
                Box::new(|tx| drop(tx.put_object(ROOT, "notes", ObjType::Map).unwrap())),
                unreadable,
            ),
            (
                "the kind as a number",
                Box::new(|tx| tx.put(ROOT, "kind", 7).unwrap()),
                "carries a slip's signature",
            ),
            (
                "the kind renamed",
                Box::new(|tx| tx.put(ROOT, "kind", "customer").unwrap()),
                "declares itself a customer but carries a slip's signature",
            ),
        ];
        for (what, edit, reason) in cases {
            let (code, output) = verify_tampered(dir.path(), &doc, edit);
            assert_eq!(code, Some(1), "{what}: {output}");
            assert!(output.starts_with("invalid: ") && output.contains(reason), "{what}: {output}");
        }
    }

    #[test]
    fn a_slip_whose_unchanged_text_another_writer_rewrote_as_text_still_verifies() {
        // The signature covers the content, not which Automerge type holds it.
        let dir = tempfile::tempdir().unwrap();
        let (_, _, doc) = signed_slip(dir.path());
        let (code, output) = verify_tampered(dir.path(), &doc, |tx| {
            let item = tx.get(items(tx), 0).unwrap().unwrap().1;
            text(tx, &item, "description", "更换刀库电机");
            tx.put(&item, "quantity", 1).unwrap();
        });
        assert_eq!(code, Some(0), "{output}");
        assert!(output.starts_with("valid: "), "{output}");
    }

    #[test]
    fn files_that_are_not_slips_exit_2_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.bin");
        std::fs::write(&garbage, b"\x85\x6f\x4a\x83 not automerge").unwrap();
        let store = Store::open(dir.path().join("s.fieldsync")).unwrap();
        let customer = store.create(NewCustomer { company_name: "A".into(), ..Default::default() }).unwrap();
        let customer_file = dir.path().join("customer.automerge");
        std::fs::write(&customer_file, store.export_document(customer.id).unwrap()).unwrap();
        for (file, expected) in [
            (garbage.to_str().unwrap(), "not an Automerge document"),
            (customer_file.to_str().unwrap(), "not a service slip"),
            ("/nonexistent/slip.automerge", "cannot open"),
        ] {
            let out = run_fieldsync(&["slip", "verify", file]);
            assert_eq!(out.status.code(), Some(2), "{file}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(expected), "{file}: {stderr}");
        }
    }
}
