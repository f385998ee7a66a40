//! `fieldsync photo …` and `fieldsync bench photo`: the command-line face of
//! [`fieldsync_core::evidence::photo`].
//!
//! - [`inspect`] prints what a photo's header and EXIF say, decoding no pixel.
//! - [`ingest`] makes the upload copy and thumbnail and writes them to a directory.
//! - [`bench_photo`] times ingest against libjpeg-turbo's `djpeg | cjpeg` doing the same scaling,
//!   in the same run, on the same files (DESIGN §8).
//!
//! Every function returns one JSON value per result; the binary prints them, one per line.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fieldsync_core::evidence::photo::{
    EncodedJpeg, IngestTimings, PhotoError, PhotoEvidence, PhotoLimits, ingest_photo_timed, inspect_photo,
    read_header, rescale_jpeg,
};
use serde_json::{Value, json};

/// Timed runs per file and per side (after one warm-up run each); the median is reported.
const BENCH_ITERATIONS: usize = 9;
/// The fixture the 9 MP benchmark uses (4608×1976, GPS, from a phone).
const NOKIA_FIXTURE: &str = "exif/mobile_HMD_Nokia_8.3_5G.jpg";
/// The fixture upscaled into the 12 MP benchmark photo (3264×2448, same 4:3 aspect).
const JOLLA_FIXTURE: &str = "exif/mobile_jolla.jpg";
/// Size and quality of the generated 12 MP benchmark photo.
const BENCH_12MP: (u32, u32, u8) = (4000, 3000, 92);

