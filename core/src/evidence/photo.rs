//! Photo ingest: from a camera JPEG to an upright upload copy, a thumbnail and their hashes.
//!
//! This module owns what happens to a photo between the camera and the blob store (DESIGN §4
//! "Photos"): it checks the file against [`PhotoLimits`] (file size, frame size from the SOF
//! header, number of scans) before any pixel is decoded, so a decompression bomb costs nothing; it reads the EXIF facts
//! ([`super::exif`]); it decodes the picture **once**, at the smallest DCT scale that still covers
//! the upload copy (the IDCT itself shrinks a 12 MP photo by 2 or 4 per side), resizes that to the
//! upload copy, turns it upright, and derives the thumbnail from the copy's pixels; then it hashes
//! the original and both copies with SHA-256.
//!
//! Decisions worth knowing:
//! - **No metadata in the copies.** The copies carry no EXIF, XMP, IPTC or ICC segment (only the
//!   JFIF header the encoder writes): the record keeps the facts that matter in [`ExifFacts`], and a
//!   copy without metadata cannot leak anything the record does not show. Wide-gamut (Display P3)
//!   photos are therefore shown as sRGB, slightly less saturated; fine for evidence.
//! - **EXIF is reported, never trusted.** The only use made of it here is the orientation, to turn
//!   the copies upright; everything else is passed on, with [`PhotoFlag`]s saying what is missing
//!   or unreadable, for the plausibility rules in [`crate::geo`] to weigh.
//! - **A damaged EXIF block does not refuse the photo** (it becomes a flag); damaged pixels do.
//! - Pure Rust (jpeg-decoder, fast_image_resize, jpeg-encoder, sha2), so the same code
//!   cross-compiles for Android and iOS with no C toolchain and no system library. jpeg-decoder
//!   runs its IDCT on helper threads (one per colour component) while the caller's thread reads the
//!   entropy-coded data.
//!
//! Nothing here does I/O: the caller reads the file into memory and writes the blobs.

use std::fmt;
use std::time::{Duration, Instant};

use fast_image_resize as fir;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::exif::{ExifFacts, read_exif};

/// Longest side of the upload copy, in pixels (DESIGN §4).
pub const UPLOAD_LONG_SIDE_PX: u32 = 1600;
/// Longest side of the thumbnail, in pixels (DESIGN §4).
pub const THUMBNAIL_LONG_SIDE_PX: u32 = 320;
/// JPEG quality of the upload copy (libjpeg scale, 1–100).
pub const UPLOAD_QUALITY: u8 = 80;
/// JPEG quality of the thumbnail (libjpeg scale; 75 is cjpeg's default).
pub const THUMBNAIL_QUALITY: u8 = 75;

/// JPEG markers this module looks at.
mod marker {
    /// Start of image.
    pub const SOI: u8 = 0xD8;
    /// End of image.
    pub const EOI: u8 = 0xD9;
    /// Start of scan: the entropy-coded data follows; the header ends here.
    pub const SOS: u8 = 0xDA;
    /// Define Huffman tables (in the SOFn range, but not a frame header).
    pub const DHT: u8 = 0xC4;
    /// Reserved "JPG" extension (in the SOFn range, but not a frame header).
    pub const JPG: u8 = 0xC8;
    /// Define arithmetic-coding conditioning (in the SOFn range, but not a frame header).
    pub const DAC: u8 = 0xCC;
    /// APP1: EXIF (or XMP).
    pub const APP1: u8 = 0xE1;
    /// Temporary private use; stands alone (no length).
    pub const TEM: u8 = 0x01;
}

/// Why a photo was refused. Each message says what was wrong and what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// Zero bytes.
    #[error("the photo file is empty (0 bytes); pick the photo again or retake it")]
    Empty,
    /// Larger than [`PhotoLimits::max_file_bytes`]; refused before reading anything.
    #[error(
        "the photo file is {} MB; the limit is {} MB — attach the camera's own JPEG, not a scan, \
         panorama or RAW export",
        mebibytes(*.bytes),
        mebibytes(*.limit)
    )]
    FileTooLarge {
        /// File size in bytes.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes are not a JPEG file.
    #[error(
        "the file is {found}, not a JPEG photo; fieldsync accepts JPEG photos only — take the photo \
         with the app's camera, or set the camera to JPEG (\"Most Compatible\" on iPhone)"
    )]
    NotJpeg {
        /// What the bytes look like instead ("a PNG image", "text", …).
        found: &'static str,
    },
    /// The file ends before the frame header or image data starts.
    #[error(
        "the JPEG file ends inside its header (after {offset} bytes); it was cut short while being \
         copied or uploaded — attach the original photo again"
    )]
    Truncated {
        /// Bytes that were there.
        offset: usize,
    },
    /// The header (markers before the image data) does not follow the JPEG format.
    #[error("the JPEG header is damaged: {reason}; retake the photo or attach the original again")]
    MalformedHeader {
        /// What was wrong, with the byte offset where useful.
        reason: String,
    },
    /// A valid JPEG using a feature that phone cameras do not write and this module does not read.
    #[error("the JPEG {feature}, which fieldsync does not read; {advice}")]
    Unsupported {
        /// The feature, phrased to follow "the JPEG ".
        feature: String,
        /// What to do instead.
        advice: &'static str,
    },
    /// One side is longer than [`PhotoLimits::max_side_px`] (decompression-bomb guard).
    #[error(
        "photo is {width}×{height} px; the limit is {max_side} px per side — this is not a normal \
         camera photo (a panorama or a forged header?); attach a regular photo"
    )]
    SideTooLong {
        /// Width from the frame header.
        width: u32,
        /// Height from the frame header.
        height: u32,
        /// The limit.
        max_side: u32,
    },
    /// More pixels than [`PhotoLimits::max_pixels`] (decompression-bomb guard).
    #[error(
        "photo is {width}×{height} px; the limit is {} megapixels — set the camera to a lower \
         resolution or attach a smaller copy",
        megapixels(*.max_pixels)
    )]
    TooManyPixels {
        /// Width from the frame header.
        width: u32,
        /// Height from the frame header.
        height: u32,
        /// The limit, in pixels.
        max_pixels: u64,
    },
    /// More scans than [`PhotoLimits::max_scans`] (CPU-bomb guard).
    #[error(
        "the JPEG has {scans} or more scans; the limit is {max_scans} — a camera photo has at most a \
         few dozen; re-save the photo as a normal JPEG"
    )]
    TooManyScans {
        /// Scans counted (counting stops just past the limit).
        scans: u32,
        /// The limit.
        max_scans: u32,
    },
    /// The header is fine but the compressed image data cannot be decoded.
    #[error(
        "the photo's image data is damaged ({reason}); its pixels cannot be decoded — retake the \
         photo or attach the original again"
    )]
    ImageDataDamaged {
        /// The decoder's account of the problem.
        reason: String,
    },
    /// The EXIF block exists but its structure cannot be parsed at all.
    ///
    /// [`ingest_photo`] and [`inspect_photo`] turn this into [`PhotoFlag::ExifUnreadable`] and go
    /// on; only [`read_exif`] returns it.
    #[error(
        "the photo's EXIF block cannot be read ({reason}); its GPS position, time and orientation \
         are unknown — the photo itself may still be used"
    )]
    ExifUnreadable {
        /// What the parser said.
        reason: String,
    },
    /// Resizing or encoding failed on pixels that decoded fine: a bug, not a property of the photo.
    #[error(
        "could not make the {stage}: {reason}; this is a bug in fieldsync — please report it with the photo"
    )]
    Internal {
        /// Which step failed.
        stage: &'static str,
        /// The library's message.
        reason: String,
    },
}

