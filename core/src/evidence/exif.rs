//! The facts a photo's EXIF block claims: GPS position, original date and time, orientation.
//!
//! EXIF is written by the camera and editable by anyone, so this module *reports* what the block
//! says and never decides anything from it: every value is checked for being well-formed (a real
//! calendar date, a latitude within ±90°, a known orientation), and what is missing, damaged or
//! odd becomes a [`PhotoFlag`] instead of an error. Whether the photo was taken where and when the
//! rep says is for [`crate::geo::plausibility_flags`] to weigh, with [`ExifFacts::geo_evidence`].
//!
//! [`read_exif`] is the single entry point for untrusted bytes (and the one a fuzz target calls).
//! The TIFF structure is parsed by kamadak-exif with "continue on error", which bounds IFD counts
//! and refuses cycles; the block itself is at most 64 KiB (one APP1 segment).
//!
//! Only the first APP1 "Exif" segment before the image data is read. XMP is not read: phone
//! cameras write the same facts to EXIF, and editors that write only XMP are not cameras.

use ::exif::{DateTime, Field, In, Reader, Tag, Value};
use serde::Serialize;

use super::photo::{PhotoError, PhotoFlag, find_exif_payload};
use crate::geo::{ExifEvidence, GeoPoint};

/// Longest raw text kept from a tag, so a hostile block cannot make records large.
const MAX_RAW_CHARS: usize = 64;
/// Largest UTC offset in minutes that exists (UTC+14:00, Kiribati; the most negative is −12:00).
const MAX_OFFSET_MINUTES: i16 = 14 * 60;

/// What a photo's EXIF block says, checked for form but not for truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExifFacts {
    /// The file has an EXIF block (even an unreadable one).
    pub found: bool,
    /// GPSLatitude/GPSLongitude as WGS-84 degrees, when present, well-formed and in WGS-84.
    pub gps: Option<GeoPoint>,
    /// DateTimeOriginal (with OffsetTimeOriginal and SubSecTimeOriginal when present).
    pub taken: Option<ExifTimestamp>,
    /// The Orientation tag (1–8), when present and valid.
    pub orientation: Option<u16>,
    /// Problems met while reading: unreadable parts and malformed values. The absence flags
    /// ([`PhotoFlag::NoGps`] …) are not here; [`ExifFacts::flags`] adds them.
    pub issues: Vec<PhotoFlag>,
}

/// The moment the camera says the photo was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExifTimestamp {
    /// DateTimeOriginal exactly as written ("2008:10:22 16:28:39").
    pub raw: String,
    /// That wall-clock time read as if it were UTC, in ms since the Unix epoch (plus
    /// SubSecTimeOriginal). Only meaningful with an offset; see [`ExifTimestamp::unix_ms_assuming`].
    pub local_ms: i64,
    /// OffsetTimeOriginal in minutes east of UTC (+03:00 → 180), when present and valid.
    pub offset_minutes: Option<i16>,
    /// The instant in ms since the Unix epoch, when the offset is known.
    pub unix_ms: Option<i64>,
}

impl ExifTimestamp {
    /// The instant in ms since the Unix epoch: exact when the photo carries its offset, otherwise
    /// assuming the camera clock ran at `offset_minutes` east of UTC (pass the phone's zone at
    /// capture time: the camera that wrote the photo is usually the phone itself).
    pub fn unix_ms_assuming(&self, offset_minutes: i32) -> i64 {
        self.unix_ms.unwrap_or_else(|| self.local_ms - i64::from(offset_minutes) * 60_000)
    }
}

impl ExifFacts {
    /// Facts for a file whose EXIF block exists but cannot be parsed.
    pub(super) fn unreadable(reason: String) -> Self {
        ExifFacts { found: true, issues: vec![PhotoFlag::ExifUnreadable { reason }], ..ExifFacts::default() }
    }

    /// All flags for these facts: the issues met while reading, plus one absence flag for each
    /// of no EXIF block, no GPS position, no timestamp, and a timestamp without a zone.
    pub fn flags(&self) -> Vec<PhotoFlag> {
        let mut flags = Vec::new();
        if !self.found {
            flags.push(PhotoFlag::NoExif);
        }
        flags.extend(self.issues.iter().cloned());
        if self.gps.is_none() {
            flags.push(PhotoFlag::NoGps);
        }
        match &self.taken {
            None => flags.push(PhotoFlag::NoTimestamp),
            Some(taken) if taken.offset_minutes.is_none() => flags.push(PhotoFlag::NoTimeZone),
            Some(_) => {}
        }
        flags
    }