/// Reads a photo file, refusing one over the size limit before reading it.
fn read_photo(path: &Path, limits: &PhotoLimits) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > limits.max_file_bytes {
        return Err(PhotoError::FileTooLarge { bytes: size, limit: limits.max_file_bytes })
            .with_context(|| path.display().to_string());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `fieldsync photo inspect FILE`: `{"gps": [lat, lon] | null, "taken": "YYYY:MM:DD HH:MM:SS" |
/// null, "orientation": n | null, "pixels": [w, h]}`.
///
/// `gps` is WGS-84 degrees, `taken` the EXIF DateTimeOriginal exactly as written (camera local
/// time), `pixels` the stored size before orientation. A file that is not a readable JPEG is an
/// error (exit 1); a damaged EXIF block only nulls the fields it hides.
pub fn inspect(path: &Path) -> Result<Value> {
    let limits = PhotoLimits::default();
    let bytes = read_photo(path, &limits)?;
    let inspection = inspect_photo(&bytes, &limits).with_context(|| path.display().to_string())?;
    let exif = &inspection.exif;
    Ok(json!({
        "gps": exif.gps.map(|p| [p.lat(), p.lon()]),
        "taken": exif.taken.as_ref().map(|t| t.raw.clone()),
        "orientation": exif.orientation,
        "pixels": [inspection.header.width, inspection.header.height],
    }))
}

/// `fieldsync photo ingest FILE OUT_DIR`: writes `copy.jpg` and `thumb.jpg` into `out_dir`
/// (created if missing) and returns their sizes, hashes, the EXIF facts, flags and per-stage
/// timings in ms.
pub fn ingest(path: &Path, out_dir: &Path) -> Result<Value> {
    let limits = PhotoLimits::default();
    let started = Instant::now();
    let bytes = read_photo(path, &limits)?;
    let read = started.elapsed();
    let (evidence, timings) =
        ingest_photo_timed(&bytes, &limits).with_context(|| path.display().to_string())?;
    let written = Instant::now();
    std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let copy_path = out_dir.join("copy.jpg");
    let thumb_path = out_dir.join("thumb.jpg");
    for (target, image) in [(&copy_path, &evidence.upload_copy), (&thumb_path, &evidence.thumbnail)] {
        std::fs::write(target, &image.bytes).with_context(|| format!("cannot write {}", target.display()))?;
    }
    let write = written.elapsed();
    let mut stages = stage_ms(&timings);
    stages["read"] = json!(ms(read));
    stages["write"] = json!(ms(write));
    Ok(json!({
        "original": {
            "path": path.display().to_string(),
            "bytes": evidence.original_bytes,
            "pixels": evidence.pixels,
            "sha256": evidence.original_sha256,
        },
        "copy": image_json(&copy_path, &evidence.upload_copy),
        "thumbnail": image_json(&thumb_path, &evidence.thumbnail),
        "orientation_applied": evidence.orientation_applied,
        "exif": exif_json(&evidence),
        "flags": serde_json::to_value(&evidence.flags)?,
        "timings_ms": stages,
    }))
}

/// One written image, for [`ingest`]'s output.
fn image_json(path: &Path, image: &EncodedJpeg) -> Value {
    json!({
        "path": path.display().to_string(),
        "bytes": image.bytes.len(),
        "pixels": [image.width, image.height],
        "sha256": image.sha256,
    })
}

/// The EXIF facts of an ingested photo, for [`ingest`]'s output.
fn exif_json(evidence: &PhotoEvidence) -> Value {
    let exif = &evidence.exif;
    json!({
        "gps": exif.gps.map(|p| [p.lat(), p.lon()]),
        "taken": exif.taken.as_ref().map(|t| t.raw.clone()),
        "taken_offset_minutes": exif.taken.as_ref().and_then(|t| t.offset_minutes),
        "taken_at_ms": exif.taken.as_ref().and_then(|t| t.unix_ms),
        "orientation": exif.orientation,
    })
}

/// Milliseconds with microsecond resolution.
fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// The stages of [`IngestTimings`] as a JSON object of milliseconds.
fn stage_ms(t: &IngestTimings) -> Value {
    json!({
        "header": ms(t.header), "exif": ms(t.exif), "decode": ms(t.decode), "resize": ms(t.resize),
        "orient": ms(t.orient), "encode_copy": ms(t.encode_copy), "thumbnail": ms(t.thumbnail),
        "hash": ms(t.hash), "ingest_total": ms(t.total),
    })
}

/// Where the shared test fixtures are: `$FIELDSYNC_FIXTURES`, else `shared/fixtures` next to or
/// above the working directory or the source tree.
pub fn fixtures_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FIELDSYNC_FIXTURES") {
        return Ok(PathBuf::from(dir));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = vec![PathBuf::from("shared/fixtures"), PathBuf::from("../shared/fixtures")];
    candidates.extend(manifest.ancestors().take(4).map(|dir| dir.join("shared/fixtures")));
    candidates.into_iter().find(|dir| dir.join("exif").is_dir()).context(
        "cannot find the shared fixtures (shared/fixtures/exif); set FIELDSYNC_FIXTURES to their directory",
    )
}

