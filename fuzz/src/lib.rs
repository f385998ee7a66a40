//! What each fuzz target feeds to the core and the invariants it checks on the answer.
//!
//! The fuzz targets in `fuzz_targets/` are one-line wrappers around the functions here, and the
//! regression test `core/tests/fuzz_regressions.rs` includes this file by path, so an input kept
//! in `core/tests/data/fuzz/` is replayed through exactly the code the fuzzer ran it through.
//!
//! Every function panics when an invariant does not hold: libFuzzer reports the panic as a crash
//! and the regression test as a failure. The core itself must never panic, whatever the bytes.

use automerge::transaction::Transactable as _;
use automerge::{ActorId, Automerge, ReadDoc};
use fieldsync_core::evidence::{
    ExifFacts, PhotoError, PhotoFlag, PhotoLimits, ingest_photo, inspect_photo, read_exif, read_header,
};
use fieldsync_core::leadcard::{
    MAX_PAYLOAD_BYTES, MAX_PAYLOAD_LINES, ParsedLead, PayloadError, PayloadFormat, parse_payload,
    parse_payload_bytes,
};

/// What the entry point under test answered, for the regression test to compare with what a kept
/// input is expected to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `Ok`: a lead, EXIF facts or a photo inspection (possibly with flags).
    Accepted,
    /// `Err` with a message for the user.
    Rejected,
}

impl Outcome {
    fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() { Outcome::Accepted } else { Outcome::Rejected }
    }
}

/// Limits for `photo_inspect`: small enough that a fuzz iteration stays fast, large enough for
/// every header in the seed corpus.
pub const INSPECT_LIMITS: PhotoLimits =
    PhotoLimits { max_file_bytes: 256 * 1024, max_side_px: 8192, max_pixels: 40_000_000, max_scans: 32 };

/// Limits for the full ingest run inside `photo_inspect`: only tiny images get decoded, resized
/// and re-encoded, so that the decoder is fuzzed without each iteration costing milliseconds.
pub const INGEST_LIMITS: PhotoLimits =
    PhotoLimits { max_file_bytes: 64 * 1024, max_side_px: 96, max_pixels: 96 * 64, max_scans: 8 };

/// Largest TIFF block that fits in one APP1 segment after the `Exif\0\0` prefix.
const MAX_TIFF_BLOCK: usize = 65_535 - 2 - 6;

// ---------------------------------------------------------------------------------------------
// Lead-card payloads
// ---------------------------------------------------------------------------------------------

/// Target `leadcard_payload`: the bytes through [`parse_payload_bytes`], and as text through
/// [`parse_payload`] (the bytes themselves when they are UTF-8, else their lossy decoding).
pub fn leadcard_payload(data: &[u8]) -> Outcome {
    let from_bytes = parse_payload_bytes(data);
    check_lead_result(&from_bytes, data.len());
    match std::str::from_utf8(data) {
        Ok(text) => {
            let from_text = parse_payload(text);
            // The byte entry point only adds charset detection; on UTF-8 it must agree with the
            // text entry point exactly.
            assert_eq!(from_text, from_bytes, "text and byte entry points disagree on UTF-8 input");
            check_payload_kept(text, &from_text);
        }
        Err(_) => {
            let text = String::from_utf8_lossy(data);
            let from_text = parse_payload(&text);
            check_lead_result(&from_text, text.len());
            check_payload_kept(&text, &from_text);
        }
    }
    Outcome::of(&from_bytes)
}

/// Invariants of any answer of the payload parser, given the input size in bytes.
fn check_lead_result(result: &Result<ParsedLead, PayloadError>, input_len: usize) {
    match result {
        Ok(lead) => check_lead(lead, input_len),
        Err(error) => check_payload_error(error, input_len),
    }
}

