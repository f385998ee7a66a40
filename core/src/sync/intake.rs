//! What a peer checks before it keeps Automerge bytes another peer sent: the one intake rule the
//! relay applies to pushed changes and the phone applies to what the relay sends (STYLE §16).
//!
//! `automerge::Change::from_bytes` (0.12) computes a change's hash but never compares it with the
//! checksum in the chunk header, while `Automerge::load` and `load_incremental` refuse (or, for a
//! non-empty document, silently drop) a chunk whose checksum is wrong. A relay that stored such a
//! change would hand every phone bytes it cannot read. So every chunk from outside is parsed and
//! its checksum verified here, and applying it to a document runs under a panic guard: hostile
//! bytes that reach an `unwrap` inside automerge become a typed refusal of that one change.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{Automerge, Change, ReadDoc};

use crate::model::{DocumentFacts, DocumentProblem, check_document, check_record};
use crate::sync::wire::RejectCode;
use sha2::{Digest, Sha256};

/// The magic bytes that open every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// What kind of chunk a piece of Automerge bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// A saved document (`Automerge::save`): what the relay sends a new device.
    Document,
    /// One change.
    Change,
    /// One DEFLATE-compressed change.
    CompressedChange,
}

/// Why bytes from another peer were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The bytes are not one well-formed Automerge chunk of an accepted kind.
    #[error("not a well-formed Automerge {expected}: {reason}")]
    Malformed {
        /// What was expected ("change", "document or change").
        expected: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The chunk's header checksum does not match its contents (the bytes were damaged).
    #[error("the chunk's checksum {stated} does not match its contents ({actual}); the bytes were damaged")]
    BadChecksum {
        /// The checksum in the header, hex.
        stated: String,
        /// The first four bytes of the contents' SHA-256, hex.
        actual: String,
    },
    /// Automerge could not apply the change to the document.
    #[error("the change does not apply to the document: {0}")]
    NotApplicable(String),
}

/// Parses one change and verifies its checksum: what the relay does with every pushed change
/// before anything else, so it never stores a change a phone's reader would refuse.
pub fn verify_change(bytes: &[u8]) -> Result<Change, IntakeError> {
    let malformed = |reason: String| IntakeError::Malformed { expected: "change", reason };
    match chunk_kind(bytes).map_err(malformed)? {
        ChunkKind::Change | ChunkKind::CompressedChange => {}
        ChunkKind::Document => return Err(malformed("it is a whole document, not a change".into())),
    }
    let change = guarded(|| Change::from_bytes(bytes.to_vec()))
        .map_err(malformed)?
        .map_err(|e| malformed(e.to_string()))?;
    // The hash is over the (decompressed) chunk contents; the header must state its first bytes.
    check_checksum(&bytes[4..8], &change.hash().0[..4])?;
    Ok(change)
}

/// Verifies the checksum of a saved document's chunk without loading it (cheap: one SHA-256 over
/// the bytes). `Automerge::load` checks it too, but `load_incremental` into a non-empty document
/// drops a damaged chunk without an error, which would hide the damage.
pub fn verify_document_checksum(bytes: &[u8]) -> Result<(), IntakeError> {
    let malformed = |reason: String| IntakeError::Malformed { expected: "document", reason };
    let (kind, data_start) = header(bytes).map_err(malformed)?;
    if kind != ChunkKind::Document {
        return Err(malformed("it is not a saved document".into()));
    }
    let data = &bytes[data_start..];
    let mut hasher = Sha256::new();
    hasher.update(&bytes[8..data_start]); // chunk type and length, as the hash covers them
    hasher.update(data);
    check_checksum(&bytes[4..8], &hasher.finalize()[..4])
}

/// The kind of the single chunk in `bytes`, checking its header and that nothing follows it.
pub fn chunk_kind(bytes: &[u8]) -> Result<ChunkKind, String> {
    header(bytes).map(|(kind, _)| kind)
}

/// Applies one verified change to `doc`, turning a panic inside automerge into an error. After
/// an error `doc` may be half-changed: callers apply to a copy, or rebuild it.
pub fn apply_change(doc: &mut Automerge, change: Change) -> Result<(), IntakeError> {
    guarded(|| doc.apply_changes([change]))
        .map_err(IntakeError::NotApplicable)?
        .map_err(|e| IntakeError::NotApplicable(e.to_string()))
}

/// Loads saved-document or change bytes into `doc` under the panic guard (the phone's path for
/// the relay's snapshots). The same caveat as [`apply_change`] holds after an error.
pub fn load_incremental(doc: &mut Automerge, bytes: &[u8]) -> Result<(), IntakeError> {
    guarded(|| doc.load_incremental(bytes))
        .map_err(IntakeError::NotApplicable)?
        .map(|_| ())
        .map_err(|e| IntakeError::NotApplicable(e.to_string()))
}

/// A pushed change that passed [`check_pushed`]: the document with it applied, and what it is.
#[derive(Debug)]
pub struct Accepted {
    /// The document with the change applied.
    pub doc: Automerge,
    /// Its kind and state.
    pub facts: DocumentFacts,
    /// `doc` saved (`Automerge::save`), as loaded back by the check: the snapshot to store, so
    /// the caller need not save the same state again.
    pub saved: Vec<u8>,
}

