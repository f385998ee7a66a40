//! The sync wire format, version 1 (docs/protocol.md is the prose description; the snapshot
//! tests at the bottom pin the bytes so an accidental change fails loudly).
//!
//! A message is a 4-byte header — magic `0xF5`, version, message type, flags — and a payload.
//! When flag bit 0 is set the payload is raw DEFLATE with [`DICTIONARY`] as preset dictionary:
//! Automerge changes spell out every key name, and a dictionary of the schema's key names lets a
//! new visit cross the network in a few hundred bytes without making documents unreadable.
//! Integers are unsigned LEB128 varints; byte strings are a varint length and the bytes.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::ids::DocId;

/// The wire format version this build speaks.
pub const WIRE_VERSION: u8 = 1;
/// The HTTP content type of sync messages.
pub const CONTENT_TYPE: &str = "application/x-fieldsync";
const MAGIC: u8 = 0xF5;
const FLAG_DEFLATE: u8 = 0b0000_0001;
/// A decoded payload may be at most this large, whatever its compressed size.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;
/// A sync request carries at most this many changes. Checked before anything is allocated per
/// change: the relay's work (and memory) per request grows with the count, not only the bytes,
/// and a body of tiny changes would otherwise cost far more than its size. Phones stay below it
/// ([`crate::store::PushLimits`]).
pub const MAX_CHANGES_PER_REQUEST: u32 = 10_000;
/// The fewest bytes a pushed change takes in a request: a 16-byte document id, a one-byte
/// length and at least one byte of change (an empty change is malformed).
const MIN_PUSHED_CHANGE_BYTES: usize = 18;

/// The preset DEFLATE dictionary of wire version 1: the key names and enum values that appear in
/// fieldsync documents. Part of the protocol: changing it needs a new wire version.
pub const DICTIONARY: &[u8] = b"Wgs84Gcj02Bd09GpsNetworkExifManualSoftHardFirstContactNeedsConfirmed\
ProposalSubmittedNegotiationContractSigningWonLostcustomerlead_cardopportunityvisitservice_slip\
team_rulesgeofence_radius_mgeofence_modestage_rulesno_activity_daysmax_stage_days\
required_customer_fieldscompany_namecontactsphonesaddresslocationtagscredit_codemerged_into\
raw_payloadformatnamecompanytitleemailsurlsource_eventcustomer_idownerstagestage_entered_at\
stage_historyfromtoatbynoteamountminor_unitscurrencyexpected_close_atnext_action_due_at\
visit_iditemsdescriptionquantityunitsigner_namesignature_png_sha256content_sha256\
device_signaturesigned_atopportunity_idplanned_atstarted_atended_atfixesphotossha256\
thumbnail_sha256taken_atnotesnext_steplatlondatumsourceaccuracy_mmockprovenancecreated_at\
created_byschemakindid";

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body ended before the message did.
    #[error("sync message truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Where reading stopped.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// The body does not start with the fieldsync magic byte.
    #[error("not a fieldsync sync message (first byte {0:#04x}, expected 0xf5)")]
    BadMagic(u8),
    /// The peer speaks another wire version.
    #[error("sync wire version {found} is not supported; this side speaks version {supported}")]
    UnsupportedVersion {
        /// The version in the message.
        found: u8,
        /// The version this build speaks.
        supported: u8,
    },
    /// A request where a response was expected, or an unknown type.
    #[error("expected a sync {expected} message, got message type {found}")]
    WrongMessageType {
        /// What was expected.
        expected: &'static str,
        /// The type byte found.
        found: u8,
    },
    /// Unknown flag bits.
    #[error("unknown flags {0:#010b} in sync message header")]
    UnknownFlags(u8),
    /// A varint longer than 10 bytes or overflowing 64 bits.
    #[error("malformed number at offset {0}")]
    BadVarint(usize),
    /// A value outside its allowed range.
    #[error("invalid {what} at offset {offset}: {problem}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// Where.
        offset: usize,
        /// What is wrong.
        problem: String,
    },
    /// Bytes left over after the message.
    #[error("{0} unexpected bytes after the end of the sync message")]
    TrailingBytes(usize),
    /// The compressed payload is corrupt (cut short, not DEFLATE, trailing garbage).
    #[error("compressed payload is corrupt (expansion limit {limit} bytes)")]
    BadCompression {
        /// The expansion limit in force.
        limit: usize,
    },
    /// The compressed payload expands beyond the limit the reader set.
    #[error("the payload is larger than {limit} bytes when expanded")]
    PayloadTooLarge {
        /// The expansion limit.
        limit: usize,
    },
    /// A request declares more changes than [`MAX_CHANGES_PER_REQUEST`].
    #[error("the sync request carries {count} changes; at most {limit} fit in one request")]
    TooManyChanges {
        /// The declared count.
        count: u64,
        /// The limit.
        limit: u32,
    },
}

