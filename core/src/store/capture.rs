//! Capturing evidence on site (DESIGN §4): checking in to a visit with a location fix, attaching
//! photos, and the customer signing a service slip.
//!
//! Each capture runs the same checks the relay and supervisors rely on, with the team's rules:
//! the on-site rule (distance − accuracy ≤ radius; soft mode flags, hard mode refuses) and the
//! plausibility checks (mock location, absurd accuracy, implied speed, photo EXIF position and
//! time, device clock against the relay's). Flags are stored in the record, as evidence; nothing
//! is thrown away because it looks doubtful, except what a hard geofence refuses.

use rusqlite::{Connection, OptionalExtension};

use super::documents;
use super::error::{Result, StoreError};
use super::projection::hydrate;
use super::{Store, blobs, device_clock};
use crate::clock::{UnixMillis, Uptime};
use crate::evidence::photo::{PhotoLimits, ingest_photo};
use crate::evidence::signature::SignatureStrokes;
use crate::evidence::slip::seal_slip;
use crate::geo::{
    ClockEvidence, ExifEvidence, GeoFix, GeofenceMode as GeoMode, GeofenceOutcome, LastSaveEvidence, OnSite,
    PlausibilityInput, PlausibilityRules, on_site, plausibility_flags,
};
use crate::ids::DocId;
use crate::model::{
    Customer, EvidenceFlag, FixSource, GeofenceMode, Location, NewTeamRules, PhotoRef, Record, RecordKind,
    ServiceSlip, TeamRules, ValidationError, Visit,
};

/// What the phone knows about its clock when it captures something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureContext {
    /// The phone's UTC offset in minutes, for EXIF times written without a zone.
    pub utc_offset_minutes: i32,
    /// Monotonic milliseconds since the last successful sync (Android `elapsedRealtime`
    /// difference), if the app kept them; `None` after a reboot. Lets the clock-jump check run.
    pub elapsed_since_sync_ms: Option<i64>,
}

/// The result of checking in to a visit.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    /// The visit as stored, with the fix appended.
    pub visit: Visit,
    /// The on-site rule's figures; `None` when the customer's site is not known.
    pub on_site: Option<OnSite>,
    /// What the geofence decided (never `Reject`: a refused check-in is an error).
    pub outcome: GeofenceOutcome,
    /// What the checks found, also stored in the visit.
    pub flags: Vec<EvidenceFlag>,
}

/// The result of attaching a photo to a visit.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoCapture {
    /// The visit as stored, with the photo appended.
    pub visit: Visit,
    /// The photo's evidence record as stored in the visit.
    pub photo: PhotoRef,
    /// What the geofence decided for the photo's fix.
    pub outcome: GeofenceOutcome,
}

/// What the customer gives when signing a slip.
#[derive(Debug, Clone, PartialEq)]
pub struct SlipSignature {
    /// The signer's name as they write it.
    pub signer_name: String,
    /// The strokes from the signature pad.
    pub strokes: SignatureStrokes,
    /// The device's fix at signing, if the phone has one.
    pub fix: Option<Location>,
}