fn check_lead(lead: &ParsedLead, input_len: usize) {
    let texts = [
        &lead.name,
        &lead.company,
        &lead.title,
        &lead.department,
        &lead.address,
        &lead.website,
        &lead.note,
        &lead.wechat_id,
        &lead.qq,
        &lead.url,
    ];
    for text in texts.into_iter().flatten() {
        assert!(!text.is_empty() && text.trim() == text, "field {text:?} is empty or not trimmed");
    }
    for phone in &lead.phones {
        assert!(
            matches!(phone.label.as_str(), "cell" | "work" | "home" | "fax" | "pager" | "other"),
            "unknown phone label {:?}",
            phone.label
        );
        assert!(!phone.value.is_empty() && phone.value.trim() == phone.value, "phone {:?}", phone.value);
    }
    for (i, phone) in lead.phones.iter().enumerate() {
        assert!(!lead.phones[..i].iter().any(|p| p.value == phone.value), "duplicate phone {phone:?}");
    }
    for (i, email) in lead.emails.iter().enumerate() {
        assert!(!email.is_empty() && email.trim() == email, "email {email:?}");
        assert!(
            !lead.emails[..i].iter().any(|e| e.eq_ignore_ascii_case(email)),
            "duplicate e-mail {email:?}"
        );
    }
    if matches!(lead.format, PayloadFormat::VCard { .. } | PayloadFormat::MeCard | PayloadFormat::BizCard) {
        assert!(lead.has_contact(), "a {} was accepted with no contact", lead.format.display_name());
    }
    // Decoding can grow text (GB18030 0x80 is '€', three bytes; a bad byte becomes U+FFFD) and a
    // plain-text payload is kept whole next to what was extracted from it, but a lead is never
    // more than a small multiple of its payload.
    let output: usize = texts.into_iter().flatten().map(String::len).sum::<usize>()
        + lead.phones.iter().map(|p| p.value.len()).sum::<usize>()
        + lead.emails.iter().map(String::len).sum::<usize>();
    assert!(output <= 16 * input_len + 64, "{output} bytes of fields from a {input_len}-byte payload");
    assert!(!lead.format.display_name().is_empty());
}

fn check_payload_error(error: &PayloadError, input_len: usize) {
    assert!(!error.to_string().is_empty());
    match error {
        PayloadError::TooLarge { bytes, limit } => {
            assert_eq!((*bytes, *limit), (input_len, MAX_PAYLOAD_BYTES));
            assert!(input_len > MAX_PAYLOAD_BYTES);
        }
        PayloadError::TooManyLines { limit } => assert_eq!(*limit, MAX_PAYLOAD_LINES),
        PayloadError::UnsupportedVCardVersion { found } => assert!(found.chars().count() <= 32),
        PayloadError::InvalidBase64 { property, line } => {
            assert!(property.chars().count() <= 32);
            assert!((1..=MAX_PAYLOAD_LINES).contains(line), "base64 error on line {line}");
        }
        PayloadError::NoContactFields { format } => assert!(!format.is_empty()),
        PayloadError::Empty | PayloadError::NotText | PayloadError::EmptyLink { .. } => {}
    }
    assert!(input_len <= MAX_PAYLOAD_BYTES || matches!(error, PayloadError::TooLarge { .. }));
}

