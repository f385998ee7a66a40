//! `fieldsync slip verify FILE`: checks a signed service slip anywhere, with the same code the
//! phone and the relay use (`fieldsync_core::evidence::slip`).
//!
//! FILE is the slip's Automerge document as saved (what `Store::export_document` returns, or what
//! the relay stores). With `--blobs DIR` the signature strokes and image the slip names are also
//! checked against the files `DIR/<sha256>`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use automerge::{Automerge, ROOT, ReadDoc};
use fieldsync_core::evidence::signature::SignatureStrokes;
use fieldsync_core::evidence::slip::verify_slip;
use fieldsync_core::model::{RecordKind, ServiceSlip, declared_kind, read_record};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A slip document larger than this is not one (a slip with 200 items is a few KB).
const MAX_SLIP_BYTES: u64 = 16 * 1024 * 1024;
/// A signature blob larger than this is not one.
const MAX_BLOB_BYTES: u64 = 8 * 1024 * 1024;

/// The verdict on one slip file.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether every check passed.
    pub valid: bool,
    /// One line for people: `valid: …` or `invalid: <reason>`.
    pub line: String,
    /// The same as JSON, with the slip's facts.
    pub json: Value,
}

/// Root keys only a signed slip carries: a document that has them claims to be a signed slip,
/// whatever its `kind` field says (that field is not covered by the signature).
const SIGNATURE_KEYS: [&str; 3] = ["device_signature", "content_sha256", "device_public_key"];

/// Verifies the slip in `file`. `Err` means the file is not a slip document at all (unreadable,
/// not Automerge, a record of another kind with no slip signature); anything that claims to be a
/// slip and fails a check (a bad signature, a changed field, a field of a type no slip has) is an
/// `Ok` verdict with `valid: false` and the reason.
pub fn verify_file(file: &Path, blobs: Option<&Path>) -> anyhow::Result<Verdict> {
    let bytes = read_limited(file, MAX_SLIP_BYTES)?;
    let doc = Automerge::load(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not an Automerge document: {e}", file.display()))?;
    let carries_signature = SIGNATURE_KEYS.iter().any(|key| matches!(doc.get(ROOT, *key), Ok(Some(_))));
    match declared_kind(&doc) {
        Ok(RecordKind::ServiceSlip) => {}
        Ok(kind) if carries_signature => {
            return Ok(invalid(
                file,
                format!("it declares itself a {kind} but carries a slip's signature"),
                None,
            ));
        }
        Ok(kind) => bail!("{} is a {kind}, not a service slip", file.display()),
        Err(e) if carries_signature => {
            return Ok(invalid(
                file,
                format!("it carries a slip's signature but its kind is unreadable: {e}"),
                None,
            ));
        }
        Err(e) => bail!("{} is not a record: {e}", file.display()),
    }
    let slip: ServiceSlip = match read_record(&doc) {
        Ok(slip) => slip,
        Err(e) => {
            let reason =
                format!("the slip does not read as a service slip ({e}): no fieldsync device wrote it so");
            return Ok(invalid(file, reason, None));
        }
    };
    let mut problem = verify_slip(&slip).err().map(|e| e.to_string());
    if problem.is_none()
        && let Some(dir) = blobs
    {
        problem = check_blobs(&slip, dir).err().map(|e| format!("{e:#}"));
    }
    let facts = json!({
        "slip": slip.id.to_string(),
        "visit": slip.visit_id.to_string(),
        "signer": slip.signer_name,
        "signed_at": slip.signed_at,
        "signed_by": slip.signed_by.map(|d| d.to_string()),
        "content_sha256": slip.content_sha256,
        "photos": slip.photo_sha256s.len(),
    });
    Ok(match problem {
        None => Verdict {
            valid: true,
            line: format!(
                "valid: slip {} signed by {} on device {}",
                slip.id,
                slip.signer_name.as_deref().unwrap_or("?"),
                slip.signed_by.map(|d| d.to_string()).unwrap_or_default()
            ),
            json: json!({ "file": file.display().to_string(), "valid": true, "slip": facts }),
        },
        Some(reason) => invalid(file, reason, Some(facts)),
    })
}

/// The verdict on a slip that fails, with its facts when it read far enough to have them.
fn invalid(file: &Path, reason: String, facts: Option<Value>) -> Verdict {
    Verdict {
        valid: false,
        line: format!("invalid: {reason}"),
        json: json!({ "file": file.display().to_string(), "valid": false, "reason": reason, "slip": facts }),
    }
}

/// The strokes and image the slip names exist in `dir`, hash to their names, and are what they
/// claim: strokes in the canonical encoding, an image that decodes.
fn check_blobs(slip: &ServiceSlip, dir: &Path) -> anyhow::Result<()> {
    let load = |what: &str, sha: Option<&str>| -> anyhow::Result<Vec<u8>> {
        let sha = sha.with_context(|| format!("the slip names no {what}"))?;
        let bytes =
            read_limited(&dir.join(sha), MAX_BLOB_BYTES).with_context(|| format!("the {what} blob"))?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(sha) {
            bail!("the {what} blob hashes to {actual}, not {sha}");
        }
        Ok(bytes)
    };
    let strokes = load("signature strokes", slip.strokes_sha256.as_deref())?;
    SignatureStrokes::from_canonical_bytes(&strokes).context("the signature strokes blob")?;
    let png = load("signature image", slip.signature_png_sha256.as_deref())?;
    image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .context("the signature image blob is not a PNG")?;
    Ok(())
}

fn read_limited(file: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let handle = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut bytes = Vec::new();
    handle
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", file.display());
    }
    Ok(bytes)
}