/// The team's rules as the phone last synced them, or the defaults before any sync.
pub(crate) fn team_rules(conn: &Connection) -> Result<Option<TeamRules>> {
    let id: Option<DocId> = conn
        .prepare_cached(
            "SELECT doc_id FROM documents WHERE kind = 'team_rules' ORDER BY updated_at DESC, doc_id LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    let Some(stored) = documents::load(conn, id)? else { return Ok(None) };
    hydrate::<TeamRules>(&stored.doc, id).map(Some)
}

/// The geofence settings in force: the synced rules, or the defaults.
fn geofence(rules: Option<&TeamRules>) -> (f64, GeoMode) {
    let defaults = NewTeamRules::default();
    let (radius, mode) = rules
        .map(|r| (r.geofence_radius_m, r.geofence_mode))
        .unwrap_or((defaults.geofence_radius_m, defaults.geofence_mode));
    let mode = match mode {
        GeofenceMode::Soft => GeoMode::Soft,
        GeofenceMode::Hard => GeoMode::Hard,
    };
    (radius, mode)
}

fn invalid(kind: RecordKind, field: &'static str, problem: impl Into<String>) -> StoreError {
    StoreError::Invalid(ValidationError::new(kind, field, problem))
}

/// A device fix as the checks take it. Device fixes must carry their accuracy: every phone
/// location API reports one, and the on-site rule cannot be applied fairly without it.
fn device_fix(location: &Location, now: UnixMillis, field: &'static str) -> Result<GeoFix> {
    location.check().map_err(|p| invalid(RecordKind::Visit, field, p))?;
    let point =
        location.geo_point().ok_or_else(|| invalid(RecordKind::Visit, field, "is not on the globe"))?;
    let accuracy = location
        .accuracy_m
        .ok_or_else(|| invalid(RecordKind::Visit, field, "a device fix must carry its accuracy in metres"))?;
    GeoFix::new(point, accuracy, location.source, location.at.unwrap_or(now), location.mock)
        .map_err(|e| invalid(RecordKind::Visit, field, e.to_string()))
}

/// Fixes already in the visit, for the speed check; fixes without accuracy are left out.
fn track(visit: &Visit, now: UnixMillis) -> Vec<GeoFix> {
    visit.fixes.iter().filter_map(|f| device_fix(f, now, "fixes").ok()).collect()
}

/// What a capture is checked against besides its own fix: the device's clock readings and its
/// fixes at other visits, all from the store.
struct Surroundings {
    clock: Option<ClockEvidence>,
    last_save: Option<LastSaveEvidence>,
    recent: Vec<GeoFix>,
}

fn surroundings(
    conn: &Connection,
    visit_id: DocId,
    now: UnixMillis,
    uptime: Option<&Uptime>,
    context: &CaptureContext,
) -> Result<Surroundings> {
    Ok(Surroundings {
        clock: device_clock::relay_clock_evidence(conn, now, uptime, context.elapsed_since_sync_ms)?,
        last_save: device_clock::last_save_evidence(conn, now, uptime)?,
        recent: device_clock::recent_fixes(conn, visit_id, now)?,
    })
}

/// Runs the on-site rule for a fix against the visit's customer, refusing under a hard geofence.
fn apply_geofence(
    conn: &Connection,
    visit: &Visit,
    fix: &GeoFix,
    rules: Option<&TeamRules>,
    flags: &mut Vec<EvidenceFlag>,
) -> Result<(Option<OnSite>, GeofenceOutcome)> {
    let (radius_m, mode) = geofence(rules);
    let customer = documents::load(conn, visit.customer_id)?
        .filter(|stored| stored.kind == RecordKind::Customer)
        .map(|stored| hydrate::<Customer>(&stored.doc, visit.customer_id))
        .transpose()?;
    let Some(site) = customer.as_ref().and_then(|c| c.location.as_ref()).and_then(Location::geo_point) else {
        flags.push(EvidenceFlag::new(
            "site_unknown",
            "the customer's site has no location, so the on-site rule could not be applied",
        ));
        return Ok((None, GeofenceOutcome::Accept));
    };
    let result = on_site(fix, &site, radius_m);
    let outcome = mode.outcome(&result);
    match outcome {
        GeofenceOutcome::Reject => {
            return Err(StoreError::OffSite {
                distance_m: result.distance_m,
                effective_m: result.effective_m,
                radius_m,
            });
        }
        GeofenceOutcome::AcceptFlagged => flags.push(EvidenceFlag::new(
            "off_site",
            format!(
                "{:.0} m from the customer's site ({:.0} m allowing for the fix's accuracy); the team's radius is {radius_m:.0} m",
                result.distance_m, result.effective_m
            ),
        )),
        GeofenceOutcome::Accept => {}
    }
    Ok((Some(result), outcome))
}

impl Store {
    /// The team's rules as last synced, or `None` before the first sync brought them.
    pub fn team_rules(&self) -> Result<Option<TeamRules>> {
        self.db.read(team_rules)
    }

    /// Checks in to a visit: applies the on-site rule and the plausibility checks to `fix`,
    /// appends the fix, sets `started_at` (first check-in) and records `on_site` and the flags.
    ///
    /// Under a hard geofence an off-site fix is refused with [`StoreError::OffSite`] and nothing
    /// is saved; under a soft one it is saved with an `off_site` flag.
    pub fn check_in(&self, visit_id: DocId, fix: Location, context: CaptureContext) -> Result<CheckIn> {
        let now = self.clock.now_ms();
        let uptime = self.clock.uptime();
        let geo_fix = device_fix(&fix, now, "fix")?;
        self.db.write(|tx| {
            let mut stored = self.load_for_write::<Visit>(tx, visit_id)?;
            let mut visit: Visit = hydrate(&stored.doc, visit_id)?;
            let rules = team_rules(tx)?;
            let mut flags = Vec::new();
            let (on_site, outcome) = apply_geofence(tx, &visit, &geo_fix, rules.as_ref(), &mut flags)?;
            let track = track(&visit, now);
            let around = surroundings(tx, visit_id, now, uptime.as_ref(), &context)?;
            let input = PlausibilityInput {
                fix: &geo_fix,
                track: &track,
                recent: &around.recent,
                exif: None,
                clock: around.clock,
                last_save: around.last_save,
                rules: PlausibilityRules::default(),
            };
            flags.extend(
                plausibility_flags(&input).iter().map(|f| EvidenceFlag::new(f.code(), f.to_string())),
            );

            visit.fixes.push(Location { at: Some(geo_fix.at_ms()), ..fix });
            visit.started_at.get_or_insert(now);
            visit.on_site = on_site.map(|r| r.within).or(visit.on_site);
            for flag in &flags {
                if !visit.flags.contains(flag) {
                    visit.flags.push(flag.clone());
                }
            }
            visit.validate()?;
            self.commit_change(tx, visit_id, &mut stored, now, |am| {
                crate::model::write_record(am, &visit).map_err(|e| e.to_string())
            })?;
            device_clock::record_fix(tx, visit_id, &geo_fix, now)?;
            Ok(CheckIn { visit: hydrate(&stored.doc, visit_id)?, on_site, outcome, flags })
        })
    }

    /// Attaches a camera JPEG to a visit: reads its EXIF (untrusted), makes the upright upload
    /// copy and thumbnail, stores both as blobs queued for upload, and appends a [`PhotoRef`]
    /// with the hashes, the EXIF claims, the device fix, the on-site result and every flag.
    ///
    /// `fix` is the device's fix when the photo was taken; without one the visit's latest fix
    /// is used. Bad JPEGs and decompression bombs are refused with [`StoreError::Photo`] and
    /// nothing is saved; a hard geofence refuses an off-site photo like an off-site check-in.
    pub fn attach_photo(
        &self,
        visit_id: DocId,
        jpeg: &[u8],
        fix: Option<Location>,
        context: CaptureContext,
    ) -> Result<PhotoCapture> {
        let now = self.clock.now_ms();
        let uptime = self.clock.uptime();
        let evidence = ingest_photo(jpeg, &PhotoLimits::default())?;
        let given_fix = fix.as_ref().map(|f| device_fix(f, now, "fix")).transpose()?;
        let dir = blobs::dir_for(self.db.path());
        let copy = blobs::write(&dir, &evidence.upload_copy.bytes)?;
        let thumbnail = blobs::write(&dir, &evidence.thumbnail.bytes)?;

        self.db.write(|tx| {
            let mut stored = self.load_for_write::<Visit>(tx, visit_id)?;
            let mut visit: Visit = hydrate(&stored.doc, visit_id)?;
            let rules = team_rules(tx)?;
            let (radius_m, _) = geofence(rules.as_ref());
            let track = track(&visit, now);
            let fix = given_fix.or_else(|| track.iter().max_by_key(|f| f.at_ms()).copied());

            let mut flags: Vec<EvidenceFlag> =
                evidence.flags.iter().map(|f| EvidenceFlag::new(f.code(), f.to_string())).collect();
            let exif = evidence.exif.geo_evidence(now, context.utc_offset_minutes);
            let (on_site, outcome) = match &fix {
                Some(fix) => {
                    let (result, outcome) = apply_geofence(tx, &visit, fix, rules.as_ref(), &mut flags)?;
                    let around = surroundings(tx, visit_id, now, uptime.as_ref(), &context)?;
                    let input = PlausibilityInput {
                        fix,
                        track: &track,
                        recent: &around.recent,
                        exif: Some(exif),
                        clock: around.clock,
                        last_save: around.last_save,
                        rules: PlausibilityRules { max_exif_distance_m: radius_m, ..PlausibilityRules::default() },
                    };
                    flags.extend(
                        plausibility_flags(&input).iter().map(|f| EvidenceFlag::new(f.code(), f.to_string())),
                    );
                    (result, outcome)
                }
                None => {
                    flags.push(EvidenceFlag::new(
                        "no_device_fix",
                        "the phone had no location fix for this photo, so it could not be checked against the site",
                    ));
                    (None, GeofenceOutcome::Accept)
                }
            };

            let photo = PhotoRef {
                sha256: copy.sha256.clone(),
                thumbnail_sha256: Some(thumbnail.sha256.clone()),
                taken_at: now,
                original_sha256: Some(evidence.original_sha256.clone()),
                exif_location: exif_location(&exif),
                exif_taken_at: exif.taken_at_ms,
                fix: fix.map(|f| location_of(&f)),
                on_site: on_site.map(|r| r.within),
                flags,
            };
            if visit.photos.iter().any(|p| p.sha256 == photo.sha256) {
                return Err(invalid(RecordKind::Visit, "photos", "this photo is already attached to the visit"));
            }
            visit.photos.push(photo.clone());
            visit.validate()?;
            self.commit_change(tx, visit_id, &mut stored, now, |am| {
                crate::model::write_record(am, &visit).map_err(|e| e.to_string())
            })?;
            blobs::queue(tx, &copy, now)?;
            blobs::queue(tx, &thumbnail, now)?;
            if let Some(fix) = &given_fix {
                device_clock::record_fix(tx, visit_id, fix, now)?;
            }
            Ok(PhotoCapture { visit: hydrate(&stored.doc, visit_id)?, photo, outcome })
        })
    }

    /// The customer signs a slip: the strokes are checked, rendered to a PNG, and both stored as
    /// blobs; the slip's canonical content (fields, strokes and PNG hashes, the visit's photo
    /// hashes, the fix, the time and this device) is hashed and signed with the device key, and
    /// the slip is sealed. Every later edit is refused with [`StoreError::Sealed`].
    pub fn sign_slip(&self, slip_id: DocId, signature: SlipSignature) -> Result<ServiceSlip> {
        let now = self.clock.now_ms();
        let signer = signature.signer_name.trim();
        if signer.is_empty() {
            return Err(invalid(
                RecordKind::ServiceSlip,
                "signer_name",
                "the signer's name must not be empty",
            ));
        }
        if let Some(fix) = &signature.fix {
            fix.check().map_err(|p| invalid(RecordKind::ServiceSlip, "fix", p))?;
        }
        let strokes = signature.strokes.to_canonical_bytes()?;
        let png = signature.strokes.render_png()?;
        let dir = blobs::dir_for(self.db.path());
        let strokes_blob = blobs::write(&dir, &strokes)?;
        let png_blob = blobs::write(&dir, &png)?;

        self.db.write(|tx| {
            let mut stored = self.load_for_write::<ServiceSlip>(tx, slip_id)?;
            let mut slip: ServiceSlip = hydrate(&stored.doc, slip_id)?;
            let visit = documents::load(tx, slip.visit_id)?
                .filter(|v| v.kind == RecordKind::Visit)
                .ok_or(StoreError::NotFound { kind: RecordKind::Visit, id: slip.visit_id })?;
            let visit: Visit = hydrate(&visit.doc, slip.visit_id)?;

            slip.signer_name = Some(signer.to_owned());
            slip.strokes_sha256 = Some(strokes_blob.sha256.clone());
            slip.signature_png_sha256 = Some(png_blob.sha256.clone());
            slip.photo_sha256s = visit.photos.iter().map(|p| p.sha256.clone()).collect();
            slip.fix = signature.fix;
            slip.signed_at = Some(now);
            seal_slip(&mut slip, &self.identity)?;
            slip.validate()?;
            self.commit_change(tx, slip_id, &mut stored, now, |am| {
                crate::model::write_record(am, &slip).map_err(|e| e.to_string())
            })?;
            documents::seal(tx, slip_id)?;
            blobs::queue(tx, &strokes_blob, now)?;
            blobs::queue(tx, &png_blob, now)?;
            hydrate(&stored.doc, slip_id)
        })
    }

    /// The bytes of a blob this phone stored (photo copy, thumbnail, signature PNG or strokes).
    pub fn read_blob(&self, sha256: &str) -> Result<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Protocol(format!("{sha256:?} is not a SHA-256 in hex")));
        }
        let path = blobs::dir_for(self.db.path()).join(sha256.to_ascii_lowercase());
        std::fs::read(&path).map_err(|source| StoreError::Io { path, source })
    }

    /// A record's whole Automerge document, as bytes anyone can load (for `fieldsync slip
    /// verify`, support and export).
    pub fn export_document(&self, id: DocId) -> Result<Vec<u8>> {
        self.db.read(|conn| {
            let stored = documents::load(conn, id)?.ok_or(StoreError::NoSuchDocument { id })?;
            Ok(stored.doc.save())
        })
    }
}

fn exif_location(exif: &ExifEvidence) -> Option<Location> {
    exif.point.map(|p| {
        let p = p.to_wgs84();
        Location {
            lat: p.lat(),
            lon: p.lon(),
            datum: p.datum(),
            source: FixSource::Exif,
            accuracy_m: None,
            at: exif.taken_at_ms,
            mock: false,
        }
    })
}

fn location_of(fix: &GeoFix) -> Location {
    let p = fix.point();
    Location {
        lat: p.lat(),
        lon: p.lon(),
        datum: p.datum(),
        source: fix.source(),
        accuracy_m: Some(fix.accuracy_m()),
        at: Some(fix.at_ms()),
        mock: fix.mock(),
    }
}