/// The payload itself is kept where the format says: a plain-text payload is the note, a link
/// payload is the url, both trimmed exactly as the parser trims.
fn check_payload_kept(text: &str, result: &Result<ParsedLead, PayloadError>) {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match result {
        Ok(lead) => match lead.format {
            PayloadFormat::PlainText => assert_eq!(lead.note.as_deref(), Some(trimmed), "note"),
            PayloadFormat::Url | PayloadFormat::WeChatContact | PayloadFormat::WeComContact => {
                assert_eq!(lead.url.as_deref(), Some(trimmed), "url");
            }
            PayloadFormat::VCard { .. } | PayloadFormat::MeCard | PayloadFormat::BizCard => {}
        },
        Err(PayloadError::Empty) => assert!(trimmed.is_empty(), "non-blank payload refused as empty"),
        Err(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// EXIF
// ---------------------------------------------------------------------------------------------

/// Target `exif`: [`read_exif`] on the bytes. Input that starts like a JPEG (`FF D8`) is read as a
/// file; anything else is taken as a TIFF block and wrapped in a minimal JPEG with one APP1 Exif
/// segment, so that the fuzzer can work on the TIFF structure directly.
pub fn exif(data: &[u8]) -> Outcome {
    let wrapped;
    let file = if data.starts_with(&[0xFF, 0xD8]) {
        data
    } else {
        wrapped = jpeg_with_exif_block(data);
        &wrapped
    };
    let result = read_exif(file);
    match &result {
        Ok(facts) => check_exif_facts(facts),
        Err(error) => {
            check_photo_error(error);
            assert!(
                matches!(
                    error,
                    PhotoError::Empty
                        | PhotoError::NotJpeg { .. }
                        | PhotoError::Truncated { .. }
                        | PhotoError::MalformedHeader { .. }
                        | PhotoError::ExifUnreadable { .. }
                ),
                "read_exif returned an error that is not about the header or the EXIF block: {error:?}"
            );
        }
    }
    Outcome::of(&result)
}

/// SOI, one APP1 `Exif\0\0` segment holding `tiff` (cut to what fits), EOI.
pub fn jpeg_with_exif_block(tiff: &[u8]) -> Vec<u8> {
    let tiff = &tiff[..tiff.len().min(MAX_TIFF_BLOCK)];
    let length = u16::try_from(2 + 6 + tiff.len()).expect("cut to fit one segment");
    let mut file = Vec::with_capacity(tiff.len() + 16);
    file.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1]);
    file.extend_from_slice(&length.to_be_bytes());
    file.extend_from_slice(b"Exif\0\0");
    file.extend_from_slice(tiff);
    file.extend_from_slice(&[0xFF, 0xD9]);
    file
}

fn check_exif_facts(facts: &ExifFacts) {
    if !facts.found {
        assert_eq!(facts, &ExifFacts::default(), "facts without an EXIF block");
    }
    if let Some(orientation) = facts.orientation {
        assert!((1..=8).contains(&orientation), "orientation {orientation}");
    }
    if let Some(point) = facts.gps {
        assert!(point.lat().is_finite() && (-90.0..=90.0).contains(&point.lat()), "{point:?}");
        assert!(point.lon().is_finite() && (-180.0..=180.0).contains(&point.lon()), "{point:?}");
    }
    if let Some(taken) = &facts.taken {
        assert!(taken.raw.chars().count() <= 64, "raw timestamp {:?}", taken.raw);
        // Years 1–9999, the range four digits allow.
        assert!((-62_135_596_800_000..253_402_300_800_000).contains(&taken.local_ms), "{taken:?}");
        match taken.offset_minutes {
            Some(offset) => {
                assert!((-14 * 60..=14 * 60).contains(&offset), "offset {offset}");
                assert_eq!(taken.unix_ms, Some(taken.local_ms - i64::from(offset) * 60_000));
            }
            None => assert_eq!(taken.unix_ms, None),
        }
        for zone in [-12 * 60, 0, 14 * 60] {
            let _ = taken.unix_ms_assuming(zone);
        }
    }
    for issue in &facts.issues {
        assert!(
            !matches!(
                issue,
                PhotoFlag::NoExif | PhotoFlag::NoGps | PhotoFlag::NoTimestamp | PhotoFlag::NoTimeZone
            ),
            "absence flag {issue:?} among the issues"
        );
        if let PhotoFlag::TimestampInvalid { raw, .. } = issue {
            assert!(raw.chars().count() <= 64);
        }
        if let PhotoFlag::GpsDatumNotWgs84 { datum } = issue {
            assert!(datum.chars().count() <= 64);
        }
        assert!(!issue.to_string().is_empty());
    }
    let flags = facts.flags();
    assert_eq!(flags.contains(&PhotoFlag::NoExif), !facts.found);
    assert_eq!(flags.contains(&PhotoFlag::NoGps), facts.gps.is_none());
    assert_eq!(flags.contains(&PhotoFlag::NoTimestamp), facts.taken.is_none());
    let evidence = facts.geo_evidence(1_700_000_000_000, 480);
    assert_eq!(evidence.point, facts.gps);
}

fn check_photo_error(error: &PhotoError) {
    assert!(!matches!(error, PhotoError::Internal { .. }), "internal error (a bug): {error}");
    assert!(!error.to_string().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Photo header and ingest
// ---------------------------------------------------------------------------------------------

/// Target `photo_inspect`: [`inspect_photo`] with [`INSPECT_LIMITS`], then [`ingest_photo`] with
/// [`INGEST_LIMITS`] (which decodes, resizes and re-encodes images of at most 96×64 pixels).
pub fn photo_inspect(data: &[u8]) -> Outcome {
    let inspected = inspect_photo(data, &INSPECT_LIMITS);
    let header = read_header(data, &INSPECT_LIMITS);
    match &inspected {
        Ok(inspection) => {
            assert_eq!(header.as_ref().ok(), Some(&inspection.header), "inspect and read_header disagree");
            let h = inspection.header;
            assert!(h.width >= 1 && h.height >= 1, "{h:?}");
            assert!(h.width <= INSPECT_LIMITS.max_side_px && h.height <= INSPECT_LIMITS.max_side_px);
            assert!(u64::from(h.width) * u64::from(h.height) <= INSPECT_LIMITS.max_pixels);
            assert!(matches!(h.components, 1 | 3), "{h:?}");
            check_exif_facts(&inspection.exif);
            match read_exif(data) {
                Ok(facts) => assert_eq!(facts, inspection.exif),
                Err(_) => assert!(
                    matches!(inspection.exif.issues.as_slice(), [PhotoFlag::ExifUnreadable { .. }])
                        && inspection.exif.found,
                    "an unreadable block shows as one ExifUnreadable issue: {:?}",
                    inspection.exif
                ),
            }
        }
        Err(error) => {
            check_photo_error(error);
            assert_eq!(header.as_ref().err(), Some(error), "inspect fails only where read_header does");
        }
    }
    ingest_tiny(data);
    Outcome::of(&inspected)
}

fn ingest_tiny(data: &[u8]) {
    let evidence = match ingest_photo(data, &INGEST_LIMITS) {
        Ok(evidence) => evidence,
        Err(error) => {
            check_photo_error(&error);
            return;
        }
    };
    let header = read_header(data, &INGEST_LIMITS).expect("ingest accepted the header");
    assert_eq!(evidence.pixels, [header.width, header.height]);
    assert_eq!(evidence.original_bytes, data.len() as u64);
    assert!((1..=8).contains(&evidence.orientation_applied));
    assert_eq!(evidence.flags, evidence.exif.flags());
    check_exif_facts(&evidence.exif);
    let (width, height) = if evidence.orientation_applied >= 5 {
        (header.height, header.width)
    } else {
        (header.width, header.height)
    };
    // Tiny images are never enlarged, so the copy is the original turned upright.
    assert_eq!((evidence.upload_copy.width, evidence.upload_copy.height), (width, height));
    assert!(evidence.thumbnail.width.max(evidence.thumbnail.height) <= 320);
    for (copy, name) in [(&evidence.upload_copy, "upload copy"), (&evidence.thumbnail, "thumbnail")] {
        assert_eq!(copy.sha256.len(), 64, "{name} hash");
        // What the pipeline writes it must be able to read back.
        let reread = read_header(&copy.bytes, &PhotoLimits::default())
            .unwrap_or_else(|e| panic!("the {name} made from a fuzz input is not readable: {e}"));
        assert_eq!((reread.width, reread.height), (copy.width, copy.height), "{name} size");
    }
}

// ---------------------------------------------------------------------------------------------
// The relay's change intake
// ---------------------------------------------------------------------------------------------

/// The stored customer document the pushed changes of `relay_intake` are checked against, and
/// one valid change of another device to it (the seed that mutations start from).
fn intake_fixture() -> &'static (Automerge, Vec<u8>) {
    use std::sync::OnceLock;
    static FIXTURE: OnceLock<(Automerge, Vec<u8>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use fieldsync_core::model::{Contact, Customer, Provenance};
        use fieldsync_core::{DeviceId, DocId};
        let mut customer = Customer {
            id: DocId::from_bytes([7; 16]),
            company_name: "苏州精工机械有限公司".into(),
            contacts: vec![Contact {
                name: "王伟".into(),
                phones: vec!["13812345678".into()],
                ..Default::default()
            }],
            phones: vec!["0512-62345678".into()],
            address: Some("苏州工业园区".into()),
            location: None,
            tags: vec!["重点".into()],
            credit_code: None,
            merged_into: None,
            provenance: Provenance {
                created_at: 1_700_000_000_000,
                created_by: DeviceId::from_bytes([1; 16]),
            },
        };
        let mut base = Automerge::new().with_actor(ActorId::from([1u8; 16]));
        let mut tx = base.transaction();
        tx.put(automerge::ROOT, "kind", "customer").expect("kind");
        tx.put(automerge::ROOT, "schema", 1u64).expect("schema");
        autosurgeon::reconcile(&mut tx, &customer).expect("a customer reconciles");
        tx.commit();
        let mut edited = base.fork().with_actor(ActorId::from([2u8; 16]));
        customer.tags.push("热".into());
        customer.address = Some("苏州工业园区星湖街 328 号".into());
        let mut tx = edited.transaction();
        autosurgeon::reconcile(&mut tx, &customer).expect("the edit reconciles");
        tx.commit();
        let change = edited.get_last_local_change().expect("an edit").raw_bytes().to_vec();
        (base, change)
    })
}

/// Target `relay_intake`: what the relay does with one pushed change ([`intake::verify_change`],
/// then [`intake::check_pushed`] against a stored customer), on arbitrary bytes (first byte even)
/// or on the fixture's valid change mutated by the input's (position, xor) byte pairs (first byte
/// odd; bit 1 set: the checksum is fixed up afterwards, to get past it to the decoder).
///
/// Invariants: nothing panics; what the relay accepts, a phone's own reader (`load_incremental`
/// into its copy, which checks the checksum) applies in full, and the relay's new snapshot loads.
pub fn relay_intake(data: &[u8]) -> Outcome {
    use fieldsync_core::sync::intake;
    let (base, valid) = intake_fixture();
    let Some((&mode, rest)) = data.split_first() else { return Outcome::Rejected };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut bytes = valid.clone();
        for pair in rest.chunks_exact(2) {
            let at = pair[0] as usize % bytes.len();
            bytes[at] ^= pair[1];
        }
        if mode & 2 != 0 && bytes.len() > 8 {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(&bytes[8..]);
            bytes[4..8].copy_from_slice(&hash[..4]);
        }
        bytes
    };
    let change = match intake::verify_change(&bytes) {
        Ok(change) => change,
        Err(_) => return Outcome::Rejected,
    };
    let hash = change.hash();
    let accepted = match intake::check_pushed(base, change) {
        Ok(accepted) => accepted,
        Err(_) => return Outcome::Rejected,
    };
    // A phone that has the document reads the same bytes with automerge's own loader.
    let mut phone = Automerge::load(&base.save()).expect("the fixture loads");
    phone.load_incremental(&bytes).expect("the relay accepted a change a phone cannot load");
    assert!(phone.get_change_by_hash(&hash).is_some(), "a phone's loader dropped an accepted change");
    assert_eq!(phone.get_heads(), accepted.doc.get_heads(), "the phone and the relay disagree");
    // A new device loads the relay's snapshot.
    let snapshot = Automerge::load(&accepted.doc.save()).expect("the relay's new snapshot does not load");
    assert_eq!(snapshot.get_heads(), accepted.doc.get_heads());
    Outcome::Accepted
}
