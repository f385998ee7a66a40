//! Capturing evidence through the FFI: visits, check-in with a location fix, photos, and service
//! slips the customer signs. Thin copies of `fieldsync_core::store`'s capture calls.

use fieldsync_core::DocId;
use fieldsync_core::evidence::signature::{SignatureStrokes, StrokePoint};
use fieldsync_core::evidence::slip::verify_slip;
use fieldsync_core::geo::GeofenceOutcome;
use fieldsync_core::model::{
    Datum, EvidenceFlag, FixSource, Location, NewServiceSlip, NewVisit, PhotoRef, ServiceSlip, SlipItem,
    Visit,
};
use fieldsync_core::store::{CaptureContext, SlipSignature};

use crate::FfiError;
use crate::error::guard;
use crate::store::FieldStore;

/// A location fix as the phone's location service reports it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiFix {
    /// Latitude, degrees, in `datum`.
    pub lat: f64,
    /// Longitude, degrees, in `datum`.
    pub lon: f64,
    /// `wgs84` (GPS), `gcj02` (Amap, Tencent), or `bd09` (Baidu).
    pub datum: String,
    /// `gps`, `network`, `exif` or `manual`.
    pub source: String,
    /// Horizontal accuracy, metres.
    pub accuracy_m: Option<f64>,
    /// When the fix was taken, Unix ms; `None` means now.
    pub at: Option<i64>,
    /// The OS flagged it as coming from a mock-location provider.
    pub mock: bool,
}

/// Something a check found doubtful; stored with the record.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiFlag {
    /// Stable code (`off_site`, `mock_location`, `no_gps`, …; see docs/evidence.md).
    pub code: String,
    /// The same in words.
    pub detail: String,
}

/// A visit as stored.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiVisit {
    /// Document id.
    pub id: String,
    /// The customer visited.
    pub customer_id: String,
    /// When it is planned, Unix ms.
    pub planned_at: i64,
    /// When the rep checked in.
    pub started_at: Option<i64>,
    /// Whether the check-in was on site; `None` before check-in or without a site location.
    pub on_site: Option<bool>,
    /// Fixes taken.
    pub fix_count: u32,
    /// Photos attached.
    pub photos: Vec<FfiPhoto>,
    /// What the checks found at check-in.
    pub flags: Vec<FfiFlag>,
    /// Notes.
    pub notes: String,
}

/// A photo attached to a visit.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiPhoto {
    /// SHA-256 of the upload copy (its blob name).
    pub sha256: String,
    /// SHA-256 of the thumbnail.
    pub thumbnail_sha256: Option<String>,
    /// SHA-256 of the camera's original file, recorded as evidence (the file itself is not kept).
    pub original_sha256: Option<String>,
    /// Whether the photo's fix was on site.
    pub on_site: Option<bool>,
    /// What the checks found.
    pub flags: Vec<FfiFlag>,
}

/// The result of a check-in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiCheckIn {
    /// The visit as stored.
    pub visit: FfiVisit,
    /// Distance to the customer's site, metres, when the site is known.
    pub distance_m: Option<f64>,
    /// `accept` or `accept_flagged` (a refused check-in is an `OffSite` error).
    pub outcome: String,
}

/// One pen sample from the signature pad.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiStrokePoint {
    /// Horizontal position on the pad.
    pub x: f32,
    /// Vertical position on the pad.
    pub y: f32,
    /// Milliseconds since the first point.
    pub t_ms: u32,
    /// Pressure in [0, 1] (0.5 when the pad has none).
    pub pressure: f32,
}

/// One line of a slip.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiSlipItem {
    /// What was delivered or serviced.
    pub description: String,
    /// How many.
    pub quantity: f64,
    /// Unit.
    pub unit: String,
}

/// A service slip as stored.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiSlip {
    /// Document id.
    pub id: String,
    /// The visit.
    pub visit_id: String,
    /// Lines.
    pub items: Vec<FfiSlipItem>,
    /// Notes.
    pub notes: String,
    /// Who signed, once signed.
    pub signer_name: Option<String>,
    /// When it was signed, Unix ms; a signed slip can no longer change.
    pub signed_at: Option<i64>,
    /// SHA-256 of the rendered signature PNG (its blob name).
    pub signature_png_sha256: Option<String>,
    /// SHA-256 of the signature strokes in their canonical encoding (also a blob).
    pub strokes_sha256: Option<String>,
    /// `None` when the signature verifies (or the slip is unsigned); otherwise why not.
    pub verification_problem: Option<String>,
}

