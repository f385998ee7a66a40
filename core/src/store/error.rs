//! The store's errors: what went wrong, in words a developer can act on.

use std::path::PathBuf;

use crate::ids::DocId;
use crate::model::{RecordKind, ValidationError};

/// Everything that can go wrong opening, reading or writing a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database at all.
    #[error("{} is not a fieldsync store (not an SQLite database); choose another path or move the file away", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database that some other program made.
    #[error("{} is an SQLite database of another application (application id {application_id:#010x}); fieldsync will not touch it", path.display())]
    NotAFieldsyncStore {
        /// The file.
        path: PathBuf,
        /// The application id found in the header.
        application_id: i32,
    },
    /// The store was written by a newer build; opening it here could lose data.
    #[error("{} has schema version {found} but this build of fieldsync reads versions up to {supported}; update the app", path.display())]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// Another process or handle has the store open for writing.
    #[error("{} is already open by another process or Store handle; close that one first (one writer per store)", path.display())]
    AlreadyOpen {
        /// The file.
        path: PathBuf,
    },
    /// The store was closed; open it again to continue.
    #[error("the store is closed; open it again")]
    Closed,
    /// No record has this id.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The kind asked for.
        kind: RecordKind,
        /// The id.
        id: DocId,
    },
    /// The id belongs to a record of another kind.
    #[error("{id} is a {actual}, not a {expected}")]
    WrongKind {
        /// The id.
        id: DocId,
        /// The kind asked for.
        expected: RecordKind,
        /// The kind stored.
        actual: RecordKind,
    },
    /// A stored document could not be read; the rest of the store is unaffected.
    #[error("document {id} is corrupt and cannot be read: {reason}")]
    CorruptDocument {
        /// The document.
        id: DocId,
        /// What failed.
        reason: String,
    },
    /// The record breaks a rule of its kind.
    #[error("invalid record: {0}")]
    Invalid(#[from] ValidationError),
    /// The record is sealed (a signed service slip) and cannot change.
    #[error("{kind} {id} is signed and can no longer be changed")]
    Sealed {
        /// The kind.
        kind: RecordKind,
        /// The id.
        id: DocId,
    },
    /// The device identity stored in the file is damaged.
    #[error("the device identity in {} is damaged: {reason}", path.display())]
    CorruptIdentity {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file next to the database could not be used.
    #[error("cannot use {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A schema migration failed; the store is left at the previous version.
    #[error("upgrading {} to schema version {version} failed: {source}", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// The version being applied.
        version: u32,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// No document of any kind has this id.
    #[error("no document with id {id}")]
    NoSuchDocument {
        /// The id asked for.
        id: DocId,
    },
    /// A photo that cannot be used as evidence (not a JPEG, damaged, a decompression bomb).
    #[error("the photo cannot be used: {0}")]
    Photo(#[from] crate::evidence::PhotoError),
    /// Signature strokes that cannot be a signature.
    #[error("the signature cannot be used: {0}")]
    Signature(#[from] crate::evidence::SignatureError),
    /// A slip that could not be sealed (a covered field is missing or malformed).
    #[error("the slip cannot be signed: {0}")]
    Slip(#[from] crate::evidence::SlipInvalid),
    /// The team's geofence is hard and the fix is outside the customer's site; nothing was saved.
    #[error(
        "the phone is {effective_m:.0} m from the customer's site after allowing for the fix's accuracy \
         ({distance_m:.0} m without); the team requires captures within {radius_m:.0} m"
    )]
    OffSite {
        /// Distance between the fix and the site, metres.
        distance_m: f64,
        /// Distance minus the fix's accuracy, metres.
        effective_m: f64,
        /// The team's radius, metres.
        radius_m: f64,
    },
    /// The deal lacks the documents the team requires to enter the stage; nothing was saved.
    #[error(
        "{stage} ({label}) needs {names} attached first",
        label = stage.label_zh(),
        names = missing.iter().map(|k| format!("{} ({})", k, k.label_zh())).collect::<Vec<_>>().join(", ")
    )]
    MissingEvidence {
        /// The stage the move was refused into.
        stage: crate::model::Stage,
        /// The kinds of document still missing.
        missing: Vec<crate::model::EvidenceKind>,
    },
    /// A claim or release the phone already knows the relay would refuse; nothing was saved.
    #[error("{message}")]
    ClaimRefused {
        /// Why ([`crate::model::ClaimRefusal`]).
        code: crate::model::ClaimRefusal,
        /// What the rep reads.
        message: String,
    },
    /// Only the relay writes this record or field (ownership, alerts, a claim's decision).
    #[error("{kind} {field} is written by the relay only")]
    RelayOnly {
        /// The record kind.
        kind: RecordKind,
        /// The field (or `*` for the whole record).
        field: &'static str,
    },
    /// The store has not been enrolled with a relay: it does not know its user.
    #[error("this phone is not enrolled: it does not know its user yet")]
    NotEnrolled,
    /// The relay's response does not fit the request or the documents; nothing was applied.
    #[error("sync response refused: {0}")]
    Protocol(String),
    /// An error from SQLite that none of the above explains.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Automerge refused an operation on a record's document.
    #[error("document {id}: {reason}")]
    Document {
        /// The document.
        id: DocId,
        /// What failed.
        reason: String,
    },
}

/// Results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