/// The 12 MP benchmark photo: [`JOLLA_FIXTURE`] upscaled to 4000×3000 and encoded at quality 92 by
/// this crate's own code, so it is the same file on every machine. Made once and cached in the
/// system temporary directory.
pub fn bench_12mp_photo() -> Result<PathBuf> {
    let (width, height, quality) = BENCH_12MP;
    let path = std::env::temp_dir().join(format!("fieldsync-bench-photo-{width}x{height}-q{quality}.jpg"));
    let limits = PhotoLimits::default();
    if let Ok(bytes) = std::fs::read(&path)
        && read_header(&bytes, &limits).is_ok_and(|h| (h.width, h.height) == (width, height))
    {
        return Ok(path);
    }
    let source = fixtures_dir()?.join(JOLLA_FIXTURE);
    let bytes = read_photo(&source, &limits)?;
    let photo = rescale_jpeg(&bytes, width, height, quality, &limits)
        .with_context(|| format!("cannot make the 12 MP photo from {}", source.display()))?;
    // Write then rename, so a concurrent run never reads half a file.
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&partial, &photo).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `fieldsync bench photo [--reference] [FILE…]`: one JSON object per file.
///
/// With no files, benchmarks the 9 MP phone fixture and the generated 12 MP photo
/// ([`bench_12mp_photo`]). "Ours" is read file → [`ingest_photo_timed`] (EXIF, scaled decode,
/// resize, orientation, copy, thumbnail, three SHA-256) → write both files. With `reference`, each
/// iteration also runs, on the same file, `djpeg -scale 3/8 FILE | cjpeg -quality 80 > copy` then
/// `djpeg -scale 1/8 FILE | cjpeg > thumb` (spawned processes), interleaved with ours so both see
/// the same machine load. `ratio` is ours / that plain reference. Because the reference pays for
/// four process starts, the cost of the same four starts doing nothing (`-version`) is measured
/// too and `ratio_vs_work` divides by the reference minus that. On Linux, `ours_cpu_ms` and
/// `reference.cpu_ms` give the CPU time per run (all threads; the reference's four processes),
/// which the shared machine's load affects less than wall time.
pub fn bench_photo(files: &[PathBuf], reference: bool) -> Result<Vec<Value>> {
    let files = if files.is_empty() {
        vec![fixtures_dir()?.join(NOKIA_FIXTURE), bench_12mp_photo()?]
    } else {
        files.to_vec()
    };
    if reference {
        check_reference_tools()?;
    }
    let out = tempfile::tempdir().context("cannot create a temporary directory")?;
    let limits = PhotoLimits::default();
    let mut results = Vec::new();
    for file in &files {
        let mut ours = Vec::new();
        let mut stages = Vec::new();
        let mut theirs = Vec::new();
        let mut spawns = Vec::new();
        let mut last = None;
        let (mut ours_cpu, mut theirs_cpu) = (Some(Duration::ZERO), Some(Duration::ZERO));
        // Iteration 0 is the warm-up (page cache, allocator, CPU frequency) and is not kept.
        for iteration in 0..=BENCH_ITERATIONS {
            let cpu_before = cpu_times();
            let started = Instant::now();
            let bytes = read_photo(file, &limits)?;
            let (evidence, timings) =
                ingest_photo_timed(&bytes, &limits).with_context(|| file.display().to_string())?;
            std::fs::write(out.path().join("copy.jpg"), &evidence.upload_copy.bytes)?;
            std::fs::write(out.path().join("thumb.jpg"), &evidence.thumbnail.bytes)?;
            let elapsed = started.elapsed();
            let cpu_between = cpu_times();
            let reference_run = if reference { Some(run_reference(file, out.path())?) } else { None };
            let cpu_after = cpu_times();
            let spawn_only = if reference { Some(run_spawn_only()?) } else { None };
            if iteration > 0 {
                ours.push(elapsed);
                stages.push(timings);
                theirs.extend(reference_run);
                spawns.extend(spawn_only);
                ours_cpu = add_delta(ours_cpu, cpu_before, cpu_between, |(own, _)| own);
                theirs_cpu = add_delta(theirs_cpu, cpu_between, cpu_after, |(_, children)| children);
            }
            last = Some(evidence);
        }
        let evidence = last.context("no iteration ran")?;
        let ours_ms = median_ms(&ours);
        let mut result = json!({
            "bench": "photo",
            "file": file.display().to_string(),
            "pixels": evidence.pixels,
            "original_bytes": evidence.original_bytes,
            "iterations": BENCH_ITERATIONS,
            "ours_ms": ours_ms,
            "ours_min_ms": ms(ours.iter().copied().min().unwrap_or_default()),
            "ours_stages_ms": median_stages(&stages),
            "ours_cpu_ms": ours_cpu.map(|cpu| round3(ms(cpu) / BENCH_ITERATIONS as f64)),
            "copy": {"pixels": [evidence.upload_copy.width, evidence.upload_copy.height],
                     "bytes": evidence.upload_copy.bytes.len()},
            "thumbnail": {"pixels": [evidence.thumbnail.width, evidence.thumbnail.height],
                          "bytes": evidence.thumbnail.bytes.len()},
        });
        if reference {
            let reference_ms = median_ms(&theirs);
            let spawn_ms = median_ms(&spawns);
            let work_ms = (reference_ms - spawn_ms).max(0.001);
            let copy_bytes = std::fs::metadata(out.path().join("ref-copy.jpg"))?.len();
            let thumb_bytes = std::fs::metadata(out.path().join("ref-thumb.jpg"))?.len();
            result["reference"] = json!({
                "command": "djpeg -scale 3/8 FILE | cjpeg -quality 80 > copy.jpg; \
                            djpeg -scale 1/8 FILE | cjpeg > thumb.jpg",
                "ms": reference_ms,
                "min_ms": ms(theirs.iter().copied().min().unwrap_or_default()),
                "spawn_only_ms": spawn_ms,
                "work_ms": round3(work_ms),
                "cpu_ms": theirs_cpu.map(|cpu| round3(ms(cpu) / BENCH_ITERATIONS as f64)),
                "copy_bytes": copy_bytes,
                "thumbnail_bytes": thumb_bytes,
            });
            result["ratio"] = json!(round3(ours_ms / reference_ms));
            result["ratio_vs_work"] = json!(round3(ours_ms / work_ms));
            result["ratio_basis"] =
                json!("ours_ms / reference.ms (plain pipelines, process starts included)");
        }
        results.push(result);
    }
    Ok(results)
}