    /// The input [`crate::geo::plausibility_flags`] needs about this photo.
    ///
    /// `captured_at_ms` is the phone's clock when the app took or imported the photo;
    /// `device_offset_minutes` is the phone's UTC offset then, used when the photo has no
    /// OffsetTimeOriginal.
    pub fn geo_evidence(&self, captured_at_ms: i64, device_offset_minutes: i32) -> ExifEvidence {
        ExifEvidence {
            point: self.gps,
            taken_at_ms: self.taken.as_ref().map(|t| t.unix_ms_assuming(device_offset_minutes)),
            captured_at_ms,
        }
    }
}

/// Reads the EXIF facts of a JPEG file.
///
/// `Ok` with [`ExifFacts::found`] false when the file has no EXIF block; `Ok` with
/// [`ExifFacts::issues`] when parts were damaged; `Err` when `bytes` is not a JPEG whose header
/// can be walked up to the EXIF block ([`PhotoError::NotJpeg`], [`PhotoError::Truncated`], …) or
/// when the block's TIFF structure cannot be parsed at all ([`PhotoError::ExifUnreadable`]).
/// Never panics, whatever the bytes.
pub fn read_exif(bytes: &[u8]) -> Result<ExifFacts, PhotoError> {
    let Some(tiff) = find_exif_payload(bytes)? else {
        return Ok(ExifFacts::default());
    };
    let mut issues = Vec::new();
    let mut reader = Reader::new();
    reader.continue_on_error(true);
    let exif = reader.read_raw(tiff.to_vec()).or_else(|error| {
        error.distill_partial_result(|errors| {
            issues.push(PhotoFlag::ExifPartlyUnreadable { reason: summarise(&errors) });
        })
    });
    let exif = exif.map_err(|error| PhotoError::ExifUnreadable { reason: error.to_string() })?;
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);

    let gps = read_gps(field).unwrap_or_else(|flag| {
        issues.extend(flag);
        None
    });
    let taken = read_timestamp(field).unwrap_or_else(|flag| {
        issues.push(flag);
        None
    });
    let orientation = field(Tag::Orientation).and_then(|f| match f.value.get_uint(0) {
        Some(value @ 1..=8) => u16::try_from(value).ok(),
        other => {
            issues.push(PhotoFlag::OrientationInvalid { value: other.unwrap_or(0) });
            None
        }
    });
    Ok(ExifFacts { found: true, gps, taken, orientation, issues })
}

/// First few parser complaints, for [`PhotoFlag::ExifPartlyUnreadable`].
fn summarise(errors: &[::exif::Error]) -> String {
    let mut text: Vec<String> = errors.iter().take(3).map(ToString::to_string).collect();
    if errors.len() > 3 {
        text.push(format!("and {} more", errors.len() - 3));
    }
    text.join("; ")
}

/// GPS position: `Ok(None)` when there are no GPS position tags, `Err(flags)` when they are
/// unusable.
fn read_gps<'a>(field: impl Fn(Tag) -> Option<&'a Field>) -> Result<Option<GeoPoint>, Option<PhotoFlag>> {
    let invalid = |reason: String| Some(PhotoFlag::GpsInvalid { reason });
    let (lat, lon) = match (field(Tag::GPSLatitude), field(Tag::GPSLongitude)) {
        (None, None) => return Ok(None),
        (Some(lat), Some(lon)) => (lat, lon),
        (Some(_), None) => return Err(invalid("latitude without longitude".into())),
        (None, Some(_)) => return Err(invalid("longitude without latitude".into())),
    };
    let lat = degrees(&lat.value).map_err(|why| invalid(format!("latitude {why}")))?;
    let lon = degrees(&lon.value).map_err(|why| invalid(format!("longitude {why}")))?;
    let lat_sign = hemisphere(field(Tag::GPSLatitudeRef), b'N', b'S')
        .ok_or_else(|| invalid("latitude has no N/S reference".into()))?;
    let lon_sign = hemisphere(field(Tag::GPSLongitudeRef), b'E', b'W')
        .ok_or_else(|| invalid("longitude has no E/W reference".into()))?;
    if lat == 0.0 && lon == 0.0 {
        return Err(invalid("0°, 0° is what cameras write when they have no fix".into()));
    }
    if let Some(datum) = field(Tag::GPSMapDatum).and_then(|f| first_text(&f.value)) {
        let normalised: String =
            datum.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
        if !normalised.is_empty() && !normalised.starts_with("WGS84") {
            return Err(Some(PhotoFlag::GpsDatumNotWgs84 { datum }));
        }
    }
    GeoPoint::wgs84(lat * lat_sign, lon * lon_sign).map(Some).map_err(|e| invalid(e.to_string()))
}

