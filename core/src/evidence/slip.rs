//! Signing and verifying service slips (DESIGN §4).
//!
//! A signed slip commits, through one SHA-256, to everything the customer agreed to and the
//! circumstances of the signature: the slip's id and visit, its items, notes and signer name, the
//! signature strokes and their rendering, the visit's photos, the device's location fix, the time,
//! and the signing device and its public key. The device signs that hash with its Ed25519 key.
//!
//! Verification needs nothing but the slip: the public key is in it, and the signing device's id
//! is the hash of that key, so a slip cannot name one device and carry another's key. The relay
//! additionally checks that the signing device is the one that pushed the change.
//!
//! The canonical encoding ([`canonical_content`]) is versioned, length-prefixed and big-endian;
//! docs/evidence.md specifies it byte by byte so other implementations can check slips too.

use sha2::{Digest, Sha256};

use crate::device::DeviceIdentity;
use crate::ids::DeviceId;
use crate::model::{Datum, FixSource, Location, ServiceSlip};

/// The first bytes of every canonical slip content, naming the encoding and its version.
pub const SLIP_CONTENT_DOMAIN: &[u8] = b"fieldsync/service-slip/v1\n";

/// Why a slip does not verify. Each variant says what a supervisor should distrust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlipInvalid {
    /// The slip has no signature at all.
    #[error("the slip is not signed")]
    NotSigned,
    /// A field the signature covers is missing.
    #[error("the signed slip has no {0}")]
    Missing(&'static str),
    /// A hash, key or signature field is not the hex it must be.
    #[error("{field} is not {expected}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The public key does not belong to the device named as signer.
    #[error("the public key belongs to device {key_device}, not to the signer {signed_by}")]
    KeyNotSigner {
        /// The device the key hashes to.
        key_device: DeviceId,
        /// The device the slip names.
        signed_by: DeviceId,
    },
    /// The slip's content changed after it was signed.
    #[error("the content hash is {computed} but the slip says {stored}: the slip was changed after signing")]
    ContentChanged {
        /// The hash recorded at signing.
        stored: String,
        /// The hash of the content now.
        computed: String,
    },
    /// The signature does not verify against the content hash and key.
    #[error("the device signature does not verify")]
    BadSignature,
}

/// The parts of a signature a device adds to a slip, computed by [`seal_slip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipSeal {
    /// SHA-256 (hex) of [`canonical_content`].
    pub content_sha256: String,
    /// Ed25519 signature (hex) of the content hash.
    pub device_signature: String,
}

/// Fills in `signed_by` and `device_public_key` from `identity`, then computes the content hash
/// and signs it. The caller has already set `signed_at`, `signer_name`, the strokes and PNG
/// hashes, the photo hashes and the fix.
pub fn seal_slip(slip: &mut ServiceSlip, identity: &DeviceIdentity) -> Result<SlipSeal, SlipInvalid> {
    slip.signed_by = Some(identity.device_id());
    slip.device_public_key = Some(hex::encode(identity.public_key()));
    let digest = content_digest(slip)?;
    let seal = SlipSeal {
        content_sha256: hex::encode(digest),
        device_signature: hex::encode(identity.sign(&digest)),
    };
    slip.content_sha256 = Some(seal.content_sha256.clone());
    slip.device_signature = Some(seal.device_signature.clone());
    Ok(seal)
}

/// Checks a signed slip: every covered field present, the key belongs to the signer, the content
/// hash matches the content, and the signature verifies.
pub fn verify_slip(slip: &ServiceSlip) -> Result<(), SlipInvalid> {
    if slip.signed_at.is_none() && slip.device_signature.is_none() && slip.content_sha256.is_none() {
        return Err(SlipInvalid::NotSigned);
    }
    let digest = content_digest(slip)?;
    let stored = slip.content_sha256.as_deref().ok_or(SlipInvalid::Missing("content hash"))?;
    let computed = hex::encode(digest);
    if !stored.eq_ignore_ascii_case(&computed) {
        return Err(SlipInvalid::ContentChanged { stored: stored.to_owned(), computed });
    }
    let signature = slip.device_signature.as_deref().ok_or(SlipInvalid::Missing("device signature"))?;
    let signature: [u8; 64] = decode_hex(signature, "device_signature", "128 hex digits")?;
    let key: [u8; 32] = public_key(slip)?;
    if DeviceIdentity::verify(&key, &digest, &signature) { Ok(()) } else { Err(SlipInvalid::BadSignature) }
}