/// CPU time (user + system) used so far by this process (all threads) and by its reaped
/// children, from `/proc/self/stat`; `None` where that file does not exist (not Linux).
/// Resolution is one clock tick, 10 ms (USER_HZ is 100 on every Linux ABI), so the benchmark
/// sums many runs before dividing.
fn cpu_times() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    let own = ticks(11)? + ticks(12)?; // utime + stime
    let children = ticks(13)? + ticks(14)?; // cutime + cstime
    Some((Duration::from_millis(own * 10), Duration::from_millis(children * 10)))
}

/// Adds the growth of one [`cpu_times`] component between two readings to a running total.
fn add_delta(
    total: Option<Duration>,
    before: Option<(Duration, Duration)>,
    after: Option<(Duration, Duration)>,
    pick: fn((Duration, Duration)) -> Duration,
) -> Option<Duration> {
    Some(total? + pick(after?).saturating_sub(pick(before?)))
}

/// Fails with installation advice when djpeg or cjpeg cannot be run.
fn check_reference_tools() -> Result<()> {
    for tool in ["djpeg", "cjpeg"] {
        let status = Command::new(tool)
            .arg("-version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            bail!(
                "the reference needs libjpeg-turbo's {tool}, which cannot be run; install it \
                 (Debian/Ubuntu: apt-get install libjpeg-turbo-progs) or run without --reference"
            );
        }
    }
    Ok(())
}

/// Both reference pipelines, one after the other, as a shell would run them.
fn run_reference(file: &Path, out: &Path) -> Result<Duration> {
    let started = Instant::now();
    let copy = out.join("ref-copy.jpg");
    let thumb = out.join("ref-thumb.jpg");
    pipeline(&["-scale", "3/8"], Some(file), &["-quality", "80"], Some(&copy))?;
    pipeline(&["-scale", "1/8"], Some(file), &[], Some(&thumb))?;
    Ok(started.elapsed())
}

/// The same four process starts as [`run_reference`], each doing nothing (`-version`).
fn run_spawn_only() -> Result<Duration> {
    let started = Instant::now();
    for _ in 0..2 {
        pipeline(&["-version"], None, &["-version"], None)?;
    }
    Ok(started.elapsed())
}