/// One local change pushed to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedChange {
    /// The document it changes.
    pub doc_id: DocId,
    /// The raw Automerge change.
    pub bytes: Vec<u8>,
}

/// One document or change sent by the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentBytes {
    /// The document.
    pub doc_id: DocId,
    /// Automerge bytes: a saved document (snapshot) or one raw change.
    pub bytes: Vec<u8>,
}

/// Why the relay refused a pushed change. The device keeps retryable ones in its outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// The bytes are not an Automerge change.
    MalformedChange,
    /// The change's actor is not the pushing device.
    ForeignActor,
    /// The document belongs to another team or tenant.
    OutOfScope,
    /// The change depends on changes the relay does not have yet (retryable).
    MissingDependencies,
    /// Applying the change would make the document invalid (wrong kind, unreadable fields).
    InvalidDocument,
    /// The document is sealed (a signed slip) and cannot change.
    Sealed,
    /// The change is larger than the relay accepts.
    TooLarge,
    /// A code from a newer relay.
    Other(u16),
}

impl RejectCode {
    fn to_wire(self) -> u16 {
        match self {
            RejectCode::MalformedChange => 1,
            RejectCode::ForeignActor => 2,
            RejectCode::OutOfScope => 3,
            RejectCode::MissingDependencies => 4,
            RejectCode::InvalidDocument => 5,
            RejectCode::Sealed => 6,
            RejectCode::TooLarge => 7,
            RejectCode::Other(code) => code,
        }
    }

    fn from_wire(code: u16) -> Self {
        match code {
            1 => RejectCode::MalformedChange,
            2 => RejectCode::ForeignActor,
            3 => RejectCode::OutOfScope,
            4 => RejectCode::MissingDependencies,
            5 => RejectCode::InvalidDocument,
            6 => RejectCode::Sealed,
            7 => RejectCode::TooLarge,
            other => RejectCode::Other(other),
        }
    }

    /// Whether pushing the same change again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, RejectCode::MissingDependencies)
    }

    /// A stable machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::MalformedChange => "malformed_change",
            RejectCode::ForeignActor => "foreign_actor",
            RejectCode::OutOfScope => "out_of_scope",
            RejectCode::MissingDependencies => "missing_dependencies",
            RejectCode::InvalidDocument => "invalid_document",
            RejectCode::Sealed => "sealed",
            RejectCode::TooLarge => "too_large",
            RejectCode::Other(_) => "other",
        }
    }
}

/// A refused change: its index in the request, why, and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the change in [`SyncRequest::changes`].
    pub index: u32,
    /// Why.
    pub code: RejectCode,
    /// Details for logs and the UI.
    pub message: String,
}

/// `POST /v1/sync` body: the device's unacknowledged changes and where it is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncRequest {
    /// The cursor from the last response; empty for a device that never synced.
    pub cursor: Vec<u8>,
    /// The largest response the device wants (the relay also has its own limit).
    pub max_response_bytes: u32,
    /// Local changes, oldest first.
    pub changes: Vec<PushedChange>,
}

