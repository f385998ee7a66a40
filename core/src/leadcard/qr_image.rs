//! Finding and decoding QR codes in photos of lead cards.
//!
//! This module owns the step before payload parsing: a rep picks a photo of a trade-show card from
//! the gallery, and [`decode_qr`] turns the PNG or JPEG bytes into the texts of the QR codes in it.
//! It does not parse those texts (the payload parsers of `leadcard` do) and does no I/O.
//!
//! Photos are untrusted input, so the image is checked before its pixels are decoded: at most
//! [`MAX_IMAGE_BYTES`] of file and [`MAX_IMAGE_PIXELS`] pixels, refused with a [`QrImageError`] that
//! says what was wrong. Nothing here panics on any input; a panic inside the third-party detector
//! is caught and treated as "nothing found in this pass".
//!
//! Detection uses `rxing` (a Rust port of ZXing and zxing-cpp) in a chain of passes that stops at
//! the first pass that finds a code. Cheap passes come first; the later ones only run on photos the
//! earlier ones could not read, so a clear photo costs one pass and a hopeless one costs all of
//! them, bounded by [`DECODE_TIME_BUDGET`]:
//!
//! 1. the photo scaled down to [`WORKING_LONG_SIDE`] px with ZXing's local (hybrid) binarizer,
//!    then the same with the luminance inverted (a light code on a dark card);
//! 2. a global histogram threshold (evenly lit, low-contrast prints);
//! 3. a Sauvola local threshold (shadows and glare across the card);
//! 4. a slight Gaussian blur, then a global threshold (screen moiré, halftone print, noise);
//! 5. the photo scaled to three quarters (codes whose modules are too large or too soft);
//! 6. when step 1 scaled the photo down, the photo at up to [`FULL_RES_MAX_LONG_SIDE`] px (a small
//!    code far from the camera).
//!
//! Rotations are not tried: the finder-pattern detector is rotation invariant, and on the ZXing
//! test photos rotated passes decoded nothing the upright ones missed.
//!
//! QR byte mode does not say which character set it carries unless the code has an ECI header.
//! With an ECI, its character set is used. Without one, the bytes are read as UTF-8 when they are
//! valid UTF-8, else as GB18030 (a superset of GBK and GB2312, what Chinese card generators write),
//! except when they are valid Shift_JIS and clearly Japanese (see `legacy_bytes_to_text`), and as
//! ISO-8859-1 when they are valid in neither.

use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::imageops;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use rxing::common::{BitMatrix, GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::MultipleBarcodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::qrcode::cpp_port::detector::FindFinderPatterns;
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHintValue, DecodeHints, Luma8LuminanceSource, RXingResult,
    RXingResultMetadataType, RXingResultMetadataValue,
};

/// Largest image file accepted, in bytes (40 MiB). A 50-megapixel phone JPEG is about 25 MB.
pub const MAX_IMAGE_BYTES: usize = 40 * 1024 * 1024;

/// Most pixels accepted (100 megapixels), checked from the file header before any pixel is
/// decoded, so a small file that claims a huge image (a decompression bomb) costs nothing.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// Smallest side accepted, in pixels: the smallest QR code (version 1) is 21 modules wide.
pub const MIN_IMAGE_SIDE: u32 = 21;

/// Long side, in pixels, that photos are scaled down to for the first passes. A code a fifth as
/// wide as a 12-megapixel photo is still 320 px wide at this size (8 px per module for a vCard
/// code of 40 modules), and the passes run on a sixth of the pixels.
pub const WORKING_LONG_SIDE: u32 = 1600;

/// Long side, in pixels, of the last-resort pass over the photo near full resolution.
pub const FULL_RES_MAX_LONG_SIDE: u32 = 4096;

/// Wall-clock time after which no further pass is started. One pass over a
/// [`FULL_RES_MAX_LONG_SIDE`] image is itself bounded, so a call returns within about this long
/// plus one pass, whatever the photo shows.
pub const DECODE_TIME_BUDGET: Duration = Duration::from_secs(3);

/// Most finder-pattern candidates ("corner squares") a pass hands to the detector. The detector
/// samples and decodes every plausible triple of candidates, so an image tiled with square
/// patterns would take minutes (81 candidates in a grid: 0.8 s per pass; 196: 11 s). Real photos
/// have 3–6; a sheet of thirteen QR codes has 39.
const MAX_FINDER_PATTERNS: usize = 40;

/// Most finder patterns the linear pre-scan may estimate before the detector's own candidate
/// search (quadratic in the number of candidates) is skipped.
const MAX_ESTIMATED_FINDER_PATTERNS: f64 = 4.0 * MAX_FINDER_PATTERNS as f64;