/// Bytes as mebibytes with one decimal, for messages.
fn mebibytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_048_576.0)
}

/// Pixels as megapixels, without decimals when whole, for messages.
fn megapixels(pixels: u64) -> String {
    if pixels.is_multiple_of(1_000_000) {
        (pixels / 1_000_000).to_string()
    } else {
        format!("{:.1}", pixels as f64 / 1e6)
    }
}

/// Decompression-bomb limits, checked on the file size and the frame header before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Largest accepted file, in bytes. Default 40 MiB (a 108 MP phone photo is ~25 MB).
    pub max_file_bytes: u64,
    /// Longest accepted side, in pixels. Default 20,000.
    pub max_side_px: u32,
    /// Most accepted pixels (width × height). Default 100,000,000 (100 MP).
    pub max_pixels: u64,
    /// Most accepted scans (SOS segments). Each progressive scan makes the decoder revisit the
    /// whole image, so a small file with thousands of scans is a CPU bomb. Cameras write 1
    /// (baseline) to about a dozen (progressive). Default 100.
    pub max_scans: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_file_bytes: 40 * 1_048_576,
            max_side_px: 20_000,
            max_pixels: 100_000_000,
            max_scans: 100,
        }
    }
}

/// What the JPEG frame header (SOFn) says, read without decoding any pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JpegHeader {
    /// Stored width in pixels (before EXIF orientation).
    pub width: u32,
    /// Stored height in pixels (before EXIF orientation).
    pub height: u32,
    /// Colour components: 1 (greyscale) or 3 (YCbCr).
    pub components: u8,
    /// Progressive (SOF2) rather than sequential coding.
    pub progressive: bool,
}

/// Something about a photo that a supervisor or a plausibility rule may want to know.
///
/// Flags are facts about the file, not verdicts. The absence flags follow one rule each:
/// [`NoExif`](Self::NoExif) iff there is no EXIF block, [`NoGps`](Self::NoGps) iff
/// [`ExifFacts::gps`] is `None`, [`NoTimestamp`](Self::NoTimestamp) iff [`ExifFacts::taken`] is
/// `None`, whatever the reason (the specific reason, if any, is another flag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum PhotoFlag {
    /// The file has no EXIF block (screenshots, edited or messenger-forwarded photos).
    NoExif,
    /// The EXIF block exists but could not be parsed at all.
    ExifUnreadable {
        /// What the parser said.
        reason: String,
    },
    /// Parts of the EXIF block were damaged and skipped; the facts found are reported.
    ExifPartlyUnreadable {
        /// What was skipped.
        reason: String,
    },
    /// No usable GPS position.
    NoGps,
    /// GPS tags are present but do not make a position.
    GpsInvalid {
        /// What was wrong.
        reason: String,
    },
    /// The GPS position is in a datum other than WGS-84 and was not used.
    GpsDatumNotWgs84 {
        /// GPSMapDatum as written.
        datum: String,
    },
    /// No usable DateTimeOriginal.
    NoTimestamp,
    /// DateTimeOriginal is present but is not a valid date and time.
    TimestampInvalid {
        /// The value as written (at most 64 characters).
        raw: String,
        /// What was wrong.
        reason: String,
    },
    /// DateTimeOriginal has no OffsetTimeOriginal: local camera time in an unknown zone.
    NoTimeZone,
    /// The Orientation tag has a value outside 1–8; the photo was not rotated.
    OrientationInvalid {
        /// The value as written.
        value: u32,
    },
}

impl PhotoFlag {
    /// The stable machine code of the flag, as records store it.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoFlag::NoExif => "no_exif",
            PhotoFlag::ExifUnreadable { .. } => "exif_unreadable",
            PhotoFlag::ExifPartlyUnreadable { .. } => "exif_partly_unreadable",
            PhotoFlag::NoGps => "no_gps",
            PhotoFlag::GpsInvalid { .. } => "gps_invalid",
            PhotoFlag::GpsDatumNotWgs84 { .. } => "gps_datum_not_wgs84",
            PhotoFlag::NoTimestamp => "no_timestamp",
            PhotoFlag::TimestampInvalid { .. } => "timestamp_invalid",
            PhotoFlag::NoTimeZone => "no_time_zone",
            PhotoFlag::OrientationInvalid { .. } => "orientation_invalid",
        }
    }
}

impl fmt::Display for PhotoFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhotoFlag::NoExif => write!(f, "the photo has no EXIF block"),
            PhotoFlag::ExifUnreadable { reason } => write!(f, "the EXIF block cannot be read ({reason})"),
            PhotoFlag::ExifPartlyUnreadable { reason } => {
                write!(f, "parts of the EXIF block were damaged and skipped ({reason})")
            }
            PhotoFlag::NoGps => write!(f, "the photo has no GPS position"),
            PhotoFlag::GpsInvalid { reason } => write!(f, "the photo's GPS tags are unusable ({reason})"),
            PhotoFlag::GpsDatumNotWgs84 { datum } => {
                write!(f, "the photo's GPS position is in datum {datum:?}, not WGS-84, and was not used")
            }
            PhotoFlag::NoTimestamp => write!(f, "the photo has no original date and time"),
            PhotoFlag::TimestampInvalid { raw, reason } => {
                write!(f, "the photo's date and time {raw:?} is invalid ({reason})")
            }
            PhotoFlag::NoTimeZone => write!(f, "the photo's time has no time zone"),
            PhotoFlag::OrientationInvalid { value } => {
                write!(f, "the photo's orientation tag is {value}, not 1–8; it was not rotated")
            }
        }
    }
}

/// An encoded JPEG made by [`ingest_photo`], ready to be stored under its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedJpeg {
    /// The JPEG file (no metadata segments).
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lowercase hex: the blob's content address.
    pub sha256: String,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
}

impl fmt::Debug for EncodedJpeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedJpeg")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("sha256", &self.sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Everything a visit record needs from one photo. Independent of storage: the caller writes
/// [`upload_copy`](Self::upload_copy) and [`thumbnail`](Self::thumbnail) as blobs.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoEvidence {
    /// SHA-256 of the original file, lowercase hex (proves which file the copies came from).
    pub original_sha256: String,
    /// Size of the original file in bytes.
    pub original_bytes: u64,
    /// Stored pixel size of the original, `[width, height]`, before orientation.
    pub pixels: [u32; 2],
    /// What the EXIF block says (reported, not trusted).
    pub exif: ExifFacts,
    /// The EXIF orientation (1–8) that was applied to the copies' pixels; 1 when absent or invalid.
    pub orientation_applied: u16,
    /// Upright copy, long side ≤ [`UPLOAD_LONG_SIDE_PX`], quality [`UPLOAD_QUALITY`].
    pub upload_copy: EncodedJpeg,
    /// Upright thumbnail, long side ≤ [`THUMBNAIL_LONG_SIDE_PX`], made from the copy's pixels.
    pub thumbnail: EncodedJpeg,
    /// Everything missing or odd about the photo; see [`PhotoFlag`].
    pub flags: Vec<PhotoFlag>,
}