pub(crate) fn invalid(message: impl Into<String>) -> FfiError {
    FfiError::InvalidInput { message: message.into() }
}

pub(crate) fn location(fix: FfiFix) -> Result<Location, FfiError> {
    let datum = match fix.datum.as_str() {
        "wgs84" => Datum::Wgs84,
        "gcj02" => Datum::Gcj02,
        "bd09" => Datum::Bd09,
        other => return Err(invalid(format!("datum {other:?} is not wgs84, gcj02 or bd09"))),
    };
    let source = match fix.source.as_str() {
        "gps" => FixSource::Gps,
        "network" => FixSource::Network,
        "exif" => FixSource::Exif,
        "manual" => FixSource::Manual,
        other => return Err(invalid(format!("source {other:?} is not gps, network, exif or manual"))),
    };
    Ok(Location {
        lat: fix.lat,
        lon: fix.lon,
        datum,
        source,
        accuracy_m: fix.accuracy_m,
        at: fix.at,
        mock: fix.mock,
    })
}

pub(crate) fn id(text: &str) -> Result<DocId, FfiError> {
    Ok(text.parse()?)
}

fn flags(flags: Vec<EvidenceFlag>) -> Vec<FfiFlag> {
    flags.into_iter().map(|f| FfiFlag { code: f.code, detail: f.detail }).collect()
}

fn outcome(outcome: GeofenceOutcome) -> String {
    match outcome {
        GeofenceOutcome::Accept => "accept",
        GeofenceOutcome::AcceptFlagged => "accept_flagged",
        GeofenceOutcome::Reject => "reject",
    }
    .into()
}

impl From<PhotoRef> for FfiPhoto {
    fn from(p: PhotoRef) -> Self {
        FfiPhoto {
            sha256: p.sha256,
            thumbnail_sha256: p.thumbnail_sha256,
            original_sha256: p.original_sha256,
            on_site: p.on_site,
            flags: flags(p.flags),
        }
    }
}

impl From<Visit> for FfiVisit {
    fn from(v: Visit) -> Self {
        FfiVisit {
            id: v.id.to_string(),
            customer_id: v.customer_id.to_string(),
            planned_at: v.planned_at,
            started_at: v.started_at,
            on_site: v.on_site,
            fix_count: v.fixes.len() as u32,
            photos: v.photos.into_iter().map(Into::into).collect(),
            flags: flags(v.flags),
            notes: v.notes,
        }
    }
}

impl From<ServiceSlip> for FfiSlip {
    fn from(s: ServiceSlip) -> Self {
        let verification_problem =
            if s.signed_at.is_some() { verify_slip(&s).err().map(|e| e.to_string()) } else { None };
        FfiSlip {
            id: s.id.to_string(),
            visit_id: s.visit_id.to_string(),
            items: s
                .items
                .into_iter()
                .map(|i| FfiSlipItem { description: i.description, quantity: i.quantity, unit: i.unit })
                .collect(),
            notes: s.notes,
            signer_name: s.signer_name,
            signed_at: s.signed_at,
            signature_png_sha256: s.signature_png_sha256,
            strokes_sha256: s.strokes_sha256,
            verification_problem,
        }
    }
}

fn context(utc_offset_minutes: i32) -> CaptureContext {
    CaptureContext { utc_offset_minutes, elapsed_since_sync_ms: None }
}

#[uniffi::export]
impl FieldStore {
    /// Plans (or logs) a visit to a customer.
    pub fn create_visit(
        &self,
        customer_id: String,
        planned_at: i64,
        notes: String,
    ) -> Result<FfiVisit, FfiError> {
        guard(|| {
            let visit = self.core().create(NewVisit {
                customer_id: id(&customer_id)?,
                opportunity_id: None,
                planned_at,
                notes,
            })?;
            Ok(visit.into())
        })
    }

    /// Reads a visit.
    pub fn visit(&self, visit_id: String) -> Result<FfiVisit, FfiError> {
        guard(|| Ok(self.core().get::<Visit>(id(&visit_id)?)?.into()))
    }