/// Degrees from a GPS coordinate: degrees, minutes, seconds (or fewer parts: decimal degrees, or
/// degrees and decimal minutes), as unsigned or (non-standard, but some phones write it) signed
/// rationals.
fn degrees(value: &Value) -> Result<f64, String> {
    let parts: Vec<Option<f64>> = match value {
        Value::Rational(parts) => {
            parts.iter().take(4).map(|r| ratio(f64::from(r.num), f64::from(r.denom))).collect()
        }
        Value::SRational(parts) => {
            parts.iter().take(4).map(|r| ratio(f64::from(r.num), f64::from(r.denom))).collect()
        }
        _ => return Err("is not a rational number".into()),
    };
    if parts.is_empty() || parts.len() > 3 {
        return Err(format!("has {} parts, not 1–3", parts.len()));
    }
    let mut total = 0.0;
    for (part, unit) in parts.into_iter().zip([1.0, 60.0, 3600.0]) {
        let part = part.ok_or("has a zero denominator")?;
        if part < 0.0 {
            return Err("has a negative part (the sign belongs in the N/S or E/W reference)".into());
        }
        total += part / unit;
    }
    Ok(total)
}

/// `num / denom`, or `None` for a zero denominator.
fn ratio(num: f64, denom: f64) -> Option<f64> {
    (denom != 0.0).then(|| num / denom)
}

/// +1 for the positive hemisphere letter, −1 for the negative one, `None` for anything else.
fn hemisphere(field: Option<&Field>, positive: u8, negative: u8) -> Option<f64> {
    let letter = match &field?.value {
        Value::Ascii(strings) => strings.first()?.first()?.to_ascii_uppercase(),
        _ => return None,
    };
    match letter {
        l if l == positive => Some(1.0),
        l if l == negative => Some(-1.0),
        _ => None,
    }
}

/// The first string of an ASCII tag, trimmed of spaces and NULs, at most [`MAX_RAW_CHARS`].
fn first_text(value: &Value) -> Option<String> {
    let Value::Ascii(strings) = value else { return None };
    let text = String::from_utf8_lossy(strings.first()?);
    Some(text.trim_matches(|c: char| c == '\0' || c.is_whitespace()).chars().take(MAX_RAW_CHARS).collect())
}