/// The relay's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncResponse {
    /// The relay's clock, Unix ms (for clock-jump checks on the phone).
    pub server_time_ms: u64,
    /// How many pushed changes were stored (including ones the relay already had).
    pub accepted: u32,
    /// Pushed changes that were refused.
    pub rejected: Vec<Rejection>,
    /// Whole documents (compacted), sent to a device that starts from nothing.
    pub snapshots: Vec<DocumentBytes>,
    /// Changes made by others since the device's cursor, in log order.
    pub changes: Vec<DocumentBytes>,
    /// The cursor to send next time; store it with what this response applied.
    pub cursor: Vec<u8>,
    /// More pages wait: sync again right away.
    pub more: bool,
}

const TYPE_REQUEST: u8 = 1;
const TYPE_RESPONSE: u8 = 2;

impl SyncRequest {
    /// Encodes the request (compressed).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(&self.cursor);
        w.varint(u64::from(self.max_response_bytes));
        w.varint(self.changes.len() as u64);
        for change in &self.changes {
            w.raw(change.doc_id.as_bytes());
            w.bytes(&change.bytes);
        }
        frame(TYPE_REQUEST, &w.0)
    }

    /// Decodes a request, refusing anything malformed.
    pub fn decode(message: &[u8]) -> Result<Self, WireError> {
        Self::decode_with_limit(message, MAX_PAYLOAD_BYTES)
    }

    /// Decodes a request whose payload may expand to at most `max_payload_bytes` (capped at
    /// [`MAX_PAYLOAD_BYTES`]): the relay bounds what a small compressed body may cost it.
    pub fn decode_with_limit(message: &[u8], max_payload_bytes: usize) -> Result<Self, WireError> {
        let payload = unframe(message, TYPE_REQUEST, "request", max_payload_bytes.min(MAX_PAYLOAD_BYTES))?;
        let mut r = Reader::new(&payload);
        let cursor = r.bytes()?.to_vec();
        let max_response_bytes = r.u32("max_response_bytes")?;
        let offset = r.offset;
        let count = r.varint()?;
        if count > u64::from(MAX_CHANGES_PER_REQUEST) {
            return Err(WireError::TooManyChanges { count, limit: MAX_CHANGES_PER_REQUEST });
        }
        r.offset = offset;
        let count = r.count("change count", MIN_PUSHED_CHANGE_BYTES)?;
        let mut changes = Vec::with_capacity(count);
        for _ in 0..count {
            let doc_id = r.doc_id()?;
            let offset = r.offset;
            let bytes = r.bytes()?;
            if bytes.is_empty() {
                return Err(WireError::Invalid { what: "change", offset, problem: "empty change".into() });
            }
            changes.push(PushedChange { doc_id, bytes: bytes.to_vec() });
        }
        r.finish()?;
        Ok(SyncRequest { cursor, max_response_bytes, changes })
    }
}

impl SyncResponse {
    /// Encodes the response (compressed).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.varint(self.server_time_ms);
        w.varint(u64::from(self.accepted));
        w.varint(self.rejected.len() as u64);
        for rejection in &self.rejected {
            w.varint(u64::from(rejection.index));
            w.varint(u64::from(rejection.code.to_wire()));
            w.bytes(rejection.message.as_bytes());
        }
        for list in [&self.snapshots, &self.changes] {
            w.varint(list.len() as u64);
            for item in list {
                w.raw(item.doc_id.as_bytes());
                w.bytes(&item.bytes);
            }
        }
        w.bytes(&self.cursor);
        w.raw(&[u8::from(self.more)]);
        frame(TYPE_RESPONSE, &w.0)
    }

    /// Decodes a response, refusing anything malformed.
    pub fn decode(message: &[u8]) -> Result<Self, WireError> {
        let payload = unframe(message, TYPE_RESPONSE, "response", MAX_PAYLOAD_BYTES)?;
        let mut r = Reader::new(&payload);
        let server_time_ms = r.varint()?;
        let accepted = r.u32("accepted")?;
        let rejected_count = r.count("rejection count", 3)?;
        let mut rejected = Vec::with_capacity(rejected_count);
        for _ in 0..rejected_count {
            let index = r.u32("rejection index")?;
            let offset = r.offset;
            let code = u16::try_from(r.varint()?).map_err(|_| WireError::Invalid {
                what: "rejection code",
                offset,
                problem: "larger than 65535".into(),
            })?;
            let offset = r.offset;
            let message = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| WireError::Invalid {
                what: "rejection message",
                offset,
                problem: "not UTF-8".into(),
            })?;
            rejected.push(Rejection { index, code: RejectCode::from_wire(code), message });
        }
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let count = r.count("document count", 17)?;
            list.reserve(count);
            for _ in 0..count {
                let doc_id = r.doc_id()?;
                let bytes = r.bytes()?.to_vec();
                list.push(DocumentBytes { doc_id, bytes });
            }
        }
        let cursor = r.bytes()?.to_vec();
        let offset = r.offset;
        let more = match r.take(1)? {
            [0] => false,
            [1] => true,
            _ => return Err(WireError::Invalid { what: "more flag", offset, problem: "not 0 or 1".into() }),
        };
        r.finish()?;
        let [snapshots, changes] = lists;
        Ok(SyncResponse { server_time_ms, accepted, rejected, snapshots, changes, cursor, more })
    }
}

