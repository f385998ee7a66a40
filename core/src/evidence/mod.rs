//! Evidence that a visit happened: photos taken on site (and, later, signed service slips).
//!
//! [`photo`] turns a camera JPEG into what a visit record keeps: the facts its EXIF block claims
//! ([`exif`]), an upright upload copy and a thumbnail with no metadata, and the SHA-256 of each, so
//! the blobs can be stored and synced content-addressed. Nothing here does I/O; the caller reads
//! the file and writes the blobs.

pub mod exif;
pub mod photo;

pub use exif::{ExifFacts, ExifTimestamp, read_exif};
pub use photo::{
    EncodedJpeg, IngestTimings, JpegHeader, PhotoError, PhotoEvidence, PhotoFlag, PhotoInspection,
    PhotoLimits, ingest_photo, ingest_photo_timed, inspect_photo, read_header,
};