fn public_key(slip: &ServiceSlip) -> Result<[u8; 32], SlipInvalid> {
    let key = slip.device_public_key.as_deref().ok_or(SlipInvalid::Missing("device public key"))?;
    decode_hex(key, "device_public_key", "64 hex digits")
}

fn content_digest(slip: &ServiceSlip) -> Result<[u8; 32], SlipInvalid> {
    Ok(Sha256::digest(canonical_content(slip)?).into())
}

/// The canonical byte encoding of everything a slip's signature covers; see the module docs and
/// docs/evidence.md. Fails when a covered field is missing or malformed.
pub fn canonical_content(slip: &ServiceSlip) -> Result<Vec<u8>, SlipInvalid> {
    let signed_at = slip.signed_at.ok_or(SlipInvalid::Missing("signing time"))?;
    let signer = slip.signer_name.as_deref().ok_or(SlipInvalid::Missing("signer name"))?;
    let strokes = slip.strokes_sha256.as_deref().ok_or(SlipInvalid::Missing("signature strokes hash"))?;
    let png = slip.signature_png_sha256.as_deref().ok_or(SlipInvalid::Missing("signature image hash"))?;
    let signed_by = slip.signed_by.ok_or(SlipInvalid::Missing("signing device"))?;
    let key = public_key(slip)?;
    let key_device = DeviceId::from_public_key(&key);
    if key_device != signed_by {
        return Err(SlipInvalid::KeyNotSigner { key_device, signed_by });
    }

    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(SLIP_CONTENT_DOMAIN);
    out.extend_from_slice(slip.id.as_bytes());
    out.extend_from_slice(slip.visit_id.as_bytes());
    put_u32(&mut out, slip.items.len());
    for item in &slip.items {
        put_str(&mut out, &item.description);
        put_f64(&mut out, item.quantity);
        put_str(&mut out, &item.unit);
    }
    put_str(&mut out, &slip.notes);
    put_str(&mut out, signer);
    out.extend_from_slice(&decode_hex::<32>(strokes, "strokes_sha256", "a SHA-256 in hex")?);
    out.extend_from_slice(&decode_hex::<32>(png, "signature_png_sha256", "a SHA-256 in hex")?);
    put_u32(&mut out, slip.photo_sha256s.len());
    for photo in &slip.photo_sha256s {
        out.extend_from_slice(&decode_hex::<32>(photo, "photo_sha256s", "SHA-256 hashes in hex")?);
    }
    put_fix(&mut out, slip.fix.as_ref());
    out.extend_from_slice(&signed_at.to_be_bytes());
    out.extend_from_slice(signed_by.as_bytes());
    out.extend_from_slice(&key);
    Ok(out)
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    // Every list and text a valid slip holds is far below 4 GiB; saturate rather than wrap.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_f64(out: &mut Vec<u8>, value: f64) {
    let value = if value == 0.0 { 0.0 } else { value };
    out.extend_from_slice(&value.to_bits().to_be_bytes());
}

fn put_fix(out: &mut Vec<u8>, fix: Option<&Location>) {
    let Some(fix) = fix else {
        out.push(0);
        return;
    };
    out.push(1);
    put_f64(out, fix.lat);
    put_f64(out, fix.lon);
    out.push(match fix.datum {
        Datum::Wgs84 => 1,
        Datum::Gcj02 => 2,
        Datum::Bd09 => 3,
    });
    out.push(match fix.source {
        FixSource::Gps => 1,
        FixSource::Network => 2,
        FixSource::Exif => 3,
        FixSource::Manual => 4,
    });
    match fix.accuracy_m {
        Some(accuracy) => {
            out.push(1);
            put_f64(out, accuracy);
        }
        None => out.push(0),
    }
    match fix.at {
        Some(at) => {
            out.push(1);
            out.extend_from_slice(&at.to_be_bytes());
        }
        None => out.push(0),
    }
    out.push(u8::from(fix.mock));
}