/// What [`inspect_photo`] finds without decoding pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoInspection {
    /// The frame header.
    pub header: JpegHeader,
    /// The EXIF facts; an unreadable block shows as [`PhotoFlag::ExifUnreadable`] in its issues.
    pub exif: ExifFacts,
}

/// Wall-clock time spent in each stage of [`ingest_photo_timed`]. Diagnostics for benchmarks,
/// never part of a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestTimings {
    /// Frame header and limits.
    pub header: Duration,
    /// EXIF block.
    pub exif: Duration,
    /// Entropy decoding and scaled IDCT.
    pub decode: Duration,
    /// Resize to the upload copy's size.
    pub resize: Duration,
    /// Rotation / mirroring to upright (zero for orientation 1).
    pub orient: Duration,
    /// Encoding the upload copy.
    pub encode_copy: Duration,
    /// Resizing and encoding the thumbnail.
    pub thumbnail: Duration,
    /// SHA-256 of the original and both copies.
    pub hash: Duration,
    /// All of the above.
    pub total: Duration,
}

/// Reads the JPEG frame header and checks it against `limits`, decoding no pixel.
///
/// Checks, in order: the file size, the JPEG signature (naming the format when it is another
/// one), the marker structure up to the first scan, the frame type (8-bit Huffman-coded,
/// greyscale or YCbCr), the dimensions, and the number of scans in the file.
pub fn read_header(bytes: &[u8], limits: &PhotoLimits) -> Result<JpegHeader, PhotoError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_file_bytes {
        return Err(PhotoError::FileTooLarge { bytes: size, limit: limits.max_file_bytes });
    }
    let mut frame: Option<JpegHeader> = None;
    for segment in Segments::new(bytes)? {
        let segment = segment?;
        match segment.marker {
            marker::SOS => {
                let header = frame.ok_or_else(|| PhotoError::MalformedHeader {
                    reason: format!("image data starts at byte {} before any frame header", segment.offset),
                })?;
                check_limits(&header, limits)?;
                check_scans(bytes, limits)?;
                return Ok(header);
            }
            marker::EOI => break,
            m if is_frame_header(m) => {
                if frame.is_some() {
                    return Err(PhotoError::MalformedHeader {
                        reason: format!("a second frame header at byte {}", segment.offset),
                    });
                }
                frame = Some(parse_frame_header(m, segment.payload, segment.offset)?);
            }
            _ => {}
        }
    }
    Err(match frame {
        None => PhotoError::MalformedHeader { reason: "the file has no frame header (SOF)".into() },
        Some(_) => {
            PhotoError::MalformedHeader { reason: "the file ends (EOI) before any image data (SOS)".into() }
        }
    })
}

/// Reads the header and the EXIF facts, decoding no pixel: what `fieldsync photo inspect` shows.
///
/// An EXIF block that cannot be parsed does not fail the call; it shows as
/// [`PhotoFlag::ExifUnreadable`] in [`ExifFacts::issues`].
pub fn inspect_photo(bytes: &[u8], limits: &PhotoLimits) -> Result<PhotoInspection, PhotoError> {
    let header = read_header(bytes, limits)?;
    Ok(PhotoInspection { header, exif: read_exif_lenient(bytes) })
}

/// Turns a camera JPEG into a [`PhotoEvidence`]: EXIF facts, upright upload copy and thumbnail,
/// and the three hashes. See the module documentation for the steps and the decisions.
pub fn ingest_photo(bytes: &[u8], limits: &PhotoLimits) -> Result<PhotoEvidence, PhotoError> {
    ingest_photo_timed(bytes, limits).map(|(evidence, _)| evidence)
}

/// [`ingest_photo`], also returning how long each stage took (for benchmarks).
pub fn ingest_photo_timed(
    bytes: &[u8],
    limits: &PhotoLimits,
) -> Result<(PhotoEvidence, IngestTimings), PhotoError> {
    let started = Instant::now();
    let mut timings = IngestTimings::default();
    let mut lap = Instant::now();
    let mut stage = |slot: &mut Duration| {
        let now = Instant::now();
        *slot = now.duration_since(lap);
        lap = now;
    };

    let header = read_header(bytes, limits)?;
    stage(&mut timings.header);

    let exif = read_exif_lenient(bytes);
    let orientation = exif.orientation.unwrap_or(1);
    stage(&mut timings.exif);

    let (copy_width, copy_height) = fit_within(header.width, header.height, UPLOAD_LONG_SIDE_PX);
    let decoded = decode_scaled(bytes, &header, copy_width, copy_height, limits)?;
    stage(&mut timings.decode);

    let copy = resize(decoded, copy_width, copy_height)?;
    stage(&mut timings.resize);

    let copy = orient(copy, orientation);
    stage(&mut timings.orient);

    let copy_bytes = encode(&copy, UPLOAD_QUALITY, "upload copy")?;
    stage(&mut timings.encode_copy);

    let (thumb_width, thumb_height) = fit_within(copy.width, copy.height, THUMBNAIL_LONG_SIDE_PX);
    let thumb = resize_ref(&copy, thumb_width, thumb_height)?;
    let thumb_bytes = encode(&thumb, THUMBNAIL_QUALITY, "thumbnail")?;
    stage(&mut timings.thumbnail);

    let original_sha256 = sha256_hex(bytes);
    let upload_copy = EncodedJpeg {
        sha256: sha256_hex(&copy_bytes),
        bytes: copy_bytes,
        width: copy.width,
        height: copy.height,
    };
    let thumbnail = EncodedJpeg {
        sha256: sha256_hex(&thumb_bytes),
        bytes: thumb_bytes,
        width: thumb.width,
        height: thumb.height,
    };
    stage(&mut timings.hash);
    timings.total = started.elapsed();

    let evidence = PhotoEvidence {
        original_sha256,
        original_bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        pixels: [header.width, header.height],
        flags: exif.flags(),
        orientation_applied: orientation,
        exif,
        upload_copy,
        thumbnail,
    };
    Ok((evidence, timings))
}

/// SHA-256 of `bytes` as lowercase hex, the form [`crate`] records use for blob addresses.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// [`read_exif`], with a hard failure turned into facts carrying [`PhotoFlag::ExifUnreadable`].
///
/// Only called after [`read_header`] accepted the file, so the errors left are about the EXIF
/// block itself (or a header problem that read_header would already have reported).
fn read_exif_lenient(bytes: &[u8]) -> ExifFacts {
    read_exif(bytes).unwrap_or_else(|error| {
        let reason = match error {
            PhotoError::ExifUnreadable { reason } => reason,
            other => other.to_string(),
        };
        ExifFacts::unreadable(reason)
    })
}

/// The size that fits `width × height` within `long_side` on its longer side, keeping the aspect
/// ratio (rounded to the nearest pixel, at least 1). Never enlarges.
fn fit_within(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= long_side || longer == 0 {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(long_side) + u64::from(longer) / 2) / u64::from(longer);
        u32::try_from(scaled).unwrap_or(long_side).clamp(1, long_side)
    };
    (scale(width), scale(height))
}

/// True for the SOFn markers (frame headers), which share their range with DHT, JPG and DAC.
fn is_frame_header(m: u8) -> bool {
    (0xC0..=0xCF).contains(&m) && m != marker::DHT && m != marker::JPG && m != marker::DAC
}