fn frame(message_type: u8, payload: &[u8]) -> Vec<u8> {
    let compressed = deflate(payload);
    // Compression pays for itself on anything but tiny payloads; keep whichever is smaller.
    let (flags, body) = match compressed {
        Some(c) if c.len() < payload.len() => (FLAG_DEFLATE, c),
        _ => (0, payload.to_vec()),
    };
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&[MAGIC, WIRE_VERSION, message_type, flags]);
    out.extend_from_slice(&body);
    out
}

/// The payload of a message: borrowed when it was sent uncompressed (no copy of a large body),
/// expanded to at most `max_payload` bytes otherwise.
fn unframe<'a>(
    message: &'a [u8],
    expected_type: u8,
    expected: &'static str,
    max_payload: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, WireError> {
    let Some((header, body)) = message.split_first_chunk::<4>() else {
        return Err(WireError::Truncated { offset: 0, needed: 4 - message.len() });
    };
    let [magic, version, message_type, flags] = *header;
    if magic != MAGIC {
        return Err(WireError::BadMagic(magic));
    }
    if version != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion { found: version, supported: WIRE_VERSION });
    }
    if message_type != expected_type {
        return Err(WireError::WrongMessageType { expected, found: message_type });
    }
    match flags {
        0 => Ok(std::borrow::Cow::Borrowed(body)),
        FLAG_DEFLATE => inflate(body, max_payload).map(std::borrow::Cow::Owned),
        other => Err(WireError::UnknownFlags(other)),
    }
}

/// Payloads above this size are compressed at the fastest level: they are pages of other
/// devices' changes where CPU on both ends matters more than the last few percent of bytes;
/// small pushes keep the default level, where every byte on a phone's network counts.
const FAST_COMPRESSION_ABOVE: usize = 8 * 1024;

