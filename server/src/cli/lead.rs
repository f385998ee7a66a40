//! `fieldsync lead parse [FILE|-]`: a QR payload's text in, the parsed lead card as JSON out —
//! the parser the phone's scan uses (`fieldsync_core::leadcard::parse_payload_bytes`), for
//! operators checking why a card scanned the way it did.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_core::dedup::normalize_phone;
use fieldsync_core::leadcard::{MAX_PAYLOAD_BYTES, PayloadError, parse_payload_bytes};
use serde_json::{Value, json};

/// Reads the payload from `file` (`-` or none: standard input) and parses it.
///
/// The result is the parsed card as one JSON object (the fields of `ParsedLead`); each phone
/// also carries what the duplicate check and the dialler read from it when it is a dialable
/// Chinese number: `e164`, `extension`, `display` (`021 6234 5678 转 8021`), `dial`
/// (`+862162345678,8021`).
///
/// # Errors
///
/// When the input cannot be read, or the payload is not a lead card (the parser's message says
/// why and what to do).
pub fn parse(file: Option<&Path>) -> anyhow::Result<Value> {
    let bytes = match file.filter(|path| *path != Path::new("-")) {
        None => {
            let bytes = read_limited(std::io::stdin().lock(), "standard input")?;
            if bytes.len() > MAX_PAYLOAD_BYTES {
                bail!(
                    "standard input holds more than {MAX_PAYLOAD_BYTES} bytes, more than a contact card \
                     can have; it is not a lead card"
                );
            }
            bytes
        }
        Some(path) => {
            let handle =
                std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let bytes = read_limited(handle, &path.display().to_string())?;
            if bytes.len() > MAX_PAYLOAD_BYTES {
                // The parser's message, with the file's real size rather than what was read of it.
                let size = std::fs::metadata(path).map_or(bytes.len(), |m| m.len() as usize);
                return Err(PayloadError::TooLarge { bytes: size, limit: MAX_PAYLOAD_BYTES }.into());
            }
            bytes
        }
    };
    let lead = parse_payload_bytes(&bytes)?;
    let mut value = serde_json::to_value(&lead).context("cannot write the card as JSON")?;
    if let Some(phones) = value.get_mut("phones").and_then(Value::as_array_mut) {
        for phone in phones {
            let Some(normalized) = phone.get("value").and_then(Value::as_str).and_then(normalize_phone)
            else {
                continue;
            };
            phone["e164"] = json!(normalized.e164);
            phone["extension"] = json!(normalized.extension);
            phone["display"] = json!(normalized.national_display());
            phone["dial"] = json!(normalized.dial_string());
        }
    }
    Ok(value)
}

/// Reads at most one byte past the payload limit, so a huge input is refused without being
/// loaded whole.
fn read_limited(source: impl Read, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source
        .take(MAX_PAYLOAD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))?;
    Ok(bytes)
}