/// Parses a SOFn payload and refuses the frame types phone cameras never write.
fn parse_frame_header(m: u8, payload: &[u8], offset: usize) -> Result<JpegHeader, PhotoError> {
    let [precision, h1, h0, w1, w0, components, specs @ ..] = payload else {
        return Err(PhotoError::MalformedHeader {
            reason: format!("the frame header at byte {offset} is {} bytes, too short", payload.len()),
        });
    };
    if specs.len() < usize::from(*components) * 3 {
        return Err(PhotoError::MalformedHeader {
            reason: format!(
                "the frame header at byte {offset} declares {components} components but has room for {}",
                specs.len() / 3
            ),
        });
    }
    let coding = match m {
        0xC0 | 0xC1 => None,
        0xC2 => None,
        0xC3 => Some("is lossless-coded (SOF3)"),
        0xC5..=0xC7 => Some("is hierarchical (differential) coded"),
        _ => Some("is arithmetic-coded"),
    };
    if let Some(feature) = coding {
        return Err(PhotoError::Unsupported {
            feature: feature.into(),
            advice: "phone cameras write baseline or progressive JPEG; export the photo as a normal JPEG",
        });
    }
    if *precision != 8 {
        return Err(PhotoError::Unsupported {
            feature: format!("has {precision}-bit samples"),
            advice: "phone cameras write 8-bit JPEG; export the photo as a normal 8-bit JPEG",
        });
    }
    match components {
        1 | 3 => {}
        4 => {
            return Err(PhotoError::Unsupported {
                feature: "is CMYK (made for print)".into(),
                advice: "export the photo as an RGB JPEG",
            });
        }
        n => {
            return Err(PhotoError::Unsupported {
                feature: format!("has {n} colour components"),
                advice: "attach a colour or greyscale camera photo",
            });
        }
    }
    let height = u32::from(u16::from_be_bytes([*h1, *h0]));
    let width = u32::from(u16::from_be_bytes([*w1, *w0]));
    if height == 0 {
        return Err(PhotoError::Unsupported {
            feature: "gives its height only after the image data (DNL marker)".into(),
            advice: "re-save the photo with an ordinary JPEG encoder",
        });
    }
    if width == 0 {
        return Err(PhotoError::MalformedHeader {
            reason: format!("the frame header at byte {offset} says width 0"),
        });
    }
    Ok(JpegHeader { width, height, components: *components, progressive: m == 0xC2 })
}

/// The decompression-bomb check on the frame header's dimensions.
fn check_limits(header: &JpegHeader, limits: &PhotoLimits) -> Result<(), PhotoError> {
    let JpegHeader { width, height, .. } = *header;
    if width > limits.max_side_px || height > limits.max_side_px {
        return Err(PhotoError::SideTooLong { width, height, max_side: limits.max_side_px });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels { width, height, max_pixels: limits.max_pixels });
    }
    Ok(())
}

/// Counts start-of-scan markers in the whole file and refuses more than the limit.
///
/// Inside entropy-coded data every FF byte is followed by 00 (stuffing) or a restart marker, so
/// each FF DA pair is a real scan header.
fn check_scans(bytes: &[u8], limits: &PhotoLimits) -> Result<(), PhotoError> {
    let mut scans: u32 = 0;
    for pair in bytes.windows(2) {
        if pair == [0xFF, marker::SOS] {
            scans += 1;
            if scans > limits.max_scans {
                return Err(PhotoError::TooManyScans { scans, max_scans: limits.max_scans });
            }
        }
    }
    Ok(())
}

/// Names the format of bytes that are not a JPEG, for [`PhotoError::NotJpeg`].
fn sniff_format(bytes: &[u8]) -> &'static str {
    let ftyp_brand = bytes.get(4..12).filter(|b| b.starts_with(b"ftyp")).and_then(|b| b.get(4..8));
    match (bytes, ftyp_brand) {
        (_, Some(b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1")) => "a HEIC/HEIF image",
        (_, Some(b"avif" | b"avis")) => "an AVIF image",
        (_, Some(_)) => "a video or other ISO media file",
        ([0x89, b'P', b'N', b'G', ..], _) => "a PNG image",
        ([b'G', b'I', b'F', b'8', ..], _) => "a GIF image",
        ([b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..], _) => "a WebP image",
        ([b'I', b'I', 0x2A, 0x00, ..] | [b'M', b'M', 0x00, 0x2A, ..], _) => "a TIFF or camera RAW image",
        ([b'B', b'M', ..], _) => "a BMP image",
        ([b'%', b'P', b'D', b'F', ..], _) => "a PDF document",
        ([b'P', b'K', 0x03, 0x04, ..], _) => "a ZIP archive",
        _ if looks_like_text(bytes) => "text",
        _ => "unrecognised data",
    }
}

/// True when the first bytes are printable UTF-8 text (or whitespace).
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(512)).unwrap_or(bytes);
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the 512-byte window is still text.
        Err(e) if e.error_len().is_none() => {
            head.get(..e.valid_up_to()).and_then(|h| std::str::from_utf8(h).ok()).unwrap_or("")
        }
        Err(_) => return false,
    };
    !text.is_empty() && text.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// One marker segment of a JPEG header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment<'a> {
    /// The marker byte (the `xx` of `FF xx`).
    pub(super) marker: u8,
    /// The bytes after the length field (empty for EOI).
    pub(super) payload: &'a [u8],
    /// Byte offset of the marker in the file, for messages.
    pub(super) offset: usize,
}

/// Walks the marker segments of a JPEG file from SOI up to and including SOS (or EOI).
///
/// Every step moves forward and every length is checked against the bytes that are there, so the
/// walk ends on any input and allocates nothing.
#[derive(Debug, Clone)]
pub(super) struct Segments<'a> {
    bytes: &'a [u8],
    pos: usize,
    finished: bool,
}

impl<'a> Segments<'a> {
    /// Starts a walk, checking the SOI signature.
    pub(super) fn new(bytes: &'a [u8]) -> Result<Self, PhotoError> {
        match bytes {
            [] => Err(PhotoError::Empty),
            [0xFF, marker::SOI, ..] => Ok(Segments { bytes, pos: 2, finished: false }),
            [0xFF] => Err(PhotoError::Truncated { offset: bytes.len() }),
            _ => Err(PhotoError::NotJpeg { found: sniff_format(bytes) }),
        }
    }

    fn read_segment(&mut self) -> Result<Segment<'a>, PhotoError> {
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            let offset = self.pos;
            match rest {
                [] | [0xFF] => return Err(PhotoError::Truncated { offset: self.bytes.len() }),
                // Fill bytes before a marker.
                [0xFF, 0xFF, ..] => self.pos += 1,
                [0xFF, marker::SOI, ..] => {
                    return Err(PhotoError::MalformedHeader {
                        reason: format!("a second start-of-image marker at byte {offset}"),
                    });
                }
                [0xFF, marker::EOI, ..] => {
                    self.pos += 2;
                    return Ok(Segment { marker: marker::EOI, payload: &[], offset });
                }
                // Stand-alone markers carry no length.
                [0xFF, m, ..] if *m == marker::TEM || (0xD0..=0xD7).contains(m) => self.pos += 2,
                [0xFF, 0x00, ..] => {
                    return Err(PhotoError::MalformedHeader {
                        reason: format!("stray image data (FF 00) in the header at byte {offset}"),
                    });
                }
                [0xFF, m, after @ ..] => {
                    let [high, low, body @ ..] = after else {
                        return Err(PhotoError::Truncated { offset: self.bytes.len() });
                    };
                    let length = usize::from(u16::from_be_bytes([*high, *low]));
                    let payload_len = length.checked_sub(2).ok_or_else(|| PhotoError::MalformedHeader {
                        reason: format!("marker FF{m:02X} at byte {offset} has length {length}, less than 2"),
                    })?;
                    let payload =
                        body.get(..payload_len).ok_or(PhotoError::Truncated { offset: self.bytes.len() })?;
                    self.pos = offset + 2 + length;
                    return Ok(Segment { marker: *m, payload, offset });
                }
                // Garbage between segments: libjpeg skips it to the next FF, and so do cameras'
                // readers; do the same (it cannot loop: the position only grows).
                [_, tail @ ..] => {
                    let skip = tail.iter().position(|&b| b == 0xFF).map_or(rest.len(), |p| p + 1);
                    self.pos += skip;
                }
            }
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, PhotoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let result = self.read_segment();
        if !matches!(result, Ok(Segment { marker: m, .. }) if m != marker::SOS && m != marker::EOI) {
            self.finished = true;
        }
        Some(result)
    }
}