fn decode_hex<const N: usize>(
    text: &str,
    field: &'static str,
    expected: &'static str,
) -> Result<[u8; N], SlipInvalid> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| SlipInvalid::Malformed { field, expected })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DocId;
    use crate::model::{Provenance, SlipItem};

    fn signed(identity: &DeviceIdentity) -> ServiceSlip {
        let mut slip = ServiceSlip {
            id: DocId::from_bytes([1; 16]),
            visit_id: DocId::from_bytes([2; 16]),
            items: vec![SlipItem {
                description: "更换主轴轴承".into(), quantity: 2.0, unit: "套".into()
            }],
            notes: "试运行正常".into(),
            signer_name: Some("王工".into()),
            signature_png_sha256: Some("ab".repeat(32)),
            strokes_sha256: Some("cd".repeat(32)),
            photo_sha256s: vec!["ef".repeat(32)],
            fix: Some(Location {
                lat: 31.2989,
                lon: 120.5853,
                datum: Datum::Gcj02,
                source: FixSource::Gps,
                accuracy_m: Some(12.0),
                at: Some(1_790_000_000_000),
                mock: false,
            }),
            signed_by: None,
            device_public_key: None,
            content_sha256: None,
            device_signature: None,
            signed_at: Some(1_790_000_000_500),
            provenance: Provenance { created_at: 1_789_999_000_000, created_by: identity.device_id() },
        };
        seal_slip(&mut slip, identity).unwrap();
        slip
    }

    #[test]
    fn a_sealed_slip_verifies() {
        let identity = DeviceIdentity::from_secret([7; 32]);
        let slip = signed(&identity);
        assert_eq!(verify_slip(&slip), Ok(()));
        // The encoding is pinned: a change to it must be a new version, not a silent one.
        assert_eq!(
            slip.content_sha256.as_deref().unwrap(),
            hex::encode(Sha256::digest(canonical_content(&slip).unwrap()))
        );
    }

    #[test]
    fn every_covered_field_breaks_the_seal() {
        let identity = DeviceIdentity::from_secret([7; 32]);
        let base = signed(&identity);
        type Edit = Box<dyn Fn(&mut ServiceSlip)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("quantity", Box::new(|s| s.items[0].quantity = 3.0)),
            (
                "item added",
                Box::new(|s| {
                    s.items.push(SlipItem { description: "x".into(), quantity: 1.0, unit: "件".into() })
                }),
            ),
            ("notes", Box::new(|s| s.notes.push('!'))),
            ("signer", Box::new(|s| s.signer_name = Some("李工".into()))),
            ("strokes", Box::new(|s| s.strokes_sha256 = Some("00".repeat(32)))),
            ("png", Box::new(|s| s.signature_png_sha256 = Some("00".repeat(32)))),
            ("photo removed", Box::new(|s| s.photo_sha256s.clear())),
            ("fix moved", Box::new(|s| s.fix.as_mut().unwrap().lat += 0.001)),
            ("fix datum", Box::new(|s| s.fix.as_mut().unwrap().datum = Datum::Wgs84)),
            ("fix mock", Box::new(|s| s.fix.as_mut().unwrap().mock = true)),
            ("fix dropped", Box::new(|s| s.fix = None)),
            ("time", Box::new(|s| s.signed_at = Some(1))),
            ("visit", Box::new(|s| s.visit_id = DocId::from_bytes([3; 16]))),
        ];
        for (what, edit) in edits {
            let mut slip = base.clone();
            edit(&mut slip);
            assert!(
                matches!(verify_slip(&slip), Err(SlipInvalid::ContentChanged { .. })),
                "{what}: {:?}",
                verify_slip(&slip)
            );
        }
    }

    #[test]
    fn forged_keys_and_signatures_are_caught() {
        let identity = DeviceIdentity::from_secret([7; 32]);
        let other = DeviceIdentity::from_secret([8; 32]);

        // Another device's key under this device's name.
        let mut slip = signed(&identity);
        slip.device_public_key = Some(hex::encode(other.public_key()));
        assert!(matches!(verify_slip(&slip), Err(SlipInvalid::KeyNotSigner { .. })));

        // Re-hashed after an edit, but signed by nobody.
        let mut slip = signed(&identity);
        slip.notes = "改过".into();
        slip.content_sha256 = Some(hex::encode(Sha256::digest(canonical_content(&slip).unwrap())));
        assert_eq!(verify_slip(&slip), Err(SlipInvalid::BadSignature));

        // Re-signed by another device claiming to be it: the key gives it away.
        let mut slip = signed(&identity);
        seal_slip(&mut slip, &other).unwrap();
        slip.signed_by = Some(identity.device_id());
        assert!(matches!(verify_slip(&slip), Err(SlipInvalid::KeyNotSigner { .. })));

        let mut slip = signed(&identity);
        slip.device_signature = Some("zz".into());
        assert!(matches!(verify_slip(&slip), Err(SlipInvalid::Malformed { field: "device_signature", .. })));

        let mut unsigned = signed(&identity);
        unsigned.signed_at = None;
        unsigned.content_sha256 = None;
        unsigned.device_signature = None;
        assert_eq!(verify_slip(&unsigned), Err(SlipInvalid::NotSigned));
    }
}