/// Why a photo could not be searched for QR codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrImageError {
    /// The input had no bytes at all.
    #[error("the image is empty (0 bytes); pick the photo again")]
    Empty,
    /// The file is larger than [`MAX_IMAGE_BYTES`].
    #[error(
        "the image file is {size} bytes; the limit is {limit} bytes ({} MiB); \
         use a smaller photo or a screenshot of the card",
        limit / (1024 * 1024)
    )]
    FileTooLarge {
        /// Size of the file, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The bytes are not a PNG or JPEG image.
    #[error("cannot read {found}: only PNG and JPEG images are supported; share or export the photo as JPEG")]
    UnsupportedFormat {
        /// What the bytes look like ("a WebP image", "a HEIC/HEIF photo", "this file (it is not
        /// an image)", …).
        found: String,
    },
    /// The header declares more pixels than [`MAX_IMAGE_PIXELS`].
    #[error(
        "the image is {width}×{height} px ({} megapixels); the limit is {} megapixels",
        (u64::from(*width) * u64::from(*height)).div_ceil(1_000_000),
        MAX_IMAGE_PIXELS / 1_000_000
    )]
    TooManyPixels {
        /// Declared width, in pixels.
        width: u32,
        /// Declared height, in pixels.
        height: u32,
    },
    /// The image is too small to hold even the smallest QR code.
    #[error(
        "the image is {width}×{height} px; a QR code needs at least {min}×{min} px",
        min = MIN_IMAGE_SIDE
    )]
    TooSmall {
        /// Width, in pixels.
        width: u32,
        /// Height, in pixels.
        height: u32,
    },
    /// The file is PNG or JPEG but broken (truncated, corrupt) or not decodable within limits.
    #[error(
        "the {format} image could not be decoded ({detail}); the file may be truncated or damaged, so pick or export the photo again"
    )]
    Malformed {
        /// "PNG" or "JPEG".
        format: &'static str,
        /// What the image decoder reported.
        detail: String,
    },
    /// Every pass that could run found no code, and the search stopped at
    /// [`DECODE_TIME_BUDGET`] before trying the rest.
    #[error(
        "no QR code found within {} ms ({passes_run} of {passes_total} search passes run); \
         retake the photo closer to the code",
        budget.as_millis()
    )]
    TimeBudgetExhausted {
        /// The time budget that ran out.
        budget: Duration,
        /// Passes completed before it ran out.
        passes_run: usize,
        /// Passes that would have run.
        passes_total: usize,
    },
    /// The image is full of square patterns like a QR code's corners (a tiled floor, fabric, a
    /// sheet of many codes), too many to search, and no pass found a code.
    #[error(
        "the image has {count} QR-corner-like patterns, too many to search (the limit is {limit}); \
         crop the photo to one QR code"
    )]
    TooManyFinderPatterns {
        /// Candidates found in the pass that had the most.
        count: usize,
        /// [`MAX_FINDER_PATTERNS`].
        limit: usize,
    },
}

/// Decodes the QR codes in a PNG or JPEG photo and returns their texts.
///
/// Returns the distinct texts found by the first search pass that found any code, in detection
/// order (usually one). An image that was searched completely but shows no readable code gives
/// `Ok` with an empty list. A photo that is not a usable image, too large, or that could not be
/// searched within [`DECODE_TIME_BUDGET`] gives a [`QrImageError`].
///
/// # Errors
///
/// See [`QrImageError`]: empty, oversized or non-PNG/JPEG input, a broken file, an image too small
/// for a QR code, too many QR-corner-like patterns, or the time budget running out.
pub fn decode_qr(image_bytes: &[u8]) -> Result<Vec<String>, QrImageError> {
    let started = Instant::now();
    let gray = load_grayscale(image_bytes)?;
    search(&gray, started + DECODE_TIME_BUDGET)
}

/// Checks the limits, decodes the image and converts it to 8-bit luminance.
fn load_grayscale(bytes: &[u8]) -> Result<GrayImage, QrImageError> {
    if bytes.is_empty() {
        return Err(QrImageError::Empty);
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(QrImageError::FileTooLarge { size: bytes.len(), limit: MAX_IMAGE_BYTES });
    }
    let (format, format_name) = match sniff_format(bytes) {
        Ok(found) => found,
        Err(found) => return Err(QrImageError::UnsupportedFormat { found }),
    };
    let malformed =
        |e: image::ImageError| QrImageError::Malformed { format: format_name, detail: e.to_string() };

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // Generous for a 100 MP RGBA image; the pixel check below is the real limit.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(malformed)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(QrImageError::TooManyPixels { width, height });
    }
    if width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE {
        return Err(QrImageError::TooSmall { width, height });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(malformed)?;
    Ok(to_luminance(image))
}

/// Tells PNG and JPEG apart by their signatures, or says what the bytes look like instead.
fn sniff_format(bytes: &[u8]) -> Result<(ImageFormat, &'static str), String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok((ImageFormat::Png, "PNG"));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok((ImageFormat::Jpeg, "JPEG"));
    }
    // iPhones save HEIC by default; say so, because that is what reps will hit.
    if bytes.get(4..8) == Some(b"ftyp") {
        let brand = bytes.get(8..12).unwrap_or_default();
        if [&b"heic"[..], b"heix", b"hevc", b"mif1", b"msf1"].contains(&brand) {
            return Err("a HEIC/HEIF photo".to_owned());
        }
        if brand == b"avif" {
            return Err("an AVIF image".to_owned());
        }
    }
    match image::guess_format(bytes) {
        Ok(format) => Err(format!("a {format:?} image")),
        Err(_) => Err("this file (it is not an image)".to_owned()),
    }
}