/// `djpeg ARGS [FILE] | cjpeg ARGS > OUTPUT`, failing if either side fails.
fn pipeline(
    djpeg_args: &[&str],
    file: Option<&Path>,
    cjpeg_args: &[&str],
    output: Option<&Path>,
) -> Result<()> {
    let mut djpeg = Command::new("djpeg");
    djpeg.args(djpeg_args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(file) = file {
        djpeg.arg(file);
    }
    let mut djpeg = djpeg.spawn().context("cannot start djpeg")?;
    let decoded = djpeg.stdout.take().context("djpeg has no stdout")?;
    let target = match output {
        Some(path) => {
            Stdio::from(File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => Stdio::null(),
    };
    let cjpeg = Command::new("cjpeg")
        .args(cjpeg_args)
        .stdin(decoded)
        .stdout(target)
        .stderr(Stdio::null())
        .status()
        .context("cannot run cjpeg")?;
    let djpeg = djpeg.wait().context("djpeg did not finish")?;
    if !djpeg.success() || !cjpeg.success() {
        bail!("the reference pipeline failed (djpeg {djpeg}, cjpeg {cjpeg})");
    }
    Ok(())
}

/// Median of the samples in ms (upper median for an even count).
fn median_ms(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    ms(sorted.get(sorted.len() / 2).copied().unwrap_or_default())
}

/// Per-stage medians of [`IngestTimings`].
fn median_stages(samples: &[IngestTimings]) -> Value {
    let pick = |f: fn(&IngestTimings) -> Duration| median_ms(&samples.iter().map(f).collect::<Vec<_>>());
    json!({
        "header": pick(|t| t.header), "exif": pick(|t| t.exif), "decode": pick(|t| t.decode),
        "resize": pick(|t| t.resize), "orient": pick(|t| t.orient), "encode_copy": pick(|t| t.encode_copy),
        "thumbnail": pick(|t| t.thumbnail), "hash": pick(|t| t.hash), "ingest_total": pick(|t| t.total),
    })
}

/// Rounds to three decimals.
fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        fixtures_dir().expect("fixtures").join("exif").join(name)
    }

    #[test]
    fn inspect_reports_gps_time_orientation_and_stored_pixels() {
        let value = inspect(&fixture("gps_DSCN0010.jpg")).unwrap();
        let gps = value["gps"].as_array().unwrap();
        assert!((gps[0].as_f64().unwrap() - 43.467448).abs() < 1e-5);
        assert!((gps[1].as_f64().unwrap() - 11.885127).abs() < 1e-5);
        assert_eq!(value["taken"], "2008:10:22 16:28:39");
        assert_eq!(value["orientation"], 1);
        assert_eq!(value["pixels"], json!([640, 480]));
    }

    #[test]
    fn inspect_of_a_file_without_exif_gives_nulls_not_an_error() {
        let value = inspect(&fixture("invalid_image01551.jpg")).unwrap();
        assert_eq!(value, json!({"gps": null, "taken": null, "orientation": null, "pixels": [61, 58]}));
    }

    #[test]
    fn inspect_of_text_is_a_readable_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.jpg");
        std::fs::write(&path, "visit notes, not a photo\n").unwrap();
        let message = format!("{:#}", inspect(&path).unwrap_err());
        assert!(message.contains("the file is text, not a JPEG photo"), "{message}");
    }

    #[test]
    fn ingest_writes_an_upright_copy_and_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let value = ingest(&fixture("orientation_landscape_6.jpg"), dir.path()).unwrap();
        assert_eq!(value["copy"]["pixels"], json!([600, 450]));
        assert_eq!(value["thumbnail"]["pixels"], json!([320, 240]));
        assert_eq!(value["orientation_applied"], 6);
        let copy = std::fs::read(dir.path().join("copy.jpg")).unwrap();
        assert_eq!(value["copy"]["bytes"], copy.len());
        assert!(dir.path().join("thumb.jpg").is_file());
        assert!(value["timings_ms"]["decode"].as_f64().is_some());
    }

    #[test]
    fn ingest_of_a_truncated_photo_is_a_readable_error() {
        let dir = tempfile::tempdir().unwrap();
        let message = format!("{:#}", ingest(&fixture("corrupted.jpg"), dir.path()).unwrap_err());
        assert!(message.contains("image data is damaged"), "{message}");
    }
}
