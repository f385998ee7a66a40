//! `fieldsync qr decode FILE…` and the QR-decoding benchmark: the command-line face of
//! `fieldsync_core::leadcard::qr_image`, for operators checking a photo a rep could not scan and for
//! recording decode accuracy and speed in `docs/benchmarks.md`.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use fieldsync_core::leadcard::qr_image::{MAX_IMAGE_BYTES, QrImageError, decode_qr};
use serde_json::{Value, json};

/// Times each image is decoded in the benchmark; the median is reported.
const BENCH_REPEATS: usize = 3;

/// Decodes the QR codes in each file.
///
/// Returns one object per file, in order: `{"file", "text"}` with the first code's text (plus
/// `"more": [...]` when the photo holds several codes), or `{"file", "error"}` saying why nothing
/// was read (unreadable file, not an image, no QR code found, …).
pub fn decode_files(files: &[PathBuf]) -> Vec<Value> {
    files.iter().map(|file| decode_file(file)).collect()
}

fn decode_file(file: &Path) -> Value {
    let name = file.display().to_string();
    let bytes = match read_limited(file) {
        Ok(bytes) => bytes,
        Err(e) => return json!({ "file": name, "error": format!("{e:#}") }),
    };
    match decode_qr(&bytes) {
        Ok(texts) => {
            let mut texts = texts.into_iter();
            match texts.next() {
                None => json!({ "file": name, "error": "no QR code found in the image" }),
                Some(text) => {
                    let more: Vec<String> = texts.collect();
                    let mut object = json!({ "file": name, "text": text });
                    if !more.is_empty() {
                        object["more"] = json!(more);
                    }
                    object
                }
            }
        }
        Err(e) => json!({ "file": name, "error": e.to_string() }),
    }
}

/// Reads a file, but no more than one byte past the decoder's limit, so a huge file is refused
/// without being loaded.
fn read_limited(file: &Path) -> anyhow::Result<Vec<u8>> {
    let handle = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut bytes = Vec::new();
    handle
        .take(MAX_IMAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        let size = std::fs::metadata(file).map_or(bytes.len(), |m| m.len() as usize);
        return Err(QrImageError::FileTooLarge { size, limit: MAX_IMAGE_BYTES }.into());
    }
    Ok(bytes)
}

/// Benchmarks QR decoding over images with known texts.
///
/// `files` are images or directories (searched recursively for `.png`/`.jpg`/`.jpeg`). An image
/// `N.png` is expected to decode to the text in `N.txt` beside it (exact, or without the file's
/// trailing line ending); an image without one counts as decoded when any code is found. Each
/// image is decoded [`BENCH_REPEATS`] times.
///
/// Returns one object per image (`"bench": "qr_image"`, its set — the parent directory — the
/// median `decode_ms` and whether it `decoded`), then one per set and one for all images
/// (`"bench": "qr_set"` / `"qr_total"`: `images`, `decoded`, `median_ms`, `p90_ms`, `max_ms`).
///
/// # Errors
///
/// When a file or directory cannot be read, or no image is found.
pub fn bench_qr(files: &[PathBuf]) -> anyhow::Result<Vec<Value>> {
    let mut images = Vec::new();
    for file in files {
        collect_images(file, &mut images)?;
    }
    if images.is_empty() {
        bail!("no .png or .jpg images found in {files:?}");
    }

    let mut lines = Vec::with_capacity(images.len() + 8);
    // (set, decode_ms, decoded) per image.
    let mut samples: Vec<(String, f64, bool)> = Vec::with_capacity(images.len());
    for image in &images {
        let bytes = read_limited(image)?;
        let expected_file = image.with_extension("txt");
        let expected = match std::fs::read_to_string(&expected_file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", expected_file.display())),
        };
        let mut times = Vec::with_capacity(BENCH_REPEATS);
        let mut outcome = Ok(Vec::new());
        for _ in 0..BENCH_REPEATS {
            let started = Instant::now();
            outcome = decode_qr(&bytes);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let decode_ms = median(&mut times);
        let decoded = match (&outcome, &expected) {
            (Ok(texts), Some(expected)) => texts.iter().any(|t| matches_expected(t, expected)),
            (Ok(texts), None) => !texts.is_empty(),
            (Err(_), _) => false,
        };
        let set = image
            .parent()
            .and_then(Path::file_name)
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let mut line = json!({
            "bench": "qr_image",
            "file": image.display().to_string(),
            "set": set,
            "decode_ms": round2(decode_ms),
            "decoded": decoded,
        });
        if let Err(e) = &outcome {
            line["error"] = json!(e.to_string());
        }
        lines.push(line);
        samples.push((set, decode_ms, decoded));
    }

    let sets: BTreeSet<&str> = samples.iter().map(|(set, _, _)| set.as_str()).collect();
    for set in sets {
        let in_set: Vec<_> = samples.iter().filter(|(s, _, _)| s == set).collect();
        lines.push(summary("qr_set", Some(set), &in_set));
    }
    let all: Vec<_> = samples.iter().collect();
    lines.push(summary("qr_total", None, &all));
    Ok(lines)
}

fn summary(bench: &str, set: Option<&str>, samples: &[&(String, f64, bool)]) -> Value {
    let mut times: Vec<f64> = samples.iter().map(|(_, ms, _)| *ms).collect();
    times.sort_by(f64::total_cmp);
    let max = times.last().copied().unwrap_or(0.0);
    let p90 = times.get((times.len() * 9 / 10).min(times.len().saturating_sub(1))).copied().unwrap_or(0.0);
    let mut line = json!({
        "bench": bench,
        "images": samples.len(),
        "decoded": samples.iter().filter(|(_, _, decoded)| *decoded).count(),
        "median_ms": round2(median(&mut times)),
        "p90_ms": round2(p90),
        "max_ms": round2(max),
    });
    if let Some(set) = set {
        line["set"] = json!(set);
    }
    line
}

/// Adds the images under `path` (a file, or a directory searched recursively) in name order,
/// numbers compared as numbers (`2.png` before `10.png`).
fn collect_images(path: &Path, images: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !path.is_dir() {
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        images.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", path.display()))?;
    entries.sort_by_key(|p| {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        (stem.parse::<u64>().unwrap_or(u64::MAX), stem)
    });
    for entry in entries {
        let is_image = entry.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg")
        });
        if entry.is_dir() || is_image {
            collect_images(&entry, images)?;
        }
    }
    Ok(())
}

/// The text matches the expected file exactly, or with the file's trailing line ending trimmed.
fn matches_expected(decoded: &str, expected: &str) -> bool {
    let trimmed = expected.strip_suffix("\r\n").or_else(|| expected.strip_suffix('\n')).unwrap_or(expected);
    decoded == expected || decoded == trimmed
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