/// Why [`check_pushed`] refused a change: the wire code the relay answers with, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The refusal code of the sync response.
    pub code: RejectCode,
    /// What was wrong.
    pub message: String,
}

/// The relay's document-level intake of one verified change (see [`verify_change`]) pushed to
/// `base` (the stored document, or an empty one for a new document): its dependencies must be
/// there; it is applied to a copy of `base` under the panic guard; the result must read as its
/// kind and keep the record's own rules, unless `base` already broke them (data from before this
/// check, or the relay's own merges), so an old record can still be edited and repaired. Pure:
/// the fuzz target `relay_intake` runs exactly this.
pub fn check_pushed(base: &Automerge, change: Change) -> Result<Accepted, Refusal> {
    let refuse = |code, message: String| Refusal { code, message };
    let malformed = |why: String| refuse(RejectCode::MalformedChange, why);
    let missing =
        guarded(|| change.deps().iter().filter(|dep| base.get_change_by_hash(dep).is_none()).count())
            .map_err(malformed)?;
    if missing > 0 {
        return Err(refuse(
            RejectCode::MissingDependencies,
            format!("{missing} earlier changes of the document have not arrived yet"),
        ));
    }
    let hash = change.hash();
    let mut doc = base.clone();
    apply_change(&mut doc, change).map_err(|e| malformed(e.to_string()))?;
    // Some changes apply but cannot be read back out of the document afterwards (automerge
    // panics rebuilding them, found by fuzzing): every later dependency check and every peer's
    // sync would trip on it, so it is refused now.
    match guarded(|| doc.get_change_by_hash(&hash).is_some()) {
        Ok(true) => {}
        Ok(false) => return Err(malformed("the applied change cannot be found in the document".into())),
        Err(panic) => return Err(malformed(format!("the applied change cannot be read back: {panic}"))),
    }
    // Some changes apply, yet the document saved with them re-encodes them under another hash
    // and no device can load that snapshot (MismatchedHeads; found by fuzzing). What the relay
    // stores is the saved document, so it must load back to the same heads.
    let saved = guarded(|| doc.save()).map_err(malformed)?;
    let reloads = guarded(|| Automerge::load(&saved).map(|d| d.get_heads() == doc.get_heads()));
    if !matches!(reloads, Ok(Ok(true))) {
        return Err(malformed("the document saved with this change does not load back".into()));
    }
    let invalid = |problem: DocumentProblem| refuse(RejectCode::InvalidDocument, problem.to_string());
    let facts = match guarded(|| check_record(&doc)) {
        Ok(Ok(facts)) => facts,
        // Checked only now, as it is rare: was the stored copy already invalid?
        Ok(Err(DocumentProblem::Invalid(why))) => match guarded(|| check_record(base)) {
            Ok(Err(DocumentProblem::Invalid(_))) => {
                check_document(&doc).map_err(|e| invalid(DocumentProblem::Unreadable(e)))?
            }
            _ => return Err(invalid(DocumentProblem::Invalid(why))),
        },
        Ok(Err(problem)) => return Err(invalid(problem)),
        Err(panic) => return Err(invalid(DocumentProblem::Unreadable(panic))),
    };
    Ok(Accepted { doc, facts, saved })
}

/// Runs `f`, turning a panic into its message.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        format!("automerge failed on these bytes ({what})")
    })
}

fn check_checksum(stated: &[u8], actual: &[u8]) -> Result<(), IntakeError> {
    if stated == actual {
        Ok(())
    } else {
        Err(IntakeError::BadChecksum { stated: hex::encode(stated), actual: hex::encode(actual) })
    }
}