/// Converts to luminance, compositing transparent pixels over white: QR codes exported as PNG
/// often have a transparent background, which would otherwise read as black.
fn to_luminance(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let pixels = rgba
        .pixels()
        .map(|p| {
            let [r, g, b, a] = p.0.map(u32::from);
            // Rec. 601 luma in fixed point, then "over white".
            let luma = (r * 299 + g * 587 + b * 114) / 1000;
            ((luma * a + 255 * (255 - a)) / 255) as u8
        })
        .collect();
    GrayImage::from_raw(width, height, pixels).unwrap_or_else(|| GrayImage::new(width, height))
}

/// How one search pass prepares the image and thresholds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// ZXing's hybrid (8×8-block local) binarizer, then the same on the inverted image.
    Hybrid,
    /// ZXing's global histogram binarizer.
    Global,
    /// Sauvola local threshold.
    Sauvola,
    /// Gaussian blur (σ = 1 px), then the global histogram binarizer.
    BlurredGlobal,
    /// Scaled to three quarters, then the hybrid binarizer.
    ThreeQuarters,
    /// Near full resolution with the hybrid binarizer (only when the working copy was scaled).
    FullResolution,
}

/// What one pass found.
enum PassOutcome {
    /// Decoded texts (possibly empty).
    Found(Vec<String>),
    /// The pass was skipped: too many finder-pattern candidates.
    TooManyPatterns(usize),
}

/// Runs the passes in order until one finds a code or the deadline passes.
fn search(full: &GrayImage, deadline: Instant) -> Result<Vec<String>, QrImageError> {
    let working = scale_to_long_side(full, WORKING_LONG_SIDE);
    let scaled = working.dimensions() != full.dimensions();
    let mut passes =
        vec![Pass::Hybrid, Pass::Global, Pass::Sauvola, Pass::BlurredGlobal, Pass::ThreeQuarters];
    if scaled {
        passes.push(Pass::FullResolution);
    }

    let mut most_patterns = 0;
    for (run, &pass) in passes.iter().enumerate() {
        if Instant::now() >= deadline {
            return Err(QrImageError::TimeBudgetExhausted {
                budget: DECODE_TIME_BUDGET,
                passes_run: run,
                passes_total: passes.len(),
            });
        }
        // A panic inside the detector on a hostile image must not take the app down; that pass
        // simply found nothing. (Phone builds use panic = "unwind", so this catches.)
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_pass(pass, full, &working)));
        match outcome {
            Ok(PassOutcome::Found(texts)) if !texts.is_empty() => return Ok(texts),
            Ok(PassOutcome::TooManyPatterns(count)) => most_patterns = most_patterns.max(count),
            Ok(PassOutcome::Found(_)) | Err(_) => {}
        }
    }
    if most_patterns > 0 {
        return Err(QrImageError::TooManyFinderPatterns { count: most_patterns, limit: MAX_FINDER_PATTERNS });
    }
    Ok(Vec::new())
}

/// Runs one pass.
fn run_pass(pass: Pass, full: &GrayImage, working: &GrayImage) -> PassOutcome {
    match pass {
        Pass::Hybrid => {
            match detect(&mut BinaryBitmap::new(HybridBinarizer::new(luminance_source(working)))) {
                PassOutcome::Found(texts) if texts.is_empty() => {
                    // Inverting the luminance and binarizing afresh reads far more light-on-dark
                    // codes than flipping the bits (ZXing's way): the binarizer treats flat
                    // areas as white either way.
                    let mut inverted = working.clone();
                    imageops::invert(&mut inverted);
                    detect(&mut BinaryBitmap::new(HybridBinarizer::new(luminance_source(&inverted))))
                }
                outcome => outcome,
            }
        }
        Pass::Global => {
            detect(&mut BinaryBitmap::new(GlobalHistogramBinarizer::new(luminance_source(working))))
        }
        Pass::Sauvola => {
            let binary = sauvola(working);
            detect(&mut BinaryBitmap::new(GlobalHistogramBinarizer::new(luminance_source(&binary))))
        }
        Pass::BlurredGlobal => {
            let blurred = imageops::blur(working, 1.0);
            detect(&mut BinaryBitmap::new(GlobalHistogramBinarizer::new(luminance_source(&blurred))))
        }
        Pass::ThreeQuarters => {
            // A resampling kernel rather than area averaging: it also smooths the modules.
            let (width, height) = working.dimensions();
            let smaller = imageops::resize(
                working,
                (width * 3 / 4).max(1),
                (height * 3 / 4).max(1),
                imageops::FilterType::Triangle,
            );
            detect(&mut BinaryBitmap::new(HybridBinarizer::new(luminance_source(&smaller))))
        }
        Pass::FullResolution => {
            let large = scale_to_long_side(full, FULL_RES_MAX_LONG_SIDE);
            detect(&mut BinaryBitmap::new(HybridBinarizer::new(luminance_source(&large))))
        }
    }
}

fn luminance_source(image: &GrayImage) -> Luma8LuminanceSource {
    Luma8LuminanceSource::new(image.as_raw().clone(), image.width(), image.height())
}

