//! Capturing evidence through the store with real camera JPEGs (../shared/fixtures/exif): check-in
//! with the geofence, photos with their flags and blobs, and signed service slips.

use std::path::PathBuf;
use std::sync::Arc;

use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
use fieldsync_core::evidence::slip::{SlipInvalid, verify_slip};
use fieldsync_core::geo::GeofenceOutcome;
use fieldsync_core::model::{
    Customer, Datum, FixSource, GeofenceMode, Location, NewCustomer, NewServiceSlip, NewTeamRules, NewVisit,
    ServiceSlip, SlipItem, Visit,
};
use fieldsync_core::store::{CaptureContext, SlipSignature};
use fieldsync_core::{DocId, ManualClock, Store, StoreError, StoreOptions};

/// 2008-10-22 16:29:49 in Tuscany (UTC+2), when DSCN0012 was taken.
const NOW: i64 = 1_224_685_789_000;
/// Where DSCN0010 was taken: the customer's site in these tests.
const SITE: (f64, f64) = (43.467448, 11.885127);
const CONTEXT: CaptureContext = CaptureContext { utc_offset_minutes: 120, elapsed_since_sync_ms: None };

fn fixture_photo(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/exif").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    customer: Customer,
    visit: Visit,
}

fn fix(lat: f64, lon: f64, accuracy_m: f64) -> Location {
    Location {
        lat,
        lon,
        datum: Datum::Wgs84,
        source: FixSource::Gps,
        accuracy_m: Some(accuracy_m),
        at: None,
        mock: false,
    }
}

/// A point `metres` north of the site.
fn north_of_site(metres: f64) -> (f64, f64) {
    (SITE.0 + metres / 111_195.0, SITE.1)
}

fn fixture(mode: GeofenceMode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let store =
        Store::open_with(dir.path().join("rep.fieldsync"), StoreOptions { clock: clock.clone() }).unwrap();
    store.create(NewTeamRules { geofence_mode: mode, ..NewTeamRules::default() }).unwrap();
    let customer = store
        .create(NewCustomer {
            company_name: "Officine Meccaniche Toscane".into(),
            location: Some(fix(SITE.0, SITE.1, 5.0)),
            ..Default::default()
        })
        .unwrap();
    let visit = store
        .create(NewVisit {
            customer_id: customer.id,
            opportunity_id: None,
            planned_at: NOW,
            notes: String::new(),
        })
        .unwrap();
    Fixture { _dir: dir, store, clock, customer, visit }
}