/// Returns the TIFF payload of the first APP1 "Exif" segment before the image data, if any.
pub(super) fn find_exif_payload(bytes: &[u8]) -> Result<Option<&[u8]>, PhotoError> {
    for segment in Segments::new(bytes)? {
        let segment = segment?;
        if segment.marker == marker::APP1
            && let Some(tiff) = segment.payload.strip_prefix(b"Exif\0").and_then(|p| p.get(1..))
        {
            return Ok(Some(tiff));
        }
    }
    Ok(None)
}

/// Colour layout of a [`Raster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channels {
    /// One byte per pixel.
    Gray,
    /// Three bytes per pixel, R G B.
    Rgb,
}

impl Channels {
    fn bytes_per_pixel(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::Rgb => 3,
        }
    }

    fn resize_type(self) -> fir::PixelType {
        match self {
            Channels::Gray => fir::PixelType::U8,
            Channels::Rgb => fir::PixelType::U8x3,
        }
    }

    fn encoder_type(self) -> jpeg_encoder::ColorType {
        match self {
            Channels::Gray => jpeg_encoder::ColorType::Luma,
            Channels::Rgb => jpeg_encoder::ColorType::Rgb,
        }
    }
}

/// Decoded pixels, row-major, tightly packed.
#[derive(Debug, Clone)]
struct Raster {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    channels: Channels,
}

/// Decodes the photo once, at the smallest DCT scale (1/8, 1/4, 1/2 or 1) whose output still
/// covers `want_width × want_height`.
fn decode_scaled(
    bytes: &[u8],
    header: &JpegHeader,
    want_width: u32,
    want_height: u32,
    limits: &PhotoLimits,
) -> Result<Raster, PhotoError> {
    let damaged = |e: jpeg_decoder::Error| PhotoError::ImageDataDamaged {
        reason: match e {
            jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                "the file ends before the image data does: it was cut short".into()
            }
            other => other.to_string(),
        },
    };
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // Belt and braces: read_header already bounded the frame, this bounds the output buffer.
    let max_output = limits.max_pixels.saturating_mul(u64::from(header.components));
    decoder.set_max_decoding_buffer_size(usize::try_from(max_output).unwrap_or(usize::MAX));
    decoder.read_info().map_err(damaged)?;
    let info = decoder
        .info()
        .ok_or_else(|| PhotoError::ImageDataDamaged { reason: "the decoder found no frame header".into() })?;
    if (u32::from(info.width), u32::from(info.height)) != (header.width, header.height) {
        return Err(PhotoError::MalformedHeader {
            reason: format!(
                "two frame sizes: {}×{} and {}×{}",
                header.width, header.height, info.width, info.height
            ),
        });
    }
    let channels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => Channels::Gray,
        jpeg_decoder::PixelFormat::RGB24 => Channels::Rgb,
        other => {
            return Err(PhotoError::Unsupported {
                feature: format!("decodes to {other:?} pixels"),
                advice: "export the photo as an 8-bit RGB JPEG",
            });
        }
    };
    let request = |side: u32| u16::try_from(side).unwrap_or(u16::MAX);
    let (width, height) = decoder.scale(request(want_width), request(want_height)).map_err(damaged)?;
    let pixels = decoder.decode().map_err(damaged)?;
    let (width, height) = (u32::from(width), u32::from(height));
    let expected = usize::try_from(u64::from(width) * u64::from(height))
        .unwrap_or(usize::MAX)
        .saturating_mul(channels.bytes_per_pixel());
    if pixels.len() != expected || width == 0 || height == 0 {
        return Err(PhotoError::ImageDataDamaged {
            reason: format!("the decoder returned {} bytes for {width}×{height} px", pixels.len()),
        });
    }
    Ok(Raster { pixels, width, height, channels })
}

/// Resizes to exactly `width × height`; returns the raster unchanged when it already has that size.
fn resize(raster: Raster, width: u32, height: u32) -> Result<Raster, PhotoError> {
    if (raster.width, raster.height) == (width, height) {
        return Ok(raster);
    }
    resize_ref(&raster, width, height)
}

/// Resizes into a new raster with a Hamming-windowed convolution: bilinear's cost, close to
/// bicubic's sharpness when shrinking; the kernel widens with the ratio, so large reductions
/// (copy → thumbnail) are antialiased.
fn resize_ref(raster: &Raster, width: u32, height: u32) -> Result<Raster, PhotoError> {
    let failed = |reason: String| PhotoError::Internal { stage: "resized image", reason };
    let pixel_type = raster.channels.resize_type();
    let source = fir::images::ImageRef::new(raster.width, raster.height, &raster.pixels, pixel_type)
        .map_err(|e| failed(e.to_string()))?;
    let mut target = fir::images::Image::new(width, height, pixel_type);
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Hamming));
    fir::Resizer::new().resize(&source, &mut target, &options).map_err(|e| failed(e.to_string()))?;
    Ok(Raster { pixels: target.into_vec(), width, height, channels: raster.channels })
}

/// Applies an EXIF orientation (1–8) to the pixels so the result is upright; other values leave
/// the raster as it is.
///
/// EXIF orientation says where the stored rows and columns belong on screen (TIFF 6.0, tag 274):
/// 2 mirror left-right, 3 rotate 180°, 4 mirror top-bottom, 5 transpose, 6 rotate 90° clockwise,
/// 7 transverse, 8 rotate 90° counter-clockwise.
fn orient(raster: Raster, orientation: u16) -> Raster {
    if !(2..=8).contains(&orientation) || raster.width == 0 || raster.height == 0 {
        return raster;
    }
    let (w, h) = (raster.width as usize, raster.height as usize);
    let bpp = raster.channels.bytes_per_pixel();
    let swaps_sides = orientation >= 5;
    let (out_w, out_h) = if swaps_sides { (h, w) } else { (w, h) };
    let mut out = vec![0u8; raster.pixels.len()];
    for (y, row) in out.chunks_exact_mut(out_w * bpp).enumerate().take(out_h) {
        for (x, pixel) in row.chunks_exact_mut(bpp).enumerate() {
            // x < out_w and y < out_h, so none of these subtractions can underflow.
            let (src_x, src_y) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let start = (src_y * w + src_x) * bpp;
            if let Some(source) = raster.pixels.get(start..start + bpp) {
                pixel.copy_from_slice(source);
            }
        }
    }
    let (width, height) =
        if swaps_sides { (raster.height, raster.width) } else { (raster.width, raster.height) };
    Raster { pixels: out, width, height, channels: raster.channels }
}