/// Finds and decodes every QR code in one binarized image.
fn detect<B: Binarizer>(bitmap: &mut BinaryBitmap<B>) -> PassOutcome {
    let estimate = estimate_finder_patterns(bitmap.get_black_matrix());
    if estimate > MAX_ESTIMATED_FINDER_PATTERNS {
        return PassOutcome::TooManyPatterns(estimate as usize);
    }
    let candidates = FindFinderPatterns(bitmap.get_black_matrix(), true).len();
    if candidates > MAX_FINDER_PATTERNS {
        return PassOutcome::TooManyPatterns(candidates);
    }
    if candidates < 3 {
        return PassOutcome::Found(Vec::new());
    }
    let hints = DecodeHints::default()
        .with(DecodeHintValue::TryHarder(true))
        .with(DecodeHintValue::PossibleFormats(HashSet::from([BarcodeFormat::QR_CODE])));
    let results = QrReader.decode_multiple_with_hints(bitmap, &hints).unwrap_or_default();
    let mut texts: Vec<String> = Vec::with_capacity(results.len());
    for result in &results {
        let text = result_text(result);
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    PassOutcome::Found(texts)
}

/// Estimates how many QR finder patterns a binarized image holds, in one linear scan.
///
/// Rows are scanned every third line, as the detector does. A dark-light-dark-light-dark run
/// sequence in proportions 1:1:3:1:1 whose centre column shows the same proportions is a hit; a
/// pattern whose modules are `m` px is crossed by about `m` scanned rows through its 3-module
/// core, so each hit counts `1/m`.
fn estimate_finder_patterns(matrix: &BitMatrix) -> f64 {
    let (width, height) = (matrix.width(), matrix.height());
    let mut estimate = 0.0;
    for y in (2..height).step_by(3) {
        // The last five run lengths, oldest first.
        let mut runs = [0u32; 5];
        let mut run_is_dark = matrix.get(0, y);
        let mut length = 0u32;
        for x in 0..=width {
            let dark = x < width && matrix.get(x, y);
            if x < width && dark == run_is_dark {
                length += 1;
                continue;
            }
            runs = [runs[1], runs[2], runs[3], runs[4], length];
            // The newest run is dark, so runs 0, 2 and 4 are: a candidate ending at x.
            if run_is_dark && let Some(module) = finder_module_size(&runs) {
                let centre = x.saturating_sub(runs[4] + runs[3] + runs[2] / 2 + 1);
                let vertical = vertical_runs(matrix, centre, y, (module * 4.0) as u32);
                if finder_module_size(&vertical).is_some_and(|m| m > module / 2.0 && m < module * 2.0) {
                    estimate += 1.0 / module.max(1.0);
                }
            }
            run_is_dark = dark;
            length = 1;
        }
    }
    estimate
}

/// The module size, if five run lengths are in the finder pattern's 1:1:3:1:1 proportions.
fn finder_module_size(runs: &[u32; 5]) -> Option<f64> {
    let module = f64::from(runs.iter().sum::<u32>()) / 7.0;
    let near = |run: u32, modules: f64| (f64::from(run) - modules * module).abs() <= module * 0.75;
    let expected = [1.0, 1.0, 3.0, 1.0, 1.0];
    (runs[0] > 0 && runs.iter().zip(expected).all(|(&run, modules)| near(run, modules))).then_some(module)
}

/// The five vertical run lengths (dark, light, dark centre, light, dark) through a dark pixel,
/// each walk stopping after `max_run` pixels.
fn vertical_runs(matrix: &BitMatrix, x: u32, y: u32, max_run: u32) -> [u32; 5] {
    let max_run = max_run.max(3);
    // Walks from `start` in one direction, returning the lengths of three runs: the centre (dark)
    // part on that side, then light, then dark.
    let walk = |start: u32, up: bool| {
        let mut lengths = [0u32; 3];
        let mut at = start;
        for (index, want_dark) in [true, false, true].into_iter().enumerate() {
            while lengths[index] < max_run && matrix.get(x, at) == want_dark && at < matrix.height() {
                lengths[index] += 1;
                match (up, at.checked_sub(1)) {
                    (true, Some(next)) => at = next,
                    (true, None) => return lengths,
                    (false, _) => at += 1,
                }
            }
        }
        lengths
    };
    let up = walk(y, true);
    let down = if y + 1 < matrix.height() { walk(y + 1, false) } else { [0; 3] };
    [up[2], up[1], up[0] + down[0], down[1], down[2]]
}

/// The text of one decoded code, with this module's character-set rule for codes without ECI.
fn result_text(result: &RXingResult) -> String {
    // The symbology identifier is "]Q1" for a plain QR code and "]Q2" when it has an ECI header
    // ("]Q3"/"]Q4" and "]Q5"/"]Q6" with GS1/AIM FNC1): an even modifier means an ECI was present,
    // and rxing has already applied its character set.
    let has_eci = match result.getRXingResultMetadata().get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER) {
        Some(RXingResultMetadataValue::SymbologyIdentifier(id)) => {
            id.chars().last().and_then(|c| c.to_digit(10)).is_none_or(|m| m % 2 == 0)
        }
        _ => true,
    };
    if has_eci {
        return result.getText().to_owned();
    }
    // For zxing-cpp-ported results, the raw bytes are the decoded content bytes of all segments
    // (numeric and alphanumeric as ASCII, byte mode as-is, Kanji mode as Shift_JIS).
    legacy_bytes_to_text(result.getRawBytes())
}