    /// Today's visits for a phone at UTC + `utc_offset_minutes`, by time.
    pub fn todays_visits(&self, utc_offset_minutes: i32) -> Result<Vec<String>, FfiError> {
        guard(|| {
            Ok(self.core().todays_visits(utc_offset_minutes)?.into_iter().map(|v| v.id.to_string()).collect())
        })
    }

    /// Checks in with a fix: the team's geofence and the plausibility checks run; a hard geofence
    /// refuses an off-site check-in with an `OffSite` error giving the distances.
    pub fn check_in(
        &self,
        visit_id: String,
        fix: FfiFix,
        utc_offset_minutes: i32,
    ) -> Result<FfiCheckIn, FfiError> {
        guard(|| {
            let result = self.core().check_in(id(&visit_id)?, location(fix)?, context(utc_offset_minutes))?;
            Ok(FfiCheckIn {
                visit: result.visit.into(),
                distance_m: result.on_site.map(|o| o.distance_m),
                outcome: outcome(result.outcome),
            })
        })
    }

    /// Checks in with the current fix from the location service given to `open_with`.
    /// `InvalidInput` when the store has no location service or the phone has no fix.
    pub fn check_in_here(&self, visit_id: String, utc_offset_minutes: i32) -> Result<FfiCheckIn, FfiError> {
        let service = self.location_service().ok_or_else(|| {
            invalid("no location service was given to FieldStore.open_with; pass the fix to check_in")
        })?;
        self.check_in(visit_id, service.current_fix()?, utc_offset_minutes)
    }

    /// Attaches a camera JPEG to a visit (upright copy and thumbnail stored and queued for
    /// upload). Non-JPEG bytes and decompression bombs are `InvalidInput` errors.
    pub fn attach_photo(
        &self,
        visit_id: String,
        jpeg: Vec<u8>,
        fix: Option<FfiFix>,
        utc_offset_minutes: i32,
    ) -> Result<FfiPhoto, FfiError> {
        guard(|| {
            let fix = fix.map(location).transpose()?;
            let capture =
                self.core().attach_photo(id(&visit_id)?, &jpeg, fix, context(utc_offset_minutes))?;
            Ok(capture.photo.into())
        })
    }

    /// Opens a service slip for a visit.
    pub fn create_slip(
        &self,
        visit_id: String,
        items: Vec<FfiSlipItem>,
        notes: String,
    ) -> Result<FfiSlip, FfiError> {
        guard(|| {
            let slip = self.core().create(NewServiceSlip {
                visit_id: id(&visit_id)?,
                items: items
                    .into_iter()
                    .map(|i| SlipItem { description: i.description, quantity: i.quantity, unit: i.unit })
                    .collect(),
                notes,
            })?;
            Ok(slip.into())
        })
    }

    /// The customer signs: strokes from the pad (`pad_width` × `pad_height`), the signer's
    /// name and the phone's fix. The slip is sealed; later edits are `Sealed` errors.
    pub fn sign_slip(
        &self,
        slip_id: String,
        signer_name: String,
        pad_width: f32,
        pad_height: f32,
        strokes: Vec<Vec<FfiStrokePoint>>,
        fix: Option<FfiFix>,
    ) -> Result<FfiSlip, FfiError> {
        guard(|| {
            let strokes = SignatureStrokes {
                pad_width,
                pad_height,
                strokes: strokes
                    .into_iter()
                    .map(|s| {
                        s.into_iter()
                            .map(|p| StrokePoint { x: p.x, y: p.y, t_ms: p.t_ms, pressure: p.pressure })
                            .collect()
                    })
                    .collect(),
            };
            let fix = fix.map(location).transpose()?;
            let slip = self.core().sign_slip(id(&slip_id)?, SlipSignature { signer_name, strokes, fix })?;
            Ok(slip.into())
        })
    }

    /// Reads a slip, with the result of verifying its signature.
    pub fn slip(&self, slip_id: String) -> Result<FfiSlip, FfiError> {
        guard(|| Ok(self.core().get::<ServiceSlip>(id(&slip_id)?)?.into()))
    }

    /// The bytes of a stored blob (photo copy, thumbnail, signature PNG).
    pub fn blob(&self, sha256: String) -> Result<Vec<u8>, FfiError> {
        guard(|| {
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!("{sha256:?} is not a SHA-256 in hex")));
            }
            Ok(self.core().read_blob(&sha256)?)
        })
    }
}