/// Encodes a raster as a baseline JPEG (4:2:0 below quality 90) with no metadata segments.
fn encode(raster: &Raster, quality: u8, stage: &'static str) -> Result<Vec<u8>, PhotoError> {
    let failed = |reason: String| PhotoError::Internal { stage, reason };
    let width = u16::try_from(raster.width).map_err(|e| failed(e.to_string()))?;
    let height = u16::try_from(raster.height).map_err(|e| failed(e.to_string()))?;
    let mut out = Vec::with_capacity(raster.pixels.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&raster.pixels, width, height, raster.channels.encoder_type())
        .map_err(|e| failed(e.to_string()))?;
    Ok(out)
}

/// Decodes `bytes` and re-encodes it at exactly `width × height` (enlarging or shrinking, aspect
/// ratio not kept), ignoring orientation and dropping metadata.
///
/// Not part of ingest: benchmarks and tests use it to make inputs of a given size from a fixture.
pub fn rescale_jpeg(
    bytes: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    limits: &PhotoLimits,
) -> Result<Vec<u8>, PhotoError> {
    let header = read_header(bytes, limits)?;
    let target = JpegHeader { width, height, ..header };
    check_limits(&target, limits)?;
    let decoded = decode_scaled(bytes, &header, header.width, header.height, limits)?;
    let resized = resize(decoded, width.max(1), height.max(1))?;
    encode(&resized, quality, "rescaled image")
}