/// Reads QR content bytes that carry no ECI: UTF-8 if valid, else GB18030 unless the bytes are
/// clearly Shift_JIS Japanese, else ISO-8859-1.
fn legacy_bytes_to_text(bytes: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let gb18030 = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes);
    let shift_jis = encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes);
    match (gb18030, shift_jis) {
        (Some(gb), Some(sjis)) => {
            if looks_japanese(bytes, &sjis) {
                sjis.into_owned()
            } else {
                gb.into_owned()
            }
        }
        (Some(gb), None) => gb.into_owned(),
        (None, Some(sjis)) => sjis.into_owned(),
        (None, None) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Whether bytes that are valid in both GB18030 and Shift_JIS are Japanese.
///
/// GB2312, which holds nearly all Chinese text on cards, only uses lead bytes 0xA1–0xF7 with
/// trail bytes 0xA1–0xFE. Shift_JIS puts kana, punctuation and the common kanji under lead
/// bytes 0x81–0x9F, which GBK only uses for rare characters. Half-width katakana (single bytes
/// 0xA1–0xDF) pair up into plausible GB2312 characters, so they count as Japanese only when every
/// voicing mark follows a letter it can voice, which random Chinese bytes rarely do.
fn looks_japanese(bytes: &[u8], sjis: &str) -> bool {
    if sjis.chars().any(|c| ('\u{3041}'..='\u{30FF}').contains(&c)) {
        return true;
    }
    let (mut pairs, mut low_lead_pairs) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        pairs += 1;
        if (0x81..=0xA0).contains(&lead) {
            low_lead_pairs += 1;
        }
        // GB18030 four-byte sequences have an ASCII digit as their second byte.
        let four = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        i += if four { 4 } else { 2 };
    }
    if pairs > 0 && low_lead_pairs * 2 > pairs {
        return true;
    }
    is_half_width_katakana_text(sjis)
}

/// Whether the non-ASCII characters are all half-width katakana, with at least one voicing
/// mark (゛/゜ as U+FF9E/U+FF9F) and each mark after a letter that takes it.
fn is_half_width_katakana_text(text: &str) -> bool {
    let mut marks = 0;
    let mut previous = '\0';
    for c in text.chars() {
        if c.is_ascii() {
            previous = c;
            continue;
        }
        let takes_dakuten =
            matches!(previous, '\u{FF73}' | '\u{FF76}'..='\u{FF84}' | '\u{FF8A}'..='\u{FF8E}');
        let takes_handakuten = matches!(previous, '\u{FF8A}'..='\u{FF8E}');
        match c {
            '\u{FF9E}' if takes_dakuten => marks += 1,
            '\u{FF9F}' if takes_handakuten => marks += 1,
            '\u{FF61}'..='\u{FF9D}' => {}
            _ => return false,
        }
        previous = c;
    }
    marks > 0
}

/// Scales an image down (never up) so that its long side is at most `long_side` pixels.
///
/// Area averaging, done separably: the right filter for shrinking a QR code, and several times
/// faster than `image`'s resampling kernels on a 12-megapixel photo.
fn scale_to_long_side(image: &GrayImage, long_side: u32) -> GrayImage {
    let (width, height) = image.dimensions();
    let current = width.max(height);
    if current <= long_side || long_side == 0 {
        return image.clone();
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(long_side) / u64::from(current)) as u32).max(1);
    let (new_width, new_height) = (scale(width), scale(height));
    let rows = shrink_rows(image.as_raw(), width as usize, height as usize, new_width as usize);
    let transposed = transpose(&rows, new_width as usize, height as usize);
    let columns = shrink_rows(&transposed, height as usize, new_width as usize, new_height as usize);
    let pixels = transpose(&columns, new_height as usize, new_width as usize);
    GrayImage::from_raw(new_width, new_height, pixels).unwrap_or_else(|| image.clone())
}

/// Shrinks each of `height` rows from `width` to `new_width` pixels: each output pixel is the
/// mean of the source span it covers, partly covered pixels weighted by their share.
fn shrink_rows(pixels: &[u8], width: usize, height: usize, new_width: usize) -> Vec<u8> {
    const ONE: f64 = 65536.0;
    let scale = width as f64 / new_width as f64;
    // For each output pixel: the first source pixel and the weights (in 1/65536) from there on.
    let taps: Vec<(usize, Vec<u32>)> = (0..new_width)
        .map(|x| {
            let (left, right) = (x as f64 * scale, (x + 1) as f64 * scale);
            let start = left.floor() as usize;
            let end = (right.ceil() as usize).clamp(start + 1, width);
            let weights = (start..end)
                .map(|i| {
                    let overlap = right.min(i as f64 + 1.0) - left.max(i as f64);
                    (overlap.max(0.0) / scale * ONE).round() as u32
                })
                .collect();
            (start, weights)
        })
        .collect();
    let mut out = Vec::with_capacity(new_width * height);
    for row in pixels.chunks_exact(width).take(height) {
        out.extend(taps.iter().map(|(start, weights)| {
            let sum: u32 = row[*start..].iter().zip(weights).map(|(&v, &w)| u32::from(v) * w).sum();
            ((sum + (1 << 15)) >> 16).min(255) as u8
        }));
    }
    out
}