fn codes(flags: &[fieldsync_core::model::EvidenceFlag]) -> Vec<&str> {
    flags.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn an_on_site_check_in_is_accepted_without_flags() {
    let f = fixture(GeofenceMode::Soft);
    let (lat, lon) = north_of_site(120.0);
    let check_in = f.store.check_in(f.visit.id, fix(lat, lon, 15.0), CONTEXT).unwrap();
    assert_eq!(check_in.outcome, GeofenceOutcome::Accept);
    let on_site = check_in.on_site.unwrap();
    assert!((on_site.distance_m - 120.0).abs() < 1.0, "{on_site:?}");
    assert!(check_in.flags.is_empty(), "{:?}", check_in.flags);
    let stored: Visit = f.store.get(f.visit.id).unwrap();
    assert_eq!(stored.on_site, Some(true));
    assert_eq!(stored.started_at, Some(NOW));
    assert_eq!(stored.fixes.len(), 1);
    assert_eq!(stored.fixes[0].at, Some(NOW), "the capture time is recorded with the fix");
}

#[test]
fn a_soft_geofence_flags_and_a_hard_one_refuses_an_off_site_check_in() {
    let (lat, lon) = north_of_site(2_000.0);

    let soft = fixture(GeofenceMode::Soft);
    let check_in = soft.store.check_in(soft.visit.id, fix(lat, lon, 20.0), CONTEXT).unwrap();
    assert_eq!(check_in.outcome, GeofenceOutcome::AcceptFlagged);
    assert_eq!(codes(&check_in.flags), ["off_site"]);
    assert!(check_in.flags[0].detail.contains("300 m"), "{}", check_in.flags[0].detail);
    assert_eq!(soft.store.get::<Visit>(soft.visit.id).unwrap().on_site, Some(false));

    let hard = fixture(GeofenceMode::Hard);
    let outbox = hard.store.outbox_len().unwrap();
    let err = hard.store.check_in(hard.visit.id, fix(lat, lon, 20.0), CONTEXT).unwrap_err();
    match err {
        StoreError::OffSite { distance_m, effective_m, radius_m } => {
            assert!((distance_m - 2_000.0).abs() < 2.0);
            assert!((effective_m - 1_980.0).abs() < 2.0);
            assert_eq!(radius_m, 300.0);
        }
        other => panic!("expected OffSite, got {other}"),
    }
    assert_eq!(hard.store.get::<Visit>(hard.visit.id).unwrap(), hard.visit, "nothing saved");
    assert_eq!(hard.store.outbox_len().unwrap(), outbox);

    // Accuracy is on the rep's side: 2 km away with a 1.9 km accuracy circle is on site.
    let check_in = hard.store.check_in(hard.visit.id, fix(lat, lon, 1_900.0), CONTEXT).unwrap();
    assert_eq!(check_in.outcome, GeofenceOutcome::Accept);
}

#[test]
fn mocked_and_impossible_fixes_are_flagged() {
    let f = fixture(GeofenceMode::Soft);
    let mocked = Location { mock: true, ..fix(SITE.0, SITE.1, 0.0) };
    let check_in = f.store.check_in(f.visit.id, mocked, CONTEXT).unwrap();
    assert_eq!(codes(&check_in.flags), ["mock_location", "accuracy_zero"]);

    // Ten seconds later, 5 km away: 1,800 km/h.
    f.clock.advance(10_000);
    let (lat, lon) = north_of_site(5_000.0);
    let check_in = f.store.check_in(f.visit.id, fix(lat, lon, 10.0), CONTEXT).unwrap();
    assert!(codes(&check_in.flags).contains(&"implied_speed"), "{:?}", check_in.flags);
    let visit: Visit = f.store.get(f.visit.id).unwrap();
    assert_eq!(visit.fixes.len(), 2);
    assert!(codes(&visit.flags).contains(&"mock_location") && codes(&visit.flags).contains(&"implied_speed"));
}

#[test]
fn bad_fixes_are_refused_and_change_nothing() {
    let f = fixture(GeofenceMode::Soft);
    for bad in [
        fix(f64::NAN, SITE.1, 10.0),
        fix(SITE.0, 200.0, 10.0),
        fix(SITE.0, SITE.1, -1.0),
        Location { accuracy_m: None, ..fix(SITE.0, SITE.1, 10.0) },
    ] {
        let err = f.store.check_in(f.visit.id, bad, CONTEXT).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    }
    assert_eq!(f.store.get::<Visit>(f.visit.id).unwrap(), f.visit);
    let err = f.store.check_in(DocId::generate(), fix(SITE.0, SITE.1, 10.0), CONTEXT).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[test]
fn a_camera_photo_becomes_photo_evidence_with_blobs_queued() {
    let f = fixture(GeofenceMode::Soft);
    let (lat, lon) = north_of_site(30.0);
    let capture = f
        .store
        .attach_photo(f.visit.id, &fixture_photo("gps_DSCN0012.jpg"), Some(fix(lat, lon, 8.0)), CONTEXT)
        .unwrap();
    let photo = &capture.photo;
    assert_eq!(capture.outcome, GeofenceOutcome::Accept);
    assert_eq!(photo.on_site, Some(true));
    let exif = photo.exif_location.unwrap();
    assert!((exif.lat - 43.467157).abs() < 1e-5 && (exif.lon - 11.885395).abs() < 1e-5, "{exif:?}");
    assert_eq!(exif.source, FixSource::Exif);
    // The camera wrote local time without a zone; the phone's offset places it exactly at NOW.
    assert_eq!(photo.exif_taken_at, Some(NOW));
    assert_eq!(codes(&photo.flags), ["no_time_zone"], "{:?}", photo.flags);
    assert_eq!(capture.visit.photos, vec![photo.clone()]);

    // Both copies are blobs on disk under their hash, queued for upload.
    let copy = f.store.read_blob(&photo.sha256).unwrap();
    assert_eq!(&copy[..2], &[0xFF, 0xD8]);
    let thumbnail = f.store.read_blob(photo.thumbnail_sha256.as_deref().unwrap()).unwrap();
    assert!(thumbnail.len() < copy.len());
    let queued: Vec<String> = f.store.pending_blobs().unwrap().into_iter().map(|b| b.sha256).collect();
    assert!(queued.contains(&photo.sha256) && queued.contains(photo.thumbnail_sha256.as_ref().unwrap()));

    // The same photo twice is refused.
    let err = f.store.attach_photo(
        f.visit.id,
        &fixture_photo("gps_DSCN0012.jpg"),
        Some(fix(lat, lon, 8.0)),
        CONTEXT,
    );
    assert!(matches!(err, Err(StoreError::Invalid(_))));
}

#[test]
fn a_photo_taken_elsewhere_or_long_ago_is_flagged() {
    let f = fixture(GeofenceMode::Soft);
    // DSCN0042 was taken ~440 m from the site, 30 minutes later than NOW.
    let capture = f
        .store
        .attach_photo(
            f.visit.id,
            &fixture_photo("gps_DSCN0042.jpg"),
            Some(fix(SITE.0, SITE.1, 10.0)),
            CONTEXT,
        )
        .unwrap();
    let found = codes(&capture.photo.flags);
    assert!(found.contains(&"exif_far_from_fix"), "{found:?}");
    assert!(found.contains(&"exif_time_far"), "{found:?}");
    assert_eq!(capture.photo.on_site, Some(true), "the device itself was on site");

    // A photo with no GPS or time in its metadata, no device fix and no earlier fix in the visit.
    let capture = f.store.attach_photo(f.visit.id, &fixture_photo("xmp_no_exif.jpg"), None, CONTEXT).unwrap();
    let found = codes(&capture.photo.flags);
    assert_eq!(found, ["no_gps", "no_timestamp", "no_device_fix"]);
    assert_eq!(capture.photo.on_site, None);
}

#[test]
fn bad_jpegs_are_refused_and_change_nothing() {
    let f = fixture(GeofenceMode::Soft);
    let blobs = f.store.pending_blobs().unwrap().len();
    let mut truncated = fixture_photo("gps_DSCN0010.jpg");
    truncated.truncate(300);
    for bad in [
        b"definitely not a jpeg".to_vec(),
        Vec::new(),
        truncated,
        fixture_photo("tests_35-empty.jpg")[..64].to_vec(),
    ] {
        let err =
            f.store.attach_photo(f.visit.id, &bad, Some(fix(SITE.0, SITE.1, 10.0)), CONTEXT).unwrap_err();
        assert!(matches!(err, StoreError::Photo(_)), "{err}");
    }
    assert_eq!(f.store.get::<Visit>(f.visit.id).unwrap(), f.visit);
    assert_eq!(f.store.pending_blobs().unwrap().len(), blobs);
}

#[test]
fn a_hard_geofence_refuses_an_off_site_photo() {
    let f = fixture(GeofenceMode::Hard);
    let (lat, lon) = north_of_site(1_000.0);
    let err = f
        .store
        .attach_photo(f.visit.id, &fixture_photo("gps_DSCN0010.jpg"), Some(fix(lat, lon, 10.0)), CONTEXT)
        .unwrap_err();
    assert!(matches!(err, StoreError::OffSite { .. }), "{err}");
    assert!(f.store.get::<Visit>(f.visit.id).unwrap().photos.is_empty());
}

fn signature() -> SignatureStrokes {
    let stroke = |start: u32, points: &[(f32, f32)]| {
        points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| StrokePoint {
                x,
                y,
                t_ms: start + i as u32 * 12,
                pressure: 0.4 + i as f32 * 0.05,
            })
            .collect()
    };
    SignatureStrokes {
        pad_width: 360.0,
        pad_height: 180.0,
        strokes: vec![
            stroke(0, &[(30.0, 120.0), (60.0, 40.0), (90.0, 130.0), (120.0, 50.0), (150.0, 125.0)]),
            stroke(400, &[(200.0, 60.0), (240.0, 140.0), (300.0, 70.0)]),
        ],
    }
}

fn slip_for(f: &Fixture) -> ServiceSlip {
    f.store
        .create(NewServiceSlip {
            visit_id: f.visit.id,
            items: vec![
                SlipItem { description: "更换主轴轴承".into(), quantity: 2.0, unit: "套".into() },
                SlipItem { description: "试运行".into(), quantity: 1.5, unit: "小时".into() },
            ],
            notes: "客户确认设备运行正常".into(),
        })
        .unwrap()
}

#[test]
fn a_signed_slip_verifies_commits_to_the_evidence_and_is_sealed() {
    let f = fixture(GeofenceMode::Soft);
    let photo = f
        .store
        .attach_photo(
            f.visit.id,
            &fixture_photo("gps_DSCN0010.jpg"),
            Some(fix(SITE.0, SITE.1, 10.0)),
            CONTEXT,
        )
        .unwrap()
        .photo;
    let slip = slip_for(&f);
    f.clock.advance(60_000);
    let signed = f
        .store
        .sign_slip(
            slip.id,
            SlipSignature {
                signer_name: " 王建国 ".into(),
                strokes: signature(),
                fix: Some(fix(SITE.0, SITE.1, 12.0)),
            },
        )
        .unwrap();
    assert_eq!(verify_slip(&signed), Ok(()));
    assert_eq!(signed.signer_name.as_deref(), Some("王建国"));
    assert_eq!(signed.signed_at, Some(NOW + 60_000));
    assert_eq!(signed.signed_by, Some(f.store.device_id()));
    assert_eq!(signed.photo_sha256s, vec![photo.sha256.clone()]);
    assert_eq!(f.store.get::<ServiceSlip>(slip.id).unwrap(), signed);

    // The strokes and the PNG are blobs: the strokes read back exactly, the PNG is an image.
    let strokes = f.store.read_blob(signed.strokes_sha256.as_deref().unwrap()).unwrap();
    assert_eq!(SignatureStrokes::from_canonical_bytes(&strokes).unwrap(), signature());
    let png = f.store.read_blob(signed.signature_png_sha256.as_deref().unwrap()).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // Sealed: no edit, no second signature, through any path.
    let mut edited = signed.clone();
    edited.items[0].quantity = 20.0;
    assert!(matches!(f.store.update(&edited), Err(StoreError::Sealed { .. })));
    let again = SlipSignature { signer_name: "李四".into(), strokes: signature(), fix: None };
    assert!(matches!(f.store.sign_slip(slip.id, again), Err(StoreError::Sealed { .. })));
    assert_eq!(f.store.get::<ServiceSlip>(slip.id).unwrap(), signed);
    let reopened_doc = f.store.export_document(slip.id).unwrap();
    assert!(!reopened_doc.is_empty());
}

#[test]
fn an_edit_smuggled_into_the_document_breaks_verification() {
    let f = fixture(GeofenceMode::Soft);
    let slip = slip_for(&f);
    f.store
        .sign_slip(slip.id, SlipSignature { signer_name: "王建国".into(), strokes: signature(), fix: None })
        .unwrap();
    let mut doc = automerge::Automerge::load(&f.store.export_document(slip.id).unwrap()).unwrap();
    let mut forged: ServiceSlip = autosurgeon::hydrate(&doc).unwrap();
    forged.items[0].quantity = 20.0;
    let mut tx = doc.transaction();
    autosurgeon::reconcile(&mut tx, &forged).unwrap();
    tx.commit();
    let reread: ServiceSlip = autosurgeon::hydrate(&doc).unwrap();
    assert!(matches!(verify_slip(&reread), Err(SlipInvalid::ContentChanged { .. })));
}

#[test]
fn bad_signatures_are_refused_and_leave_the_slip_unsigned() {
    let f = fixture(GeofenceMode::Soft);
    let slip = slip_for(&f);
    let empty = SignatureStrokes { strokes: vec![], ..signature() };
    let mut off_pad = signature();
    off_pad.strokes[0][0].x = 1_000.0;
    let cases = [
        (SlipSignature { signer_name: "  ".into(), strokes: signature(), fix: None }, "signer"),
        (SlipSignature { signer_name: "王建国".into(), strokes: empty, fix: None }, "empty"),
        (SlipSignature { signer_name: "王建国".into(), strokes: off_pad, fix: None }, "off the"),
        (
            SlipSignature {
                signer_name: "王建国".into(),
                strokes: signature(),
                fix: Some(fix(f64::NAN, 0.0, 5.0)),
            },
            "latitude",
        ),
    ];
    for (bad, expected) in cases {
        let err = f.store.sign_slip(slip.id, bad).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert_eq!(f.store.get::<ServiceSlip>(slip.id).unwrap(), slip);
    assert!(f.store.get::<ServiceSlip>(slip.id).unwrap().signed_at.is_none());
    let err = f
        .store
        .sign_slip(f.customer.id, SlipSignature { signer_name: "x".into(), strokes: signature(), fix: None });
    assert!(matches!(err, Err(StoreError::WrongKind { .. })), "{err:?}");
}