/// The shared fixtures directory: `$FIELDSYNC_FIXTURES`, else `../../shared/fixtures` from the
/// crate. Fails the test (never skips it) when the fixtures are not there.
#[cfg(test)]
pub(super) fn fixtures_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("FIELDSYNC_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
        std::path::PathBuf::from,
    );
    assert!(
        dir.join("exif").is_dir(),
        "the shared test fixtures are missing: no directory {}/exif; check out shared/fixtures next to \
         the repository or set FIELDSYNC_FIXTURES to the fixtures directory",
        dir.display()
    );
    dir
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::super::exif::tiff_writer::{TagValue, tag, tiff};
    use super::*;

    fn read_fixture(name: &str) -> Vec<u8> {
        let path = fixtures_dir().join("exif").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
    }

    /// A JPEG of `width × height` RGB pixels from `pixel(x, y)`, with an EXIF Orientation tag when
    /// `orientation` is given.
    fn synthetic_jpeg(
        width: u16,
        height: u16,
        orientation: Option<u16>,
        pixel: impl Fn(usize, usize) -> [u8; 3],
    ) -> Vec<u8> {
        let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
        for y in 0..usize::from(height) {
            for x in 0..usize::from(width) {
                pixels.extend_from_slice(&pixel(x, y));
            }
        }
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
        if let Some(value) = orientation {
            encoder
                .add_exif_metadata(&tiff(&[(tag::ORIENTATION, TagValue::Short(value))], &[], &[]))
                .unwrap();
        }
        encoder.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }

    /// Decodes a JPEG made by the pipeline, for checking its pixels.
    fn decode(bytes: &[u8]) -> (Vec<u8>, u32, u32, jpeg_decoder::PixelFormat) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        let pixels = decoder.decode().expect("our own output decodes");
        let info = decoder.info().unwrap();
        (pixels, u32::from(info.width), u32::from(info.height), info.pixel_format)
    }

    /// A header-only JPEG: SOI, a frame header of the given kind and size, SOS with no data.
    fn header_only_jpeg(sof: u8, precision: u8, width: u16, height: u16, components: u8) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, sof];
        out.extend_from_slice(&(8 + 3 * u16::from(components)).to_be_bytes());
        out.push(precision);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.push(components);
        for id in 1..=components {
            out.extend_from_slice(&[id, 0x11, 0]);
        }
        out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
        out
    }

    #[test]
    fn phone_photo_becomes_a_1600_px_copy_and_a_320_px_thumbnail() {
        let original = read_fixture("mobile_HMD_Nokia_8.3_5G.jpg");
        let evidence = ingest_photo(&original, &PhotoLimits::default()).unwrap();
        assert_eq!(evidence.pixels, [4608, 1976]);
        assert_eq!((evidence.upload_copy.width, evidence.upload_copy.height), (1600, 686));
        assert_eq!((evidence.thumbnail.width, evidence.thumbnail.height), (320, 137));
        assert_eq!(evidence.original_bytes, original.len() as u64);
        assert_eq!(evidence.orientation_applied, 1);
        assert!(evidence.exif.gps.is_some());
        assert!(evidence.flags.is_empty(), "{:?}", evidence.flags);

        let (_, width, height, format) = decode(&evidence.upload_copy.bytes);
        assert_eq!((width, height, format), (1600, 686, jpeg_decoder::PixelFormat::RGB24));
        let (_, width, height, _) = decode(&evidence.thumbnail.bytes);
        assert_eq!((width, height), (320, 137));
        // Quality 80 at 1.1 MP: tens of kilobytes to a few hundred, not megabytes.
        assert!(
            (30_000..400_000).contains(&evidence.upload_copy.bytes.len()),
            "{}",
            evidence.upload_copy.bytes.len()
        );
    }

    #[test]
    fn hashes_are_sha256_of_the_original_and_of_each_copy() {
        let original = read_fixture("gps_DSCN0010.jpg");
        let evidence = ingest_photo(&original, &PhotoLimits::default()).unwrap();
        assert_eq!(evidence.original_sha256, hex::encode(Sha256::digest(&original)));
        assert_eq!(evidence.upload_copy.sha256, hex::encode(Sha256::digest(&evidence.upload_copy.bytes)));
        assert_eq!(evidence.thumbnail.sha256, hex::encode(Sha256::digest(&evidence.thumbnail.bytes)));
        assert_eq!(evidence.original_sha256.len(), 64);
        assert_ne!(evidence.upload_copy.sha256, evidence.thumbnail.sha256);
        let again = ingest_photo(&original, &PhotoLimits::default()).unwrap();
        assert_eq!(
            again, evidence,
            "ingest is deterministic, so the same photo gets the same blob addresses"
        );
    }

    #[test]
    fn copies_carry_no_exif_or_other_metadata() {
        let evidence = ingest_photo(&read_fixture("tests_87_OSError.jpg"), &PhotoLimits::default()).unwrap();
        assert!(evidence.exif.gps.is_some(), "the original has GPS");
        for copy in [&evidence.upload_copy, &evidence.thumbnail] {
            let markers: Vec<u8> = Segments::new(&copy.bytes).unwrap().map(|s| s.unwrap().marker).collect();
            let app: Vec<u8> = markers.iter().copied().filter(|m| (0xE0..=0xEF).contains(m)).collect();
            assert_eq!(app, vec![0xE0], "only the JFIF APP0 header, found {markers:02X?}");
            assert!(!markers.contains(&0xFE), "no comment segment");
            assert!(!read_exif(&copy.bytes).unwrap().found);
        }
    }

    /// The pixel at stored position (x, y) of an `width × height` stored image appears at this
    /// display position, per the row/column wording of TIFF 6.0 tag 274 ("the 0th row represents
    /// the visual right-hand side of the image, and the 0th column the visual top", …). Written
    /// from the specification, independently of `orient`.
    fn display_position(orientation: u16, x: usize, y: usize, width: usize, height: usize) -> (usize, usize) {
        match orientation {
            1 => (x, y),
            2 => (width - 1 - x, y),
            3 => (width - 1 - x, height - 1 - y),
            4 => (x, height - 1 - y),
            5 => (y, x),
            6 => (height - 1 - y, x),
            7 => (height - 1 - y, width - 1 - x),
            8 => (y, width - 1 - x),
            _ => unreachable!(),
        }
    }

    #[test]
    fn all_eight_exif_orientations_come_out_upright() {
        // The scene as it should look: 64×32, red | green over blue | white.
        let (scene_w, scene_h) = (64usize, 32usize);
        let scene = |x: usize, y: usize| match (x < scene_w / 2, y < scene_h / 2) {
            (true, true) => [255, 0, 0],
            (false, true) => [0, 255, 0],
            (true, false) => [0, 0, 255],
            (false, false) => [255, 255, 255],
        };
        for orientation in 1..=8u16 {
            let (stored_w, stored_h) = if orientation >= 5 { (scene_h, scene_w) } else { (scene_w, scene_h) };
            let photo = synthetic_jpeg(stored_w as u16, stored_h as u16, Some(orientation), |x, y| {
                let (dx, dy) = display_position(orientation, x, y, stored_w, stored_h);
                scene(dx, dy)
            });
            let evidence = ingest_photo(&photo, &PhotoLimits::default()).unwrap();
            assert_eq!(evidence.orientation_applied, orientation);
            assert_eq!(evidence.pixels, [stored_w as u32, stored_h as u32]);
            for (name, image) in [("copy", &evidence.upload_copy), ("thumbnail", &evidence.thumbnail)] {
                let (pixels, width, height, _) = decode(&image.bytes);
                assert_eq!((width, height), (64, 32), "orientation {orientation} {name}");
                for (qx, qy) in [(16, 8), (48, 8), (16, 24), (48, 24)] {
                    let at = (qy * 64 + qx) * 3;
                    let got = &pixels[at..at + 3];
                    let want = scene(qx, qy);
                    assert!(
                        got.iter().zip(want).all(|(g, w)| g.abs_diff(w) < 40),
                        "orientation {orientation} {name}: at ({qx}, {qy}) got {got:?}, want {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn orient_maps_each_stored_pixel_where_the_tag_says() {
        // Stored 3×2:  a b c / d e f
        let raster = Raster { pixels: b"abcdef".to_vec(), width: 3, height: 2, channels: Channels::Gray };
        for (orientation, want, size) in [
            (1, "abcdef", (3, 2)),
            (2, "cbafed", (3, 2)),
            (3, "fedcba", (3, 2)),
            (4, "defabc", (3, 2)),
            (5, "adbecf", (2, 3)),
            (6, "daebfc", (2, 3)),
            (7, "fcebda", (2, 3)),
            (8, "cfbead", (2, 3)),
            (0, "abcdef", (3, 2)),
            (9, "abcdef", (3, 2)),
        ] {
            let out = orient(raster.clone(), orientation);
            assert_eq!(String::from_utf8(out.pixels).unwrap(), want, "orientation {orientation}");
            assert_eq!((out.width, out.height), size, "orientation {orientation}");
        }
    }

    #[test]
    fn rotated_fixtures_come_out_in_their_upright_shape() {
        for (name, copy, thumb) in [
            ("orientation_landscape_6.jpg", (600, 450), (320, 240)),
            ("orientation_portrait_8.jpg", (450, 600), (240, 320)),
        ] {
            let evidence = ingest_photo(&read_fixture(name), &PhotoLimits::default()).unwrap();
            assert_eq!((evidence.upload_copy.width, evidence.upload_copy.height), copy, "{name}");
            assert_eq!((evidence.thumbnail.width, evidence.thumbnail.height), thumb, "{name}");
        }
    }

    #[test]
    fn greyscale_photos_stay_greyscale() {
        let pixels: Vec<u8> = (0..200 * 100).map(|i| (i % 251) as u8).collect();
        let mut photo = Vec::new();
        jpeg_encoder::Encoder::new(&mut photo, 90)
            .encode(&pixels, 200, 100, jpeg_encoder::ColorType::Luma)
            .unwrap();
        let evidence = ingest_photo(&photo, &PhotoLimits::default()).unwrap();
        let (_, width, height, format) = decode(&evidence.upload_copy.bytes);
        assert_eq!((width, height, format), (200, 100, jpeg_decoder::PixelFormat::L8));
        assert_eq!((evidence.thumbnail.width, evidence.thumbnail.height), (200, 100), "never enlarged");
        assert_eq!(evidence.flags, vec![PhotoFlag::NoExif, PhotoFlag::NoGps, PhotoFlag::NoTimestamp]);
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header_before_decoding() {
        let limits = PhotoLimits::default();
        let started = Instant::now();

        let error = ingest_photo(&header_only_jpeg(0xC0, 8, 24_000, 18_000, 3), &limits).unwrap_err();
        assert_eq!(error, PhotoError::SideTooLong { width: 24_000, height: 18_000, max_side: 20_000 });
        assert!(
            error.to_string().starts_with("photo is 24000×18000 px; the limit is 20000 px per side"),
            "{error}"
        );

        let error = ingest_photo(&header_only_jpeg(0xC2, 8, 15_000, 15_000, 3), &limits).unwrap_err();
        assert_eq!(
            error,
            PhotoError::TooManyPixels { width: 15_000, height: 15_000, max_pixels: 100_000_000 }
        );
        assert!(
            error.to_string().starts_with("photo is 15000×15000 px; the limit is 100 megapixels"),
            "{error}"
        );

        let small = PhotoLimits { max_file_bytes: 1_000, ..limits };
        let error = ingest_photo(&read_fixture("gps_DSCN0010.jpg"), &small).unwrap_err();
        assert!(matches!(error, PhotoError::FileTooLarge { bytes: 161_713, limit: 1_000 }), "{error}");
        assert!(error.to_string().contains("the photo file is 0.2 MB; the limit is 0.0 MB"), "{error}");

        let mut scan_bomb = header_only_jpeg(0xC2, 8, 64, 64, 1);
        for _ in 0..limits.max_scans {
            scan_bomb.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00]);
        }
        let error = read_header(&scan_bomb, &limits).unwrap_err();
        assert_eq!(error, PhotoError::TooManyScans { scans: 101, max_scans: 100 });
        assert!(error.to_string().contains("the limit is 100"), "{error}");

        // Exactly at the limits is accepted by the header check (and then fails on the missing data).
        let at_limit = header_only_jpeg(0xC0, 8, 10_000, 10_000, 3);
        assert!(read_header(&at_limit, &limits).is_ok());
        assert!(started.elapsed() < Duration::from_secs(2), "no pixel was decoded: {:?}", started.elapsed());
    }

    #[test]
    fn files_that_are_not_jpeg_are_named_in_the_error() {
        let limits = PhotoLimits::default();
        for (bytes, found) in [
            (&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], "a PNG image"),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "a HEIC/HEIF image"),
            (b"GIF89a\x01\0\x01\0", "a GIF image"),
            (b"RIFF\0\0\0\0WEBPVP8 ", "a WebP image"),
            (b"%PDF-1.7\n", "a PDF document"),
            ("客户拜访记录 visit notes\n".as_bytes(), "text"),
            (b"\x00\x01\x02\x03\xfe\xfd", "unrecognised data"),
        ] {
            let error = ingest_photo(bytes, &limits).unwrap_err();
            assert_eq!(error, PhotoError::NotJpeg { found }, "{bytes:?}");
            assert!(
                error.to_string().starts_with(&format!("the file is {found}, not a JPEG photo")),
                "{error}"
            );
        }
        assert_eq!(ingest_photo(b"", &limits).unwrap_err(), PhotoError::Empty);
    }

    #[test]
    fn truncated_jpegs_say_they_were_cut_short() {
        let limits = PhotoLimits::default();
        let photo = read_fixture("gps_DSCN0010.jpg");
        for cut in [1, 2, 3, 4, 100, 5_000] {
            let error = ingest_photo(&photo[..cut], &limits).unwrap_err();
            assert_eq!(error, PhotoError::Truncated { offset: cut }, "cut at {cut}");
            assert!(error.to_string().contains("cut short"), "{error}");
        }
        let header_end = Segments::new(&photo).unwrap().map(|s| s.unwrap()).last().unwrap();
        let cut = header_end.offset + 5_000;
        let error = ingest_photo(&photo[..cut], &limits).unwrap_err();
        assert!(
            matches!(&error, PhotoError::ImageDataDamaged { reason } if reason.contains("cut short")),
            "{error}"
        );
        assert!(inspect_photo(&photo[..cut], &limits).is_ok(), "the header and EXIF are still readable");
    }

    #[test]
    fn frame_types_phones_never_write_are_refused_by_name() {
        let limits = PhotoLimits::default();
        for (bytes, feature) in [
            (header_only_jpeg(0xC9, 8, 640, 480, 3), "arithmetic"),
            (header_only_jpeg(0xC3, 8, 640, 480, 3), "lossless"),
            (header_only_jpeg(0xC1, 12, 640, 480, 3), "12-bit"),
            (header_only_jpeg(0xC0, 8, 640, 480, 4), "CMYK"),
            (header_only_jpeg(0xC0, 8, 640, 0, 3), "DNL"),
        ] {
            let error = read_header(&bytes, &limits).unwrap_err();
            assert!(
                matches!(&error, PhotoError::Unsupported { feature: f, .. } if f.contains(feature)),
                "{error}"
            );
        }
        let error = read_header(&header_only_jpeg(0xC0, 8, 0, 480, 3), &limits).unwrap_err();
        assert!(matches!(error, PhotoError::MalformedHeader { .. }), "{error}");
        let mut two_frames = header_only_jpeg(0xC0, 8, 640, 480, 1);
        two_frames.splice(2..2, header_only_jpeg(0xC0, 8, 64, 48, 1)[2..15].iter().copied());
        let error = read_header(&two_frames, &limits).unwrap_err();
        assert!(error.to_string().contains("a second frame header"), "{error}");
    }

    #[test]
    fn copies_never_exceed_their_long_side_nor_grow() {
        assert_eq!(fit_within(4608, 1976, 1600), (1600, 686));
        assert_eq!(fit_within(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit_within(3000, 4000, 1600), (1200, 1600));
        assert_eq!(fit_within(640, 480, 1600), (640, 480), "small photos are not enlarged");
        assert_eq!(fit_within(20_000, 3, 1600), (1600, 1), "no side rounds to zero");
        assert_eq!(fit_within(1, 1, 320), (1, 1));
    }

    #[test]
    fn every_exif_fixture_gives_a_result_or_a_clear_error_in_bounded_time() {
        // Files that must fail ingest, and why; every other file must ingest.
        let must_fail: &[(&str, &str)] = &[("corrupted.jpg", "the photo's image data is damaged")];
        let mut seen = 0;
        for entry in std::fs::read_dir(fixtures_dir().join("exif")).expect("fixtures/exif") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_none_or(|e| e != "jpg") {
                continue;
            }
            seen += 1;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let (sender, receiver) = mpsc::channel();
            std::thread::spawn(move || {
                let limits = PhotoLimits::default();
                let _ = sender.send((inspect_photo(&bytes, &limits), ingest_photo(&bytes, &limits)));
            });
            let (inspection, ingest) = receiver
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("{name}: no result within 30 s ({e}): a hang or a panic"));
            let inspection =
                inspection.unwrap_or_else(|e| panic!("{name}: the header is fine, inspect failed: {e}"));
            match (must_fail.iter().find(|(n, _)| *n == name), ingest) {
                (None, Ok(evidence)) => {
                    assert_eq!(
                        evidence.pixels,
                        [inspection.header.width, inspection.header.height],
                        "{name}"
                    );
                    assert!(
                        evidence.upload_copy.width.max(evidence.upload_copy.height) <= UPLOAD_LONG_SIDE_PX
                    );
                    assert!(
                        evidence.thumbnail.width.max(evidence.thumbnail.height) <= THUMBNAIL_LONG_SIDE_PX
                    );
                }
                (None, Err(e)) => panic!("{name}: expected a usable result, got: {e}"),
                (Some((_, why)), Err(e)) => {
                    assert!(e.to_string().contains(why), "{name}: {e}");
                    assert!(!e.to_string().contains("bug"), "{name}: {e}");
                }
                (Some(_), Ok(_)) => panic!("{name}: expected an error"),
            }
        }
        assert!(seen >= 23, "only {seen} fixtures found");
    }

    #[test]
    fn fixture_flags_say_what_is_missing_or_damaged() {
        let limits = PhotoLimits::default();
        let flags = |name: &str| inspect_photo(&read_fixture(name), &limits).unwrap().exif.flags();
        assert_eq!(flags("mobile_jolla.jpg"), vec![PhotoFlag::NoGps, PhotoFlag::NoTimeZone]);
        assert_eq!(flags("xmp_no_exif.jpg"), vec![PhotoFlag::NoGps, PhotoFlag::NoTimestamp]);
        let damaged = flags("tests_30-type_error.jpg");
        assert!(matches!(damaged.first(), Some(PhotoFlag::ExifPartlyUnreadable { .. })), "{damaged:?}");
        assert!(damaged.ends_with(&[PhotoFlag::NoGps, PhotoFlag::NoTimestamp]), "{damaged:?}");
    }

    /// Deterministic stand-in for a fuzz target over the whole pipeline: damaged and truncated
    /// copies of a small photo give `Ok` or `Err`, never a panic or a hang.
    #[test]
    fn mutated_photos_never_panic_or_hang() {
        let photo = read_fixture("gps_DSCN0010.jpg");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let limits = PhotoLimits::default();
            let mut state: u64 = 0x2545_F491_4F6C_DD1D;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let (mut ok, mut err) = (0, 0);
            for round in 0..160 {
                let mut mutated = photo.clone();
                if round % 4 == 0 {
                    mutated.truncate((next() % photo.len() as u64) as usize);
                } else {
                    for _ in 0..1 + next() % 6 {
                        // Half the hits in the header, half anywhere.
                        let span = if next() % 2 == 0 { 2_000 } else { mutated.len() };
                        let at = (next() % span as u64) as usize;
                        mutated[at] = next() as u8;
                    }
                }
                match ingest_photo(&mutated, &limits) {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert!(!e.to_string().is_empty());
                        err += 1;
                    }
                }
            }
            let _ = sender.send((ok, err));
        });
        let (ok, err) = receiver.recv_timeout(Duration::from_secs(120)).expect("no panic and no hang");
        assert_eq!(ok + err, 160);
    }
}
