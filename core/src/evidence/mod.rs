//! Evidence that a visit happened: photos taken on site and service slips the customer signed.
//!
//! [`photo`] turns a camera JPEG into what a visit record keeps: the facts its EXIF block claims
//! ([`exif`]), an upright upload copy and a thumbnail with no metadata, and the SHA-256 of each, so
//! the blobs can be stored and synced content-addressed. [`signature`] checks, encodes and renders
//! the strokes of a customer's signature; [`slip`] signs and verifies a slip's content. Nothing
//! here does I/O; the store ([`crate::store`]) writes the blobs and records.

pub mod exif;
pub mod photo;
pub mod signature;
pub mod slip;

pub use exif::{ExifFacts, ExifTimestamp, read_exif};
pub use photo::{
    EncodedJpeg, IngestTimings, JpegHeader, PhotoError, PhotoEvidence, PhotoFlag, PhotoInspection,
    PhotoLimits, ingest_photo, ingest_photo_timed, inspect_photo, read_header,
};
pub use signature::{SignatureError, SignatureStrokes, StrokePoint};
pub use slip::{SlipInvalid, SlipSeal, seal_slip, verify_slip};