/// DateTimeOriginal with its offset and sub-seconds: `Ok(None)` when absent or blank, `Err` when
/// present but not a valid date and time.
fn read_timestamp<'a>(field: impl Fn(Tag) -> Option<&'a Field>) -> Result<Option<ExifTimestamp>, PhotoFlag> {
    let Some(original) = field(Tag::DateTimeOriginal) else { return Ok(None) };
    let raw = first_text(&original.value).unwrap_or_default();
    let invalid = |reason: &str| PhotoFlag::TimestampInvalid { raw: raw.clone(), reason: reason.into() };
    let Value::Ascii(strings) = &original.value else { return Err(invalid("it is not text")) };
    let Some(text) = strings.first() else { return Ok(None) };
    let mut time = match DateTime::from_ascii(text) {
        Ok(time) => time,
        Err(::exif::Error::BlankValue(_)) => return Ok(None),
        Err(_) => return Err(invalid("it is not in the form YYYY:MM:DD HH:MM:SS")),
    };
    // Sub-seconds are a refinement: a malformed value is ignored rather than flagged.
    if let Some(Value::Ascii(subsec)) = field(Tag::SubSecTimeOriginal).map(|f| &f.value)
        && let Some(subsec) = subsec.first()
        && time.parse_subsec(subsec).is_err()
    {
        time.nanosecond = None;
    }
    let local_ms = civil_ms(&time).ok_or_else(|| invalid("it is not a real calendar date and time"))?;
    let offset_minutes = match field(Tag::OffsetTimeOriginal).map(|f| &f.value) {
        Some(Value::Ascii(offset)) => offset.first().and_then(|offset| {
            time.parse_offset(offset).ok()?;
            time.offset.filter(|m| (-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(m))
        }),
        _ => None,
    };
    let unix_ms = offset_minutes.map(|m| local_ms - i64::from(m) * 60_000);
    Ok(Some(ExifTimestamp { raw, local_ms, offset_minutes, unix_ms }))
}

/// Milliseconds since 1970-01-01T00:00 of a wall-clock time read as UTC, or `None` when the fields
/// are not a real date and time (month 13, 31 April, hour 24 …). Second 60 (a leap second) is
/// accepted.
fn civil_ms(time: &DateTime) -> Option<i64> {
    let (year, month, day) = (i64::from(time.year), u32::from(time.month), u32::from(time.day));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year == 0 || day == 0 || day > month_days || time.hour > 23 || time.minute > 59 || time.second > 60 {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm), with March as the first month of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds =
        days * 86_400 + i64::from(time.hour) * 3600 + i64::from(time.minute) * 60 + i64::from(time.second);
    Some(seconds * 1000 + i64::from(time.nanosecond.unwrap_or(0) / 1_000_000))
}

/// A minimal big-endian TIFF/EXIF writer for tests: IFD0, an Exif IFD and a GPS IFD.
#[cfg(test)]
pub(super) mod tiff_writer {
    /// A tag value.
    #[derive(Debug, Clone)]
    pub(crate) enum TagValue {
        Short(u16),
        Ascii(&'static str),
        Rationals(Vec<(u32, u32)>),
        SRationals(Vec<(i32, i32)>),
    }

    /// Tag numbers used by the tests.
    pub(crate) mod tag {
        pub(crate) const ORIENTATION: u16 = 0x0112;
        pub(crate) const DATE_TIME_ORIGINAL: u16 = 0x9003;
        pub(crate) const OFFSET_TIME_ORIGINAL: u16 = 0x9011;
        pub(crate) const SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;
        pub(crate) const GPS_LATITUDE_REF: u16 = 0x0001;
        pub(crate) const GPS_LATITUDE: u16 = 0x0002;
        pub(crate) const GPS_LONGITUDE_REF: u16 = 0x0003;
        pub(crate) const GPS_LONGITUDE: u16 = 0x0004;
        pub(crate) const GPS_MAP_DATUM: u16 = 0x0012;
    }

    fn encoded(value: &TagValue) -> (u16, u32, Vec<u8>) {
        match value {
            TagValue::Short(v) => (3, 1, v.to_be_bytes().to_vec()),
            TagValue::Ascii(s) => {
                let mut bytes = s.as_bytes().to_vec();
                bytes.push(0);
                (2, bytes.len() as u32, bytes)
            }
            TagValue::Rationals(v) => (
                5,
                v.len() as u32,
                v.iter().flat_map(|(n, d)| [n.to_be_bytes(), d.to_be_bytes()]).flatten().collect(),
            ),
            TagValue::SRationals(v) => (
                10,
                v.len() as u32,
                v.iter().flat_map(|(n, d)| [n.to_be_bytes(), d.to_be_bytes()]).flatten().collect(),
            ),
        }
    }

    /// Builds the TIFF block (what follows "Exif\0\0" in APP1).
    pub(crate) fn tiff(
        ifd0: &[(u16, TagValue)],
        exif: &[(u16, TagValue)],
        gps: &[(u16, TagValue)],
    ) -> Vec<u8> {
        let ifd_len = |n: usize| if n == 0 { 0 } else { 2 + 12 * n + 4 };
        let n0 = ifd0.len() + usize::from(!exif.is_empty()) + usize::from(!gps.is_empty());
        let exif_at = 8 + ifd_len(n0);
        let gps_at = exif_at + ifd_len(exif.len());
        let data_at = gps_at + ifd_len(gps.len());
        let mut ifds = Vec::new();
        let mut data = Vec::new();
        let mut write_ifd = |entries: Vec<(u16, u16, u32, Vec<u8>)>, ifds: &mut Vec<u8>| {
            ifds.extend_from_slice(&(entries.len() as u16).to_be_bytes());
            for (tag, kind, count, mut bytes) in entries {
                ifds.extend_from_slice(&tag.to_be_bytes());
                ifds.extend_from_slice(&kind.to_be_bytes());
                ifds.extend_from_slice(&count.to_be_bytes());
                if bytes.len() <= 4 {
                    bytes.resize(4, 0);
                    ifds.extend_from_slice(&bytes);
                } else {
                    ifds.extend_from_slice(&((data_at + data.len()) as u32).to_be_bytes());
                    data.extend_from_slice(&bytes);
                    if data.len() % 2 == 1 {
                        data.push(0);
                    }
                }
            }
            ifds.extend_from_slice(&0u32.to_be_bytes());
        };
        let plain = |entries: &[(u16, TagValue)]| {
            entries
                .iter()
                .map(|(tag, value)| {
                    let (kind, count, bytes) = encoded(value);
                    (*tag, kind, count, bytes)
                })
                .collect::<Vec<_>>()
        };
        let mut first = plain(ifd0);
        if !exif.is_empty() {
            first.push((0x8769, 4, 1, (exif_at as u32).to_be_bytes().to_vec()));
        }
        if !gps.is_empty() {
            first.push((0x8825, 4, 1, (gps_at as u32).to_be_bytes().to_vec()));
        }
        write_ifd(first, &mut ifds);
        if !exif.is_empty() {
            write_ifd(plain(exif), &mut ifds);
        }
        if !gps.is_empty() {
            write_ifd(plain(gps), &mut ifds);
        }
        let mut out = b"MM\0\x2a\0\0\0\x08".to_vec();
        out.extend(ifds);
        out.extend(data);
        out
    }

    /// A JPEG header that holds only SOI and the EXIF segment: enough for [`super::read_exif`].
    pub(crate) fn jpeg_with_exif(tiff: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(tiff);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::tiff_writer::{TagValue, jpeg_with_exif, tag, tiff};
    use super::*;
    use crate::evidence::photo::{PhotoLimits, fixtures_dir, read_header};

    fn read_fixture(name: &str) -> Vec<u8> {
        let path = fixtures_dir().join("exif").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
    }

    fn facts_for(ifd0: &[(u16, TagValue)], exif: &[(u16, TagValue)], gps: &[(u16, TagValue)]) -> ExifFacts {
        read_exif(&jpeg_with_exif(&tiff(ifd0, exif, gps))).expect("a well-formed block reads")
    }

    fn nokia_like_gps() -> Vec<(u16, TagValue)> {
        vec![
            (tag::GPS_LATITUDE_REF, TagValue::Ascii("N")),
            (tag::GPS_LATITUDE, TagValue::Rationals(vec![(60, 1), (8, 1), (4814, 100)])),
            (tag::GPS_LONGITUDE_REF, TagValue::Ascii("E")),
            (tag::GPS_LONGITUDE, TagValue::Rationals(vec![(24, 1), (54, 1), (2438, 100)])),
        ]
    }

    /// expected.json was written by an independent reader (Python exifread + Pillow).
    #[test]
    fn exif_facts_match_the_independent_reader_for_every_fixture() {
        let expected_path = fixtures_dir().join("exif/expected.json");
        let expected: BTreeMap<String, serde_json::Value> = serde_json::from_slice(
            &std::fs::read(&expected_path).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .expect("expected.json parses");
        assert!(expected.len() >= 20, "expected.json lists {} files", expected.len());
        for (name, want) in &expected {
            let bytes = read_fixture(name);
            let facts = read_exif(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));

            let want_gps = want.get("gps_wgs84").and_then(|v| v.as_array());
            match (want_gps, facts.gps) {
                (None, None) => {}
                (Some(want), Some(got)) => {
                    let (lat, lon) = (want[0].as_f64().unwrap(), want[1].as_f64().unwrap());
                    assert!((got.lat() - lat).abs() < 1e-5, "{name}: latitude {} vs {lat}", got.lat());
                    assert!((got.lon() - lon).abs() < 1e-5, "{name}: longitude {} vs {lon}", got.lon());
                }
                (want, got) => panic!("{name}: GPS expected {want:?}, read {got:?}"),
            }

            let want_taken = want.get("taken_local").and_then(|v| v.as_str());
            assert_eq!(facts.taken.as_ref().map(|t| t.raw.as_str()), want_taken, "{name}: DateTimeOriginal");

            let want_orientation = want.get("orientation").and_then(|v| v.as_u64()).map(|v| v as u16);
            if name == "xmp_no_exif.jpg" {
                // The file's EXIF block is in its *second* APP1 segment, after an XMP one; the
                // reference reader stopped at the first APP1. The block is real: IFD0 holds
                // Orientation 1 and DateTime (not DateTimeOriginal).
                assert_eq!(want_orientation, None);
                assert_eq!(facts.orientation, Some(1), "{name}");
            } else {
                assert_eq!(facts.orientation, want_orientation, "{name}: orientation");
            }

            let pixels = want["pixels"].as_array().expect("pixels");
            let header =
                read_header(&bytes, &PhotoLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                [u64::from(header.width), u64::from(header.height)],
                [pixels[0].as_u64().unwrap(), pixels[1].as_u64().unwrap()],
                "{name}: pixels"
            );
        }
    }

    #[test]
    fn phone_photo_time_with_offset_resolves_to_the_exact_instant() {
        let facts = read_exif(&read_fixture("mobile_HMD_Nokia_8.3_5G.jpg")).unwrap();
        let taken = facts.taken.clone().expect("DateTimeOriginal");
        assert_eq!(taken.raw, "2022:08:14 14:12:31");
        assert_eq!(taken.offset_minutes, Some(180));
        // 2022-08-14T11:12:31Z
        assert_eq!(taken.unix_ms, Some(1_660_475_551_000));
        assert_eq!(taken.unix_ms_assuming(-300), 1_660_475_551_000, "a known offset wins");
        assert!(facts.flags().is_empty(), "{:?}", facts.flags());
    }

    #[test]
    fn camera_time_without_offset_is_flagged_and_resolved_with_the_device_zone() {
        let facts = read_exif(&read_fixture("gps_DSCN0010.jpg")).unwrap();
        let taken = facts.taken.clone().expect("DateTimeOriginal");
        assert_eq!(taken.offset_minutes, None);
        assert_eq!(taken.unix_ms, None);
        // 2008-10-22T16:28:39 read as UTC
        assert_eq!(taken.local_ms, 1_224_692_919_000);
        assert_eq!(taken.unix_ms_assuming(120), 1_224_692_919_000 - 7_200_000);
        assert_eq!(facts.flags(), vec![PhotoFlag::NoTimeZone]);
        let evidence = facts.geo_evidence(1_224_686_000_000, 120);
        assert_eq!(evidence.taken_at_ms, Some(1_224_685_719_000));
        assert_eq!(evidence.point, facts.gps);
    }

    #[test]
    fn photo_without_exif_reads_as_not_found_with_absence_flags() {
        let facts = read_exif(&read_fixture("invalid_image01551.jpg")).unwrap();
        assert!(!facts.found);
        assert_eq!(facts.flags(), vec![PhotoFlag::NoExif, PhotoFlag::NoGps, PhotoFlag::NoTimestamp]);
    }

    #[test]
    fn broken_gps_pointer_is_a_partial_result_not_an_error() {
        let facts = read_exif(&read_fixture("tests_45-gps_ifd.jpg")).unwrap();
        assert!(facts.found);
        assert_eq!(facts.orientation, Some(1));
        assert_eq!(facts.taken.as_ref().map(|t| t.raw.as_str()), Some("2012:06:23 06:55:49"));
        let flags = facts.flags();
        assert!(
            matches!(flags.first(), Some(PhotoFlag::ExifPartlyUnreadable { reason }) if reason.contains("pointer")),
            "{flags:?}"
        );
        assert!(flags.contains(&PhotoFlag::NoGps));
    }

    #[test]
    fn signed_rational_gps_from_phones_is_accepted() {
        let gps = vec![
            (tag::GPS_LATITUDE_REF, TagValue::Ascii("S")),
            (tag::GPS_LATITUDE, TagValue::SRationals(vec![(33, 1), (52, 1), (3000, 100)])),
            (tag::GPS_LONGITUDE_REF, TagValue::Ascii("W")),
            (tag::GPS_LONGITUDE, TagValue::SRationals(vec![(70, 1), (30, 1), (0, 1)])),
        ];
        let point = facts_for(&[], &[], &gps).gps.expect("position");
        assert!((point.lat() + (33.0 + 52.0 / 60.0 + 30.0 / 3600.0)).abs() < 1e-9);
        assert!((point.lon() + 70.5).abs() < 1e-9);
    }

    #[test]
    fn unusable_gps_tags_become_flags_not_positions() {
        type Case = (&'static str, Vec<(u16, TagValue)>, &'static str);
        let cases: Vec<Case> = vec![
            (
                "zero denominator",
                vec![
                    (tag::GPS_LATITUDE_REF, TagValue::Ascii("N")),
                    (tag::GPS_LATITUDE, TagValue::Rationals(vec![(60, 0), (8, 1), (0, 1)])),
                    (tag::GPS_LONGITUDE_REF, TagValue::Ascii("E")),
                    (tag::GPS_LONGITUDE, TagValue::Rationals(vec![(24, 1), (54, 1), (0, 1)])),
                ],
                "zero denominator",
            ),
            (
                "no hemisphere",
                nokia_like_gps().into_iter().filter(|(t, _)| *t != tag::GPS_LATITUDE_REF).collect(),
                "no N/S reference",
            ),
            (
                "null island",
                vec![
                    (tag::GPS_LATITUDE_REF, TagValue::Ascii("N")),
                    (tag::GPS_LATITUDE, TagValue::Rationals(vec![(0, 1), (0, 1), (0, 1)])),
                    (tag::GPS_LONGITUDE_REF, TagValue::Ascii("E")),
                    (tag::GPS_LONGITUDE, TagValue::Rationals(vec![(0, 1), (0, 1), (0, 1)])),
                ],
                "no fix",
            ),
            (
                "latitude beyond the pole",
                vec![
                    (tag::GPS_LATITUDE_REF, TagValue::Ascii("N")),
                    (tag::GPS_LATITUDE, TagValue::Rationals(vec![(95, 1), (0, 1), (0, 1)])),
                    (tag::GPS_LONGITUDE_REF, TagValue::Ascii("E")),
                    (tag::GPS_LONGITUDE, TagValue::Rationals(vec![(24, 1), (0, 1), (0, 1)])),
                ],
                "outside −90…90",
            ),
            ("latitude alone", nokia_like_gps().into_iter().take(2).collect(), "latitude without longitude"),
        ];
        for (case, gps, reason_part) in cases {
            let facts = facts_for(&[], &[], &gps);
            assert_eq!(facts.gps, None, "{case}");
            assert!(
                matches!(facts.issues.as_slice(), [PhotoFlag::GpsInvalid { reason }] if reason.contains(reason_part)),
                "{case}: {:?}",
                facts.issues
            );
            assert!(facts.flags().contains(&PhotoFlag::NoGps), "{case}");
        }
    }

    #[test]
    fn gps_in_another_datum_is_not_reported_as_wgs84() {
        let mut gps = nokia_like_gps();
        gps.push((tag::GPS_MAP_DATUM, TagValue::Ascii("TOKYO")));
        let facts = facts_for(&[], &[], &gps);
        assert_eq!(facts.gps, None);
        assert_eq!(facts.issues, vec![PhotoFlag::GpsDatumNotWgs84 { datum: "TOKYO".into() }]);

        let mut gps = nokia_like_gps();
        gps.push((tag::GPS_MAP_DATUM, TagValue::Ascii("WGS 84")));
        assert!(facts_for(&[], &[], &gps).gps.is_some(), "spelling variants of WGS-84 are accepted");
    }

    #[test]
    fn impossible_dates_and_orientations_become_flags() {
        for (raw, reason_part) in [
            ("0000:00:00 00:00:00", "calendar"),
            ("2023:02:29 10:00:00", "calendar"),
            ("2023:04:31 10:00:00", "calendar"),
            ("2023:01:01 24:00:00", "calendar"),
            ("yesterday at noon!!", "form"),
        ] {
            let facts = facts_for(&[], &[(tag::DATE_TIME_ORIGINAL, TagValue::Ascii(raw))], &[]);
            assert_eq!(facts.taken, None, "{raw}");
            assert!(
                matches!(facts.issues.as_slice(),
                    [PhotoFlag::TimestampInvalid { raw: got, reason }] if got == raw && reason.contains(reason_part)),
                "{raw}: {:?}",
                facts.issues
            );
        }
        let blank = facts_for(&[], &[(tag::DATE_TIME_ORIGINAL, TagValue::Ascii("    :  :     :  :  "))], &[]);
        assert_eq!((blank.taken, blank.issues), (None, vec![]), "a blank date is absent, not invalid");

        for value in [0, 9, 300] {
            let facts = facts_for(&[(tag::ORIENTATION, TagValue::Short(value))], &[], &[]);
            assert_eq!(facts.orientation, None);
            assert_eq!(facts.issues, vec![PhotoFlag::OrientationInvalid { value: u32::from(value) }]);
        }
    }

    #[test]
    fn leap_day_subseconds_and_offsets_are_read() {
        let facts = facts_for(
            &[(tag::ORIENTATION, TagValue::Short(8))],
            &[
                (tag::DATE_TIME_ORIGINAL, TagValue::Ascii("2024:02:29 23:59:59")),
                (tag::SUB_SEC_TIME_ORIGINAL, TagValue::Ascii("25")),
                (tag::OFFSET_TIME_ORIGINAL, TagValue::Ascii("-05:30")),
            ],
            &[],
        );
        let taken = facts.taken.expect("valid");
        // 2024-02-29T23:59:59.250 local = 2024-03-01T05:29:59.250Z
        assert_eq!(taken.local_ms, 1_709_251_199_250);
        assert_eq!(taken.offset_minutes, Some(-330));
        assert_eq!(taken.unix_ms, Some(1_709_251_199_250 + 330 * 60_000));
        assert_eq!(facts.orientation, Some(8));

        let out_of_range = facts_for(
            &[],
            &[
                (tag::DATE_TIME_ORIGINAL, TagValue::Ascii("2024:02:29 23:59:59")),
                (tag::OFFSET_TIME_ORIGINAL, TagValue::Ascii("+23:00")),
            ],
            &[],
        );
        assert_eq!(out_of_range.taken.expect("valid").offset_minutes, None, "no zone is 23 h east of UTC");
    }

    #[test]
    fn civil_time_matches_the_unix_epoch() {
        let at = |year, month, day, hour, minute, second| {
            civil_ms(&DateTime { year, month, day, hour, minute, second, nanosecond: None, offset: None })
        };
        assert_eq!(at(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(at(1969, 12, 31, 23, 59, 59), Some(-1000));
        assert_eq!(at(2000, 2, 29, 12, 0, 0), Some(951_825_600_000));
        assert_eq!(at(1900, 2, 29, 0, 0, 0), None, "1900 was not a leap year");
        assert_eq!(at(2008, 10, 22, 16, 28, 39), Some(1_224_692_919_000));
    }

    #[test]
    fn non_jpeg_and_unparseable_blocks_are_errors_with_reasons() {
        assert!(matches!(read_exif(b""), Err(PhotoError::Empty)));
        assert!(matches!(
            read_exif(b"\x89PNG\r\n\x1a\n...."),
            Err(PhotoError::NotJpeg { found: "a PNG image" })
        ));
        let garbage_block = jpeg_with_exif(b"XX\0\x2a\0\0\0\x08");
        let error = read_exif(&garbage_block).unwrap_err();
        assert!(
            matches!(&error, PhotoError::ExifUnreadable { reason } if reason.contains("byte order")),
            "{error}"
        );
        assert!(error.to_string().contains("the photo itself may still be used"), "{error}");
    }

    /// Deterministic stand-in for the fuzz target: mutated and truncated EXIF blocks from every
    /// fixture must give `Ok` or `Err`, never a panic or a hang.
    #[test]
    fn read_exif_survives_mutated_and_truncated_blocks() {
        let started = std::time::Instant::now();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut inputs = 0;
        for entry in std::fs::read_dir(fixtures_dir().join("exif")).expect("fixtures/exif") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_none_or(|e| e != "jpg") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("fixture");
            // Only the header matters to read_exif; keep the first 64 KiB so the test stays fast.
            let header = &bytes[..bytes.len().min(65_536)];
            for cut in (0..header.len()).step_by(251) {
                let _ = read_exif(&header[..cut]);
                inputs += 1;
            }
            for _ in 0..300 {
                let mut mutated = header.to_vec();
                for _ in 0..1 + next() % 8 {
                    let at = (next() % mutated.len() as u64) as usize;
                    mutated[at] = next() as u8;
                }
                let _ = read_exif(&mutated);
                inputs += 1;
            }
        }
        assert!(inputs > 5_000, "only {inputs} inputs");
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    }
}