/// The chunk's kind and where its contents start; the contents must run to the end of `bytes`.
fn header(bytes: &[u8]) -> Result<(ChunkKind, usize), String> {
    if bytes.len() < 10 {
        return Err(format!("{} bytes is too short for a chunk", bytes.len()));
    }
    if bytes[..4] != MAGIC {
        return Err("it does not start with Automerge's magic bytes".into());
    }
    let kind = match bytes[8] {
        0 => ChunkKind::Document,
        1 => ChunkKind::Change,
        2 => ChunkKind::CompressedChange,
        other => return Err(format!("chunk type {other} is not a document or a change")),
    };
    let mut length: u64 = 0;
    let mut at = 9;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(at).ok_or("the chunk length is cut off")?;
        at += 1;
        length |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let rest = (bytes.len() - at) as u64;
            if length != rest {
                return Err(format!("the header says {length} bytes of contents; {rest} follow"));
            }
            return Ok((kind, at));
        }
    }
    Err("the chunk length is not a valid LEB128 number".into())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{ActorId, ROOT};

    use super::*;

    fn sample_change() -> Vec<u8> {
        let mut doc = Automerge::new().with_actor(ActorId::from([7u8; 16]));
        let mut tx = doc.transaction();
        tx.put(ROOT, "company_name", "苏州精工").unwrap();
        tx.commit();
        doc.get_last_local_change().unwrap().raw_bytes().to_vec()
    }

    #[test]
    fn a_valid_change_and_document_pass() {
        let bytes = sample_change();
        let change = verify_change(&bytes).unwrap();
        let mut doc = Automerge::new();
        apply_change(&mut doc, change).unwrap();
        verify_document_checksum(&doc.save()).unwrap();
    }

    #[test]
    fn every_single_bit_flip_of_a_change_is_refused_or_still_reads_on_a_phone() {
        // What the relay accepts must load on a phone: each flip is either refused here, or the
        // phone's own reader (`Automerge::load`) takes the same bytes.
        let bytes = sample_change();
        let mut refused = 0;
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            match verify_change(&flipped) {
                Err(_) => refused += 1,
                Ok(_) => {
                    assert!(
                        Automerge::load(&flipped).is_ok(),
                        "bit {bit}: accepted but a phone cannot load it"
                    )
                }
            }
        }
        assert!(refused > bytes.len() * 8 * 9 / 10, "only {refused} flips refused");
    }

    #[test]
    fn a_damaged_document_checksum_is_refused() {
        let mut doc = Automerge::new();
        apply_change(&mut doc, verify_change(&sample_change()).unwrap()).unwrap();
        let mut saved = doc.save();
        let last = saved.len() - 1;
        saved[last] ^= 0x01;
        assert!(matches!(verify_document_checksum(&saved), Err(IntakeError::BadChecksum { .. })));
        assert!(verify_change(&saved).is_err(), "a document is not a change");
    }

    /// A new customer as @automerge/automerge writes it by default: strings as text objects,
    /// whole numbers as ints, optional fields left out.
    fn javascript_customer(
        company_name: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Change {
        use automerge::ObjType;
        let text = |tx: &mut automerge::transaction::Transaction<'_>,
                    obj: &automerge::ObjId,
                    key: &str,
                    value: &str| {
            let t = tx.put_object(obj, key, ObjType::Text).unwrap();
            tx.splice_text(&t, 0, 0, value).unwrap();
        };
        let mut doc = Automerge::new().with_actor(ActorId::from([7u8; 16]));
        let mut tx = doc.transaction();
        text(&mut tx, &ROOT, "kind", "customer");
        tx.put(ROOT, "schema", 1).unwrap();
        tx.put(ROOT, "id", crate::DocId::generate().as_bytes().to_vec()).unwrap();
        company_name(&mut tx);
        let phones = tx.put_object(ROOT, "phones", ObjType::List).unwrap();
        let phone = tx.insert_object(&phones, 0, ObjType::Text).unwrap();
        tx.splice_text(&phone, 0, 0, "0512-6888 8888").unwrap();
        tx.put_object(ROOT, "contacts", ObjType::List).unwrap();
        tx.put_object(ROOT, "tags", ObjType::List).unwrap();
        let location = tx.put_object(ROOT, "location", ObjType::Map).unwrap();
        tx.put(&location, "lat", 31).unwrap();
        tx.put(&location, "lon", 120.625).unwrap();
        text(&mut tx, &location, "datum", "Gcj02");
        text(&mut tx, &location, "source", "Network");
        let provenance = tx.put_object(ROOT, "provenance", ObjType::Map).unwrap();
        tx.put(&provenance, "created_at", 1_795_654_800_000i64).unwrap();
        tx.put(&provenance, "created_by", vec![7u8; 16]).unwrap();
        tx.commit();
        doc.get_last_local_change().unwrap().clone()
    }

    #[test]
    fn a_record_written_with_javascripts_default_types_is_accepted() {
        let change = javascript_customer(|tx| {
            let t = tx.put_object(ROOT, "company_name", automerge::ObjType::Text).unwrap();
            tx.splice_text(&t, 0, 0, "苏州精工").unwrap();
        });
        let accepted = check_pushed(&Automerge::new(), change).expect("accepted");
        assert_eq!(accepted.facts.kind, crate::model::RecordKind::Customer);
        let read: crate::model::Customer = crate::model::read_record(&accepted.doc).unwrap();
        assert_eq!((read.company_name.as_str(), read.location.unwrap().lat), ("苏州精工", 31.0));
    }

    #[test]
    fn a_record_with_a_map_where_a_string_belongs_is_refused_naming_the_field() {
        let change = javascript_customer(|tx| {
            let name = tx.put_object(ROOT, "company_name", automerge::ObjType::Map).unwrap();
            tx.put(&name, "zh", "苏州精工").unwrap();
        });
        let refusal = check_pushed(&Automerge::new(), change).unwrap_err();
        assert_eq!(refusal.code, RejectCode::InvalidDocument);
        assert!(refusal.message.contains("field company_name"), "{}", refusal.message);
    }

    #[test]
    fn truncated_and_trailing_bytes_are_refused() {
        let bytes = sample_change();
        assert!(verify_change(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(verify_change(&longer).is_err());
        assert!(verify_change(&[]).is_err());
        assert!(verify_change(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0xff]).is_err());
    }
}
