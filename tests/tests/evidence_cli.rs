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