fn deflate(payload: &[u8]) -> Option<Vec<u8>> {
    let level =
        if payload.len() > FAST_COMPRESSION_ABOVE { Compression::fast() } else { Compression::default() };
    let mut compress = Compress::new(level, false);
    compress.set_dictionary(DICTIONARY).ok()?;
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    loop {
        let consumed = compress.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        match compress.compress_vec(&payload[consumed..], &mut out, FlushCompress::Finish).ok()? {
            Status::StreamEnd => return Some(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

fn inflate(body: &[u8], limit: usize) -> Result<Vec<u8>, WireError> {
    let bad = || WireError::BadCompression { limit };
    let too_large = || WireError::PayloadTooLarge { limit };
    let mut decompress = Decompress::new(false);
    // Raw DEFLATE has no header to ask for the dictionary: it is set before the first byte.
    decompress.set_dictionary(DICTIONARY).map_err(|_| bad())?;
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() == out.capacity() {
            // Grow by hand (reserve_exact) so one call can never expand past the limit + 1.
            let grow = out.capacity().max(4096).min(limit + 1 - out.len());
            if grow == 0 {
                return Err(too_large());
            }
            out.reserve_exact(grow);
        }
        let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
        let input = body.get(before_in as usize..).ok_or_else(bad)?;
        let status =
            decompress.decompress_vec(input, &mut out, FlushDecompress::Finish).map_err(|_| bad())?;
        if out.len() > limit {
            return Err(too_large());
        }
        let stalled = decompress.total_in() == before_in && decompress.total_out() == before_out;
        match status {
            Status::StreamEnd => break,
            // No progress with input and room left: the stream is cut short.
            _ if stalled && out.len() < out.capacity() => return Err(bad()),
            _ => {}
        }
    }
    let left = body.len() - decompress.total_in() as usize;
    if left != 0 {
        return Err(WireError::TrailingBytes(left));
    }
    Ok(out)
}

/// Appends `value` as an unsigned LEB128 varint (the integer encoding of this format; the
/// relay's cursor uses it too).
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Why [`take_varint`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended inside the number.
    Truncated,
    /// Longer than 10 bytes, or overflowing 64 bits.
    Malformed,
}

/// Reads an unsigned LEB128 varint from the front of `input`; returns it and the rest.
pub fn take_varint(input: &[u8]) -> Result<(u64, &[u8]), VarintError> {
    let mut value: u64 = 0;
    for (index, &byte) in input.iter().enumerate().take(10) {
        let shift = 7 * index as u32;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(VarintError::Malformed);
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok((value, &input[index + 1..]));
        }
    }
    if input.len() >= 10 { Err(VarintError::Malformed) } else { Err(VarintError::Truncated) }
}

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, value: u64) {
        put_varint(&mut self.0, value);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

struct Reader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Reader { input, offset: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let remaining = self.input.len() - self.offset;
        if n > remaining {
            return Err(WireError::Truncated { offset: self.offset, needed: n - remaining });
        }
        let slice = &self.input[self.offset..self.offset + n];
        self.offset += n;
        Ok(slice)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.offset;
        match take_varint(&self.input[start..]) {
            Ok((value, rest)) => {
                self.offset = self.input.len() - rest.len();
                Ok(value)
            }
            Err(VarintError::Truncated) => Err(WireError::Truncated { offset: self.input.len(), needed: 1 }),
            Err(VarintError::Malformed) => Err(WireError::BadVarint(start)),
        }
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let offset = self.offset;
        u32::try_from(self.varint()?).map_err(|_| WireError::Invalid {
            what,
            offset,
            problem: "larger than 4294967295".into(),
        })
    }

    /// A count of items each at least `min_item_bytes` long: bounded by what is left, so a
    /// hostile count cannot make us allocate.
    fn count(&mut self, what: &'static str, min_item_bytes: usize) -> Result<usize, WireError> {
        let offset = self.offset;
        let count = self.varint()?;
        let remaining = (self.input.len() - self.offset) as u64;
        if count.saturating_mul(min_item_bytes as u64) > remaining {
            return Err(WireError::Invalid {
                what,
                offset,
                problem: format!("{count} items cannot fit in the {remaining} bytes left"),
            });
        }
        Ok(count as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let offset = self.offset;
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| WireError::Invalid {
            what: "length",
            offset,
            problem: "too large".into(),
        })?;
        self.take(len)
    }

    fn doc_id(&mut self) -> Result<DocId, WireError> {
        let offset = self.offset;
        let bytes: [u8; 16] = self.take(16)?.try_into().map_err(|_| WireError::Invalid {
            what: "document id",
            offset,
            problem: "not 16 bytes".into(),
        })?;
        Ok(DocId::from_bytes(bytes))
    }

    fn finish(&self) -> Result<(), WireError> {
        match self.input.len() - self.offset {
            0 => Ok(()),
            left => Err(WireError::TrailingBytes(left)),
        }
    }
}

#[cfg(test)]
mod tests;