/// Transposes a `width`×`height` row-major image.
fn transpose(pixels: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = vec![0u8; width * height];
    for (y, row) in pixels.chunks_exact(width).take(height).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            out[x * height + y] = v;
        }
    }
    out
}

/// Sauvola local threshold: a pixel is black when darker than `m · (1 + k · (s / 128 − 1))`,
/// with `m` and `s` the mean and standard deviation of a square window around it. Unlike a
/// global threshold it follows shadows and glare; unlike ZXing's 8×8 blocks, its window is a
/// quarter of the image wide, so flat areas inside the code do not flip. Returns 0 (black) / 255
/// (white).
///
/// Sliding column sums keep memory at O(width) rather than two full integral images.
fn sauvola(image: &GrayImage) -> GrayImage {
    const K: f64 = 0.1;
    let (width, height) = (image.width() as usize, image.height() as usize);
    let radius = (width.max(height) / 8).max(7);
    let pixels = image.as_raw();
    let mut column_sum = vec![0u64; width];
    let mut column_squares = vec![0u64; width];
    let mut out = vec![255u8; width * height];

    let add_row = |sum: &mut [u64], squares: &mut [u64], y: usize, add: bool| {
        let row = &pixels[y * width..(y + 1) * width];
        for ((s, q), &v) in sum.iter_mut().zip(squares.iter_mut()).zip(row) {
            let v = u64::from(v);
            if add {
                *s += v;
                *q += v * v;
            } else {
                *s -= v;
                *q -= v * v;
            }
        }
    };
    // Window rows [top, bottom) around y.
    let (mut top, mut bottom) = (0usize, 0usize);
    for y in 0..height {
        let want_top = y.saturating_sub(radius);
        let want_bottom = (y + radius + 1).min(height);
        while bottom < want_bottom {
            add_row(&mut column_sum, &mut column_squares, bottom, true);
            bottom += 1;
        }
        while top < want_top {
            add_row(&mut column_sum, &mut column_squares, top, false);
            top += 1;
        }
        let rows = (bottom - top) as u64;
        let (mut sum, mut squares) = (0u64, 0u64);
        let (mut left, mut right) = (0usize, 0usize);
        for x in 0..width {
            let want_left = x.saturating_sub(radius);
            let want_right = (x + radius + 1).min(width);
            while right < want_right {
                sum += column_sum[right];
                squares += column_squares[right];
                right += 1;
            }
            while left < want_left {
                sum -= column_sum[left];
                squares -= column_squares[left];
                left += 1;
            }
            let n = (rows * (right - left) as u64) as f64;
            let mean = sum as f64 / n;
            let deviation = (squares as f64 / n - mean * mean).max(0.0).sqrt();
            let threshold = mean * (1.0 + K * (deviation / 128.0 - 1.0));
            if f64::from(pixels[y * width + x]) < threshold {
                out[y * width + x] = 0;
            }
        }
    }
    GrayImage::from_raw(image.width(), image.height(), out).unwrap_or_else(|| image.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// Where the ZXing QR photo sets are: `qr/` under the shared fixtures directory, which is
    /// `$FIELDSYNC_FIXTURES` when set (as for the photo tests), else `../../shared/fixtures` from
    /// the crate. Fails the test with a clear message, never skips it, when they are missing.
    fn fixtures_dir() -> PathBuf {
        let root = std::env::var_os("FIELDSYNC_FIXTURES").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures")),
            PathBuf::from,
        );
        let dir = root.join("qr");
        assert!(
            dir.join("qrcode-1").is_dir(),
            "the QR test fixtures are missing: no directory {}/qrcode-1; check out shared/fixtures \
             next to the repository or set FIELDSYNC_FIXTURES to the fixtures directory",
            dir.display()
        );
        dir
    }

    /// The images of one set with their expected texts, in numeric order.
    fn fixture_set(dir: &Path) -> Vec<(PathBuf, String)> {
        let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "png"))
            .collect();
        images.sort_by_key(|path| {
            path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0)
        });
        images
            .into_iter()
            .map(|image| {
                let txt = image.with_extension("txt");
                let expected = std::fs::read_to_string(&txt)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", txt.display()));
                (image, expected)
            })
            .collect()
    }

    /// The text matches the fixture exactly, or with the file's trailing line ending trimmed.
    fn matches_expected(decoded: &str, expected: &str) -> bool {
        let trimmed =
            expected.strip_suffix("\r\n").or_else(|| expected.strip_suffix('\n')).unwrap_or(expected);
        decoded == expected || decoded == trimmed
    }

    /// Per set: ZXing's published threshold (fixtures README) and what this decoder reaches.
    const SETS: [(&str, usize, usize); 6] = [
        ("qrcode-1", 17, 20),
        ("qrcode-2", 32, 34),
        ("qrcode-3", 38, 42),
        ("qrcode-4", 36, 40),
        ("qrcode-5", 19, 19),
        ("qrcode-6", 15, 15),
    ];

    #[test]
    fn zxing_photo_sets_decode_at_least_as_well_as_zxing() {
        let root = fixtures_dir();
        let (mut total, mut total_zxing, mut total_images) = (0, 0, 0);
        let mut below_floor = Vec::new();
        for (set, zxing, floor) in SETS {
            let images = fixture_set(&root.join(set));
            assert!(!images.is_empty(), "no images in {}", root.join(set).display());
            let mut decoded = 0;
            for (image, expected) in &images {
                let bytes = std::fs::read(image).expect("fixture image");
                match decode_qr(&bytes) {
                    Ok(texts) if texts.iter().any(|t| matches_expected(t, expected)) => decoded += 1,
                    Ok(texts) if !texts.is_empty() => {
                        println!("{}: decoded {texts:?}, expected {expected:?}", image.display())
                    }
                    _ => {}
                }
            }
            println!("{set}: {decoded}/{} decoded (ZXing: {zxing})", images.len());
            if decoded < floor {
                below_floor.push(format!("{set}: {decoded} < {floor}"));
            }
            total += decoded;
            total_zxing += zxing;
            total_images += images.len();
        }
        println!("all: {total}/{total_images} decoded (ZXing: {total_zxing})");
        assert!(below_floor.is_empty(), "sets below their floor: {below_floor:?}");
        assert!(total >= 170 && total >= total_zxing, "decoded {total}, floor 170, ZXing {total_zxing}");
    }

    fn encode_png(image: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("encode PNG");
        out.into_inner()
    }

    fn fixture_bytes(set: &str, name: &str) -> Vec<u8> {
        let path = fixtures_dir().join(set).join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    #[test]
    fn garbage_bytes_are_refused_as_not_an_image() {
        let err = decode_qr(b"BEGIN:VCARD\r\nFN:not a photo\r\nEND:VCARD").unwrap_err();
        assert!(matches!(err, QrImageError::UnsupportedFormat { .. }), "{err:?}");
        assert!(err.to_string().contains("it is not an image"), "{err}");
        assert_eq!(decode_qr(&[]).unwrap_err(), QrImageError::Empty);
        // A signature followed by garbage.
        for bytes in [&b"\x89PNG\r\n\x1a\ngarbage"[..], &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 1, 2, 3]] {
            let err = decode_qr(bytes).unwrap_err();
            assert!(matches!(err, QrImageError::Malformed { .. }), "{err:?}");
        }
    }

    #[test]
    fn heic_photo_is_refused_with_advice_to_export_jpeg() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let err = decode_qr(heic).unwrap_err();
        assert!(err.to_string().contains("HEIC"), "{err}");
        assert!(err.to_string().contains("JPEG"), "{err}");
    }

    #[test]
    fn truncated_png_is_a_clear_error_at_every_cut() {
        let bytes = fixture_bytes("qrcode-1", "1.png");
        // In the signature, the header, and the compressed pixels.
        for cut in [9, 16, 33, 60, bytes.len() / 4, bytes.len() / 2, bytes.len() * 3 / 4] {
            match decode_qr(&bytes[..cut]) {
                Err(QrImageError::Malformed { format: "PNG", detail }) => assert!(!detail.is_empty()),
                other => panic!("cut at {cut}: expected a malformed-PNG error, got {other:?}"),
            }
        }
    }

    #[test]
    fn one_pixel_image_is_too_small() {
        let err = decode_qr(&encode_png(&GrayImage::new(1, 1))).unwrap_err();
        assert_eq!(err, QrImageError::TooSmall { width: 1, height: 1 });
        assert!(err.to_string().contains("1×1 px"), "{err}");
    }

    #[test]
    fn image_without_qr_code_gives_no_texts() {
        let blank = GrayImage::from_pixel(640, 480, image::Luma([200]));
        assert_eq!(decode_qr(&encode_png(&blank)), Ok(Vec::new()));
        let gradient = GrayImage::from_fn(300, 200, |x, y| image::Luma([((x + y) % 256) as u8]));
        assert_eq!(decode_qr(&encode_png(&gradient)), Ok(Vec::new()));
    }

    /// A small real image whose header is patched to claim `width`×`height` pixels.
    fn image_claiming(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let small = GrayImage::from_fn(64, 64, |x, y| image::Luma([((x ^ y) * 4) as u8]));
        let mut bytes = Cursor::new(Vec::new());
        small.write_to(&mut bytes, format).expect("encode");
        let mut bytes = bytes.into_inner();
        match format {
            ImageFormat::Png => {
                // Signature (8), IHDR length (4) and type (4), then width and height; CRC after.
                bytes[16..20].copy_from_slice(&width.to_be_bytes());
                bytes[20..24].copy_from_slice(&height.to_be_bytes());
                let crc = crc32(&bytes[12..29]);
                bytes[29..33].copy_from_slice(&crc.to_be_bytes());
            }
            _ => {
                // Walk the JPEG segments to the start-of-frame: height, then width, big-endian.
                let mut at = 2;
                while bytes[at + 1] < 0xC0 || bytes[at + 1] > 0xC2 {
                    at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
                }
                bytes[at + 5..at + 7].copy_from_slice(&(height as u16).to_be_bytes());
                bytes[at + 7..at + 9].copy_from_slice(&(width as u16).to_be_bytes());
            }
        }
        bytes
    }

    #[test]
    fn decompression_bomb_png_is_refused_from_its_header() {
        let png = image_claiming(ImageFormat::Png, 20_000, 20_000);
        assert!(png.len() < 10_000);
        let err = decode_qr(&png).unwrap_err();
        assert_eq!(err, QrImageError::TooManyPixels { width: 20_000, height: 20_000 });
        assert!(err.to_string().contains("20000×20000 px (400 megapixels)"), "{err}");
        assert!(err.to_string().contains("limit is 100 megapixels"), "{err}");
    }

    #[test]
    fn decompression_bomb_jpeg_is_refused_from_its_header() {
        let jpeg = image_claiming(ImageFormat::Jpeg, 12_000, 9_000);
        let err = decode_qr(&jpeg).unwrap_err();
        assert_eq!(err, QrImageError::TooManyPixels { width: 12_000, height: 9_000 });
    }

    #[test]
    fn oversized_file_is_refused_before_decoding() {
        let bytes = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(decode_qr(&bytes), Err(QrImageError::FileTooLarge { .. })));
    }

    #[test]
    fn light_code_on_dark_background_is_read() {
        let bytes = fixture_bytes("qrcode-1", "1.png");
        let expected = fixture_expected("qrcode-1", "1.txt");
        let mut image = load_grayscale(&bytes).expect("fixture decodes");
        imageops::invert(&mut image);
        let texts = decode_qr(&encode_png(&image)).expect("inverted image decodes");
        assert!(texts.iter().any(|t| matches_expected(t, &expected)), "{texts:?}");
    }

    #[test]
    fn transparent_png_background_reads_as_white() {
        let bytes = fixture_bytes("qrcode-1", "1.png");
        let expected = fixture_expected("qrcode-1", "1.txt");
        let gray = load_grayscale(&bytes).expect("fixture decodes");
        // Dark modules stay opaque black; light ones become fully transparent black.
        let rgba = image::RgbaImage::from_fn(gray.width(), gray.height(), |x, y| {
            let v = gray.get_pixel(x, y).0[0];
            image::Rgba([0, 0, 0, 255 - v])
        });
        let mut out = Cursor::new(Vec::new());
        rgba.write_to(&mut out, ImageFormat::Png).expect("encode PNG");
        let texts = decode_qr(out.get_ref()).expect("decodes");
        assert!(texts.iter().any(|t| matches_expected(t, &expected)), "{texts:?}");
    }

    #[test]
    fn tiled_finder_patterns_do_not_hang_the_search() {
        // 7×7-module corner squares at 4 px per module, tiled: thousands of candidates.
        let module = 4;
        let tile = 9 * module;
        let image = GrayImage::from_fn(1200, 1200, |x, y| {
            let (mx, my) = ((x % tile) / module, (y % tile) / module);
            let inside = mx < 7 && my < 7;
            let ring = if inside { mx.min(my).min(6 - mx).min(6 - my) } else { 1 };
            image::Luma([if ring == 1 { 255 } else { 0 }])
        });
        let started = Instant::now();
        let result = decode_qr(&encode_png(&image));
        assert!(started.elapsed() < DECODE_TIME_BUDGET * 2, "took {:?}", started.elapsed());
        assert!(
            matches!(result, Ok(ref v) if v.is_empty())
                || matches!(result, Err(QrImageError::TooManyFinderPatterns { .. })),
            "{result:?}"
        );
    }

    fn fixture_expected(set: &str, name: &str) -> String {
        let path = fixtures_dir().join(set).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    #[test]
    fn utf8_bytes_read_as_utf8() {
        assert_eq!(legacy_bytes_to_text("苏州精工有限公司 张三".as_bytes()), "苏州精工有限公司 张三");
    }

    #[test]
    fn gbk_chinese_card_text_reads_as_gb18030() {
        for text in ["苏州精工有限公司", "有限公司", "张三", "李四", "王小明 电话：13812345678", "上海市"]
        {
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
            assert!(!unmappable);
            assert_eq!(legacy_bytes_to_text(&bytes), text, "bytes {bytes:02x?}");
        }
    }

    #[test]
    fn shift_jis_japanese_text_reads_as_shift_jis() {
        for text in ["Google モバイル", "東京都千代田区", "ﾃﾞｻﾞｲﾝQR", "今度のバージョン"]
        {
            let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
            assert!(!unmappable);
            assert_eq!(legacy_bytes_to_text(&bytes), text, "bytes {bytes:02x?}");
        }
    }

    #[test]
    fn bytes_valid_in_no_multibyte_charset_read_as_latin1() {
        assert_eq!(legacy_bytes_to_text(b"caf\xe9"), "café");
    }

    /// CRC-32 (PNG chunk checksum), for hand-built PNG headers.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
