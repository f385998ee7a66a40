//! Coordinates with their datum, the on-site rule for visits and the plausibility checks on fixes.
//!
//! This module owns every piece of geometry fieldsync does: the three datums a coordinate can
//! arrive in (WGS-84 from GPS and EXIF, GCJ-02 from Amap/Tencent, BD-09 from Baidu), conversion
//! between them, distance, the "distance − accuracy ≤ radius" on-site rule and the checks that flag
//! a fix or a photo as implausible. It has no I/O and no clock: the phone and the relay call the
//! same functions with the same inputs and get the same answer.
//!
//! Points and fixes are validated when built (and when deserialized), so every function here can
//! assume finite, in-range coordinates.

use std::f64::consts::PI;
use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

mod region;

/// Semi-major axis of the Krasovsky 1940 ellipsoid, which the published GCJ-02 formula uses.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid.
#[allow(
    clippy::excessive_precision,
    reason = "written digit for digit as published, so it can be checked against the reference"
)]
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943_23;
/// Baidu's rotation constant for BD-09.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Mean Earth radius (IUGG R1) used by the haversine distance.
const EARTH_MEAN_RADIUS_M: f64 = 6_371_008.8;

/// Why a coordinate or a fix was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoError {
    /// Latitude or longitude is NaN or infinite.
    #[error(
        "{axis} is {value}, not a number of degrees; the location provider returned no usable fix, \
         ask for a new one"
    )]
    NotFinite {
        /// "latitude" or "longitude".
        axis: &'static str,
        /// The value as received, for the message.
        value: f64,
    },
    /// Latitude outside −90…90.
    #[error("latitude {lat} is outside −90…90 degrees; check that latitude and longitude are not swapped")]
    LatitudeOutOfRange {
        /// The latitude as received.
        lat: f64,
    },
    /// Longitude outside −180…180.
    #[error(
        "longitude {lon} is outside −180…180 degrees; check that latitude and longitude are not \
         swapped"
    )]
    LongitudeOutOfRange {
        /// The longitude as received.
        lon: f64,
    },
    /// Accuracy radius negative, NaN or infinite.
    #[error(
        "fix accuracy {accuracy_m} m is not a finite, non-negative radius; pass the provider's \
         horizontal accuracy in metres"
    )]
    InvalidAccuracy {
        /// The accuracy as received.
        accuracy_m: f64,
    },
}

/// The geodetic datum (coordinate system) a latitude/longitude pair is expressed in.
///
/// The same building has three different coordinates in the three datums, a few hundred metres
/// apart in mainland China, so comparing points of different datums without converting is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum Datum {
    /// WGS-84: GPS receivers, EXIF, Google outside China, OpenStreetMap.
    Wgs84,
    /// GCJ-02 ("Mars coordinates"): Amap (高德), Tencent Maps, Apple Maps in China.
    Gcj02,
    /// BD-09: Baidu Maps.
    Bd09,
}

/// Where a fix came from, which says how far it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum FixSource {
    /// Satellite positioning on the device.
    Gps,
    /// Wi-Fi / cell-tower positioning.
    Network,
    /// Read from a photo's EXIF block (written by the camera, editable by anyone).
    Exif,
    /// Typed or picked on a map by a person.
    Manual,
}

/// A validated latitude/longitude in a known datum.
///
/// Fields are private so that every `GeoPoint` in the program is finite and in range; build one
/// with [`GeoPoint::new`] (deserialization runs the same checks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GeoPointRepr", into = "GeoPointRepr")]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
    datum: Datum,
}

/// Unvalidated wire form of [`GeoPoint`].
#[derive(Clone, Copy, Serialize, Deserialize)]
struct GeoPointRepr {
    lat: f64,
    lon: f64,
    datum: Datum,
}

impl TryFrom<GeoPointRepr> for GeoPoint {
    type Error = GeoError;

    fn try_from(repr: GeoPointRepr) -> Result<Self, Self::Error> {
        GeoPoint::new(repr.lat, repr.lon, repr.datum)
    }
}

impl From<GeoPoint> for GeoPointRepr {
    fn from(point: GeoPoint) -> Self {
        GeoPointRepr { lat: point.lat, lon: point.lon, datum: point.datum }
    }
}

impl GeoPoint {
    /// Builds a point, refusing NaN, infinite and out-of-range degrees.
    pub fn new(lat: f64, lon: f64, datum: Datum) -> Result<Self, GeoError> {
        if !lat.is_finite() {
            return Err(GeoError::NotFinite { axis: "latitude", value: lat });
        }
        if !lon.is_finite() {
            return Err(GeoError::NotFinite { axis: "longitude", value: lon });
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::LatitudeOutOfRange { lat });
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(GeoError::LongitudeOutOfRange { lon });
        }
        Ok(GeoPoint { lat, lon, datum })
    }

    /// Builds a WGS-84 point (GPS, EXIF).
    pub fn wgs84(lat: f64, lon: f64) -> Result<Self, GeoError> {
        Self::new(lat, lon, Datum::Wgs84)
    }

    /// Builds a GCJ-02 point (Amap, Tencent).
    pub fn gcj02(lat: f64, lon: f64) -> Result<Self, GeoError> {
        Self::new(lat, lon, Datum::Gcj02)
    }

    /// Builds a BD-09 point (Baidu).
    pub fn bd09(lat: f64, lon: f64) -> Result<Self, GeoError> {
        Self::new(lat, lon, Datum::Bd09)
    }

    /// Latitude in degrees, −90…90.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees, −180…180.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// The datum the degrees are expressed in.
    pub fn datum(&self) -> Datum {
        self.datum
    }

    /// Wraps the output of a conversion formula back into range. The formulas shift by well under
    /// a degree, so this only matters at the poles and the antimeridian, where the shift could
    /// otherwise leave the valid range.
    fn converted(lat: f64, lon: f64, datum: Datum) -> Self {
        let lat = lat.clamp(-90.0, 90.0);
        let lon = if lon > 180.0 {
            lon - 360.0
        } else if lon < -180.0 {
            lon + 360.0
        } else {
            lon
        };
        GeoPoint { lat, lon, datum }
    }

    /// The same place expressed in `target`.
    ///
    /// Outside mainland China (see [`in_mainland_china`]) GCJ-02 equals WGS-84; BD-09 is Baidu's
    /// formula applied to GCJ-02 everywhere, as the published conversion does.
    pub fn to_datum(&self, target: Datum) -> GeoPoint {
        if self.datum == target {
            return *self;
        }
        let gcj = match self.datum {
            Datum::Gcj02 => *self,
            Datum::Wgs84 => wgs84_to_gcj02(*self),
            Datum::Bd09 => bd09_to_gcj02(*self),
        };
        match target {
            Datum::Gcj02 => gcj,
            Datum::Wgs84 => gcj02_to_wgs84(gcj),
            Datum::Bd09 => gcj02_to_bd09(gcj),
        }
    }

    /// The same place in WGS-84.
    pub fn to_wgs84(&self) -> GeoPoint {
        self.to_datum(Datum::Wgs84)
    }

    /// The same place in GCJ-02.
    pub fn to_gcj02(&self) -> GeoPoint {
        self.to_datum(Datum::Gcj02)
    }

    /// The same place in BD-09.
    pub fn to_bd09(&self) -> GeoPoint {
        self.to_datum(Datum::Bd09)
    }

    /// Great-circle distance in metres, after converting both points to WGS-84.
    ///
    /// Haversine on a sphere of the mean Earth radius: off by at most ~0.5 % against the
    /// ellipsoid, i.e. 0.5 m on a 100 m geofence, far below phone GPS accuracy; Vincenty would add
    /// an iteration that can fail to converge for no gain here.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        haversine_m(self.to_wgs84(), other.to_wgs84())
    }
}

impl fmt::Display for GeoPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let datum = match self.datum {
            Datum::Wgs84 => "WGS-84",
            Datum::Gcj02 => "GCJ-02",
            Datum::Bd09 => "BD-09",
        };
        write!(f, "{:.6}, {:.6} ({datum})", self.lat, self.lon)
    }
}

/// One position reading: where, how precise, from what, when, and whether the OS marked it mocked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GeoFixRepr", into = "GeoFixRepr")]
pub struct GeoFix {
    point: GeoPoint,
    accuracy_m: f64,
    source: FixSource,
    at_ms: i64,
    mock: bool,
}

/// Unvalidated wire form of [`GeoFix`].
#[derive(Clone, Copy, Serialize, Deserialize)]
struct GeoFixRepr {
    point: GeoPoint,
    accuracy_m: f64,
    source: FixSource,
    at_ms: i64,
    mock: bool,
}

impl TryFrom<GeoFixRepr> for GeoFix {
    type Error = GeoError;

    fn try_from(repr: GeoFixRepr) -> Result<Self, Self::Error> {
        GeoFix::new(repr.point, repr.accuracy_m, repr.source, repr.at_ms, repr.mock)
    }
}

impl From<GeoFix> for GeoFixRepr {
    fn from(fix: GeoFix) -> Self {
        GeoFixRepr {
            point: fix.point,
            accuracy_m: fix.accuracy_m,
            source: fix.source,
            at_ms: fix.at_ms,
            mock: fix.mock,
        }
    }
}

impl GeoFix {
    /// Builds a fix; `accuracy_m` is the provider's horizontal accuracy radius and must be finite
    /// and ≥ 0. `at_ms` is the device wall clock in unix milliseconds.
    pub fn new(
        point: GeoPoint,
        accuracy_m: f64,
        source: FixSource,
        at_ms: i64,
        mock: bool,
    ) -> Result<Self, GeoError> {
        if !accuracy_m.is_finite() || accuracy_m < 0.0 {
            return Err(GeoError::InvalidAccuracy { accuracy_m });
        }
        Ok(GeoFix { point, accuracy_m, source, at_ms, mock })
    }

    /// Where the fix puts the device.
    pub fn point(&self) -> GeoPoint {
        self.point
    }

    /// Horizontal accuracy radius in metres (≥ 0).
    pub fn accuracy_m(&self) -> f64 {
        self.accuracy_m
    }

    /// Where the fix came from.
    pub fn source(&self) -> FixSource {
        self.source
    }

    /// Device wall-clock time of the fix, unix milliseconds.
    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// Whether the OS reported the fix as coming from a mock-location provider.
    pub fn mock(&self) -> bool {
        self.mock
    }
}

/// Whether GCJ-02 applies at this latitude/longitude: mainland China with Hainan and its coastal
/// waters, not Hong Kong, Macau or Taiwan. The boundary is Natural Earth's (1:10m, de facto
/// borders), simplified to about 100 m; see `scripts/gen_china_boundary.mjs` and docs/evidence.md.
/// Outside it GCJ-02 equals WGS-84.
pub fn in_mainland_china(lat: f64, lon: f64) -> bool {
    region::region().is_some_and(|r| r.contains(lat, lon))
}

/// Rings and vertices of the embedded GCJ-02 region (for the benchmark's report).
pub fn gcj02_region_size() -> (usize, usize) {
    region::region().map_or((0, 0), |r| (r.rings, r.vertices))
}

/// The published GCJ-02 offset (degrees latitude, degrees longitude) for a WGS-84 position.
fn gcj02_offset(lat: f64, lon: f64) -> (f64, f64) {
    let x = lon - 105.0;
    let y = lat - 35.0;
    let mut dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    dlat += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    dlat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    dlon += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    dlon += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlon += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;

    let rad_lat = lat / 180.0 * PI;
    let sin_lat = rad_lat.sin();
    let magic = 1.0 - KRASOVSKY_EE * sin_lat * sin_lat;
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlat, dlon)
}

/// Forward GCJ-02 on raw degrees; identity outside mainland China.
fn gcj02_forward(lat: f64, lon: f64) -> (f64, f64) {
    if !in_mainland_china(lat, lon) {
        return (lat, lon);
    }
    let (dlat, dlon) = gcj02_offset(lat, lon);
    (lat + dlat, lon + dlon)
}

fn wgs84_to_gcj02(point: GeoPoint) -> GeoPoint {
    let (lat, lon) = gcj02_forward(point.lat, point.lon);
    GeoPoint::converted(lat, lon, Datum::Gcj02)
}

/// Inverts the GCJ-02 offset by fixed-point iteration: the offset changes by a few parts in ten
/// thousand per metre moved, so each step shrinks the error by about that factor and a handful of
/// steps reach sub-millimetre in mainland China.
///
/// Within about a kilometre of the region's edge a GCJ-02 position can have two WGS-84
/// pre-images: a shifted one inside and an unshifted one outside (e.g. Shenzhen points just north
/// of the Hong Kong box). The iteration starts from the shifted estimate, so it prefers the
/// mainland one, and falls back to the unshifted point when no mainland pre-image exists.
fn gcj02_to_wgs84(point: GeoPoint) -> GeoPoint {
    const MAX_STEPS: usize = 30;
    const TOLERANCE_DEG: f64 = 1e-10;
    let (target_lat, target_lon) = (point.lat, point.lon);
    let (dlat, dlon) = gcj02_offset(target_lat, target_lon);
    let (mut lat, mut lon) = (target_lat - dlat, target_lon - dlon);
    for _ in 0..MAX_STEPS {
        let (fwd_lat, fwd_lon) = gcj02_forward(lat, lon);
        let (err_lat, err_lon) = (fwd_lat - target_lat, fwd_lon - target_lon);
        lat -= err_lat;
        lon -= err_lon;
        if err_lat.abs() < TOLERANCE_DEG && err_lon.abs() < TOLERANCE_DEG {
            break;
        }
    }
    GeoPoint::converted(lat, lon, Datum::Wgs84)
}

/// Baidu's published GCJ-02 → BD-09 formula.
fn bd09_forward(lat: f64, lon: f64) -> (f64, f64) {
    let (x, y) = (lon, lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * X_PI).cos();
    (z * theta.sin() + 0.006, z * theta.cos() + 0.0065)
}

fn gcj02_to_bd09(point: GeoPoint) -> GeoPoint {
    let (lat, lon) = bd09_forward(point.lat, point.lon);
    GeoPoint::converted(lat, lon, Datum::Bd09)
}

/// Baidu's published BD-09 → GCJ-02 approximation, then a few fixed-point steps against the
/// forward formula, because the approximation alone is off by up to a metre or so.
fn bd09_to_gcj02(point: GeoPoint) -> GeoPoint {
    const REFINE_STEPS: usize = 5;
    let x = point.lon - 0.0065;
    let y = point.lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let (mut lat, mut lon) = (z * theta.sin(), z * theta.cos());
    for _ in 0..REFINE_STEPS {
        let (fwd_lat, fwd_lon) = bd09_forward(lat, lon);
        lat -= fwd_lat - point.lat;
        lon -= fwd_lon - point.lon;
    }
    GeoPoint::converted(lat, lon, Datum::Gcj02)
}

fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; asin would then return NaN.
    2.0 * EARTH_MEAN_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
}

/// Result of the on-site rule for one fix against one site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnSite {
    /// Distance between the fix and the site, metres (both converted to WGS-84).
    pub distance_m: f64,
    /// Distance minus the fix's accuracy radius, floored at 0: how far the site is from the
    /// nearest point the device may really have been.
    pub effective_m: f64,
    /// Whether `effective_m ≤ radius_m`.
    pub within: bool,
}

/// Applies the on-site rule: the visit is on site when distance − accuracy ≤ radius.
///
/// Giving the fix the benefit of its accuracy radius means a poor but honest indoor fix is not
/// called off-site; [`plausibility_flags`] is what catches absurd accuracy values. A NaN or
/// negative `radius_m` is never satisfied.
pub fn on_site(fix: &GeoFix, site: &GeoPoint, radius_m: f64) -> OnSite {
    let distance_m = fix.point.distance_m(site);
    let effective_m = (distance_m - fix.accuracy_m).max(0.0);
    OnSite { distance_m, effective_m, within: effective_m <= radius_m }
}

/// How a team treats a capture that fails the on-site rule (from `TeamRules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeofenceMode {
    /// Off-site captures are saved and marked for the supervisor.
    Soft,
    /// Off-site captures are refused on the phone.
    Hard,
}

/// What the app does with a capture after the on-site rule ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeofenceOutcome {
    /// On site: save as an effective visit.
    Accept,
    /// Off site under [`GeofenceMode::Soft`]: save, but mark as not on site.
    AcceptFlagged,
    /// Off site under [`GeofenceMode::Hard`]: do not save; tell the rep how far off they are.
    Reject,
}

impl GeofenceMode {
    /// Decides what happens to a capture given its on-site result.
    pub fn outcome(self, result: &OnSite) -> GeofenceOutcome {
        match (result.within, self) {
            (true, _) => GeofenceOutcome::Accept,
            (false, GeofenceMode::Soft) => GeofenceOutcome::AcceptFlagged,
            (false, GeofenceMode::Hard) => GeofenceOutcome::Reject,
        }
    }
}

/// Thresholds for [`plausibility_flags`]. Teams may tune them; the defaults are documented on
/// each field and returned by `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlausibilityRules {
    /// Accuracy radius above which a fix says nothing about the site. Default 5,000 m: beyond
    /// that even cell-tower positioning has failed, and any 5 km circle covers many customers.
    pub max_accuracy_m: f64,
    /// Fastest believable travel between two fixes. Default 200 km/h: above expressway speed;
    /// a high-speed train between visits is the only honest way past it, and the gap between
    /// fixes is then long enough that accuracy slack rarely triggers it.
    pub max_speed_kmh: f64,
    /// How far a photo's EXIF position may lie from the device fix, beyond the fix's accuracy.
    /// Default 200 m; pass the team's geofence radius here so the photo obeys the same rule as
    /// the visit.
    pub max_exif_distance_m: f64,
    /// How far EXIF capture time may differ from the app's capture time. Default 600 s
    /// (10 min): allows for camera clocks set by hand, rejects last week's photo.
    pub max_exif_time_skew_s: i64,
    /// How far the device clock may run behind the last relay-confirmed time before it is
    /// called backwards. Default 120 s: ordinary phone clock skew is seconds.
    pub clock_backwards_tolerance_s: i64,
    /// How far the device wall clock may disagree with relay time + monotonic elapsed time.
    /// Default 300 s: NTP corrections are far smaller; a hand-set clock is usually off by
    /// hours or days. The same bound applies against the phone's own last save.
    pub max_clock_drift_s: i64,
    /// Door-to-door speed of the fastest honest journey between two customers far apart: a
    /// flight. Default 800 km/h (cruise speed; the overhead below covers airports).
    pub flight_kmh: f64,
    /// Time on the ground a flight costs at the least: to the airport, boarding, from the
    /// airport. Default 3,600 s. Between fixes at different visits a journey is possible if it
    /// could be driven at [`max_speed_kmh`](Self::max_speed_kmh) or flown in this time plus
    /// the distance at [`flight_kmh`](Self::flight_kmh).
    pub flight_overhead_s: i64,
}

impl Default for PlausibilityRules {
    fn default() -> Self {
        PlausibilityRules {
            max_accuracy_m: 5_000.0,
            max_speed_kmh: 200.0,
            max_exif_distance_m: 200.0,
            max_exif_time_skew_s: 600,
            clock_backwards_tolerance_s: 120,
            max_clock_drift_s: 300,
            flight_kmh: 800.0,
            flight_overhead_s: 3_600,
        }
    }
}

/// What a photo's EXIF says, next to when the app captured it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExifEvidence {
    /// EXIF GPS position (WGS-84 by definition), if the photo has one.
    pub point: Option<GeoPoint>,
    /// EXIF DateTimeOriginal as unix ms, if present. EXIF stores local time without a zone
    /// unless OffsetTimeOriginal is set; the photo reader must resolve the zone before this.
    pub taken_at_ms: Option<i64>,
    /// Device wall-clock time when the app captured or imported the photo, unix ms.
    pub captured_at_ms: i64,
}

/// The device clock against the relay's, for spotting a hand-set clock.
///
/// The relay stamps each successful sync with its own time; the shell remembers that time and
/// the device's monotonic (since-boot) clock at that moment. Monotonic time cannot be changed in
/// settings, so relay time + monotonic elapsed is what the wall clock should read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockEvidence {
    /// Relay wall-clock time at the last confirmed sync, unix ms.
    pub last_relay_time_ms: i64,
    /// Device wall clock now (at the capture being checked), unix ms.
    pub device_time_ms: i64,
    /// Monotonic milliseconds elapsed since that sync (Android `elapsedRealtime`, iOS
    /// `CLOCK_MONOTONIC_RAW` differences). `None` after a reboot, when the monotonic clock
    /// restarted and the difference means nothing.
    pub elapsed_since_relay_ms: Option<i64>,
}

/// The device clock against the phone's own saves, for a phone that has not synced or has
/// rebooted since it did: nothing saved later may carry an earlier time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSaveEvidence {
    /// The latest wall-clock time the store saved a local change at, unix ms.
    pub latest_save_ms: i64,
    /// Device wall clock now (at the capture being checked), unix ms.
    pub device_time_ms: i64,
    /// The wall clock at the most recent save and the monotonic milliseconds elapsed since it,
    /// when the device has not rebooted in between.
    pub since_last_save: Option<(i64, i64)>,
}

/// Everything [`plausibility_flags`] looks at for one capture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlausibilityInput<'a> {
    /// The device fix attached to the capture.
    pub fix: &'a GeoFix,
    /// Other fixes from the same device around the capture, in any order (may include `fix`).
    pub track: &'a [GeoFix],
    /// The device's fixes at its other captures (other visits) in the past days, in any order,
    /// for the journey between visits.
    pub recent: &'a [GeoFix],
    /// The photo's EXIF, when the capture has a photo.
    pub exif: Option<ExifEvidence>,
    /// The device clock against the relay's, when the device has synced at least once.
    pub clock: Option<ClockEvidence>,
    /// The device clock against the phone's own saves, when it has saved anything.
    pub last_save: Option<LastSaveEvidence>,
    /// Thresholds.
    pub rules: PlausibilityRules,
}

/// One reason to doubt a capture. Flags are evidence for a supervisor, not verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum PlausibilityFlag {
    /// The OS marked the fix (or a fix in the track) as coming from a mock-location app.
    MockLocation,
    /// Accuracy exactly 0 m: no real receiver reports that; mock apps often do.
    AccuracyZero,
    /// Accuracy radius above [`PlausibilityRules::max_accuracy_m`].
    AccuracyAbsurd {
        /// The reported accuracy, metres.
        accuracy_m: f64,
    },
    /// Travel between two consecutive fixes faster than [`PlausibilityRules::max_speed_kmh`]
    /// (the fastest pair is reported).
    ImpliedSpeed {
        /// Implied speed, km/h, after allowing for both fixes' accuracy.
        kmh: f64,
    },
    /// The phone's fix at another visit is too far away for the time between them to have been
    /// driven or flown (the fix nearest in time on either side is checked).
    ImpossibleTravel {
        /// Distance between the fixes after allowing for both accuracies, km.
        km: f64,
        /// Time between the fixes, minutes.
        minutes: f64,
        /// The speed that implies, km/h.
        kmh: f64,
    },
    /// The photo's EXIF position is farther from the device fix than allowed.
    ExifFarFromFix {
        /// Distance between the EXIF position and the fix, metres.
        distance_m: f64,
    },
    /// The photo's EXIF time differs from the capture time by more than allowed.
    ExifTimeFar {
        /// EXIF time minus capture time, seconds (negative: photo older than the capture).
        seconds: i64,
    },
    /// The device clock reads earlier than the last time the relay confirmed.
    ClockWentBackwards {
        /// How far behind the relay time the device clock is, seconds.
        seconds: i64,
    },
    /// The device wall clock disagrees with relay time + monotonic elapsed time.
    ClockJumped {
        /// Wall clock minus expected time, seconds (positive: clock set forward).
        seconds: i64,
    },
    /// The device wall clock disagrees with the phone's own last save: it reads earlier than a
    /// change already saved, or (same boot) than that save's time + monotonic elapsed time.
    ClockOffLastSave {
        /// Wall clock minus expected time, seconds (negative: clock set back).
        seconds: i64,
    },
}

impl PlausibilityFlag {
    /// The stable machine code of the flag, as records store it.
    pub fn code(&self) -> &'static str {
        match self {
            PlausibilityFlag::MockLocation => "mock_location",
            PlausibilityFlag::AccuracyZero => "accuracy_zero",
            PlausibilityFlag::AccuracyAbsurd { .. } => "accuracy_absurd",
            PlausibilityFlag::ImpliedSpeed { .. } => "implied_speed",
            PlausibilityFlag::ImpossibleTravel { .. } => "impossible_travel",
            PlausibilityFlag::ExifFarFromFix { .. } => "exif_far_from_fix",
            PlausibilityFlag::ExifTimeFar { .. } => "exif_time_far",
            PlausibilityFlag::ClockWentBackwards { .. } => "clock_went_backwards",
            PlausibilityFlag::ClockJumped { .. } => "clock_jumped",
            PlausibilityFlag::ClockOffLastSave { .. } => "clock_off_last_save",
        }
    }
}

impl fmt::Display for PlausibilityFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlausibilityFlag::MockLocation => {
                write!(f, "the phone reported a mock (simulated) location")
            }
            PlausibilityFlag::AccuracyZero => {
                write!(f, "the fix claims 0 m accuracy, which real receivers never report")
            }
            PlausibilityFlag::AccuracyAbsurd { accuracy_m } => {
                write!(f, "the fix is only accurate to {accuracy_m:.0} m")
            }
            PlausibilityFlag::ImpliedSpeed { kmh } => {
                write!(f, "consecutive fixes imply travel at {kmh:.0} km/h")
            }
            PlausibilityFlag::ImpossibleTravel { km, minutes, kmh } => write!(
                f,
                "{km:.0} km from this phone's fix at another visit {minutes:.0} min apart: {kmh:.0} km/h, \
                 faster than driving or flying allows"
            ),
            PlausibilityFlag::ExifFarFromFix { distance_m } => {
                write!(f, "the photo was taken {distance_m:.0} m from where the phone was")
            }
            PlausibilityFlag::ExifTimeFar { seconds } => {
                write!(f, "the photo's own timestamp is {} min off the capture time", seconds / 60)
            }
            PlausibilityFlag::ClockWentBackwards { seconds } => {
                write!(f, "the phone clock is {seconds} s behind the last server-confirmed time")
            }
            PlausibilityFlag::ClockJumped { seconds } => {
                write!(f, "the phone clock was moved by {seconds} s since the last sync")
            }
            PlausibilityFlag::ClockOffLastSave { seconds } if *seconds < 0 => write!(
                f,
                "the phone clock reads {} s earlier than its own last save allows",
                seconds.unsigned_abs()
            ),
            PlausibilityFlag::ClockOffLastSave { seconds } => {
                write!(f, "the phone clock was moved forward by {seconds} s since its last save")
            }
        }
    }
}

/// Milliseconds to whole seconds without overflow, whatever the inputs.
fn diff_seconds(later_ms: i64, earlier_ms: i64) -> i64 {
    later_ms.saturating_sub(earlier_ms) / 1000
}

/// Runs every plausibility check on one capture and returns the flags raised, in a fixed order
/// (mock, accuracy, speed, EXIF position, EXIF time, clock). An empty list means nothing looked
/// wrong.
pub fn plausibility_flags(input: &PlausibilityInput<'_>) -> Vec<PlausibilityFlag> {
    let rules = &input.rules;
    let mut flags = Vec::new();
    let fix = input.fix;

    if fix.mock || input.track.iter().any(|f| f.mock) {
        flags.push(PlausibilityFlag::MockLocation);
    }
    if fix.accuracy_m == 0.0 {
        flags.push(PlausibilityFlag::AccuracyZero);
    } else if fix.accuracy_m > rules.max_accuracy_m {
        flags.push(PlausibilityFlag::AccuracyAbsurd { accuracy_m: fix.accuracy_m });
    }
    if let Some(kmh) = fastest_implied_speed_kmh(fix, input.track)
        && kmh > rules.max_speed_kmh
    {
        flags.push(PlausibilityFlag::ImpliedSpeed { kmh });
    }
    if let Some(flag) = impossible_travel(fix, input.recent, rules) {
        flags.push(flag);
    }
    if let Some(exif) = &input.exif {
        if let Some(photo_at) = &exif.point {
            let check = on_site(fix, photo_at, rules.max_exif_distance_m);
            if check.effective_m > rules.max_exif_distance_m {
                flags.push(PlausibilityFlag::ExifFarFromFix { distance_m: check.distance_m });
            }
        }
        if let Some(taken_at_ms) = exif.taken_at_ms {
            let seconds = diff_seconds(taken_at_ms, exif.captured_at_ms);
            if seconds.unsigned_abs() > rules.max_exif_time_skew_s.unsigned_abs() {
                flags.push(PlausibilityFlag::ExifTimeFar { seconds });
            }
        }
    }
    if let Some(clock) = &input.clock {
        let behind = diff_seconds(clock.last_relay_time_ms, clock.device_time_ms);
        if behind > rules.clock_backwards_tolerance_s {
            flags.push(PlausibilityFlag::ClockWentBackwards { seconds: behind });
        }
        if let Some(elapsed) = clock.elapsed_since_relay_ms.filter(|e| *e >= 0) {
            let expected_ms = clock.last_relay_time_ms.saturating_add(elapsed);
            let drift = diff_seconds(clock.device_time_ms, expected_ms);
            if drift.unsigned_abs() > rules.max_clock_drift_s.unsigned_abs() {
                flags.push(PlausibilityFlag::ClockJumped { seconds: drift });
            }
        }
    }
    // The relay's time carried forward on the monotonic clock is the truth when there is one; a
    // clock the network corrected since the last save then agrees with it and is not doubted.
    let relay_confirms = input.clock.is_some_and(|c| c.elapsed_since_relay_ms.is_some_and(|e| e >= 0));
    if let Some(save) = input.last_save.as_ref().filter(|_| !relay_confirms) {
        // Earlier than something already saved: known with or without a monotonic clock.
        let before_latest = diff_seconds(save.device_time_ms, save.latest_save_ms).min(0);
        // On the same boot: off the most recent save's time carried forward, either way (the
        // most recent save may itself have been made after the clock was moved).
        let since_last = save
            .since_last_save
            .filter(|(_, elapsed)| *elapsed >= 0)
            .map_or(0, |(wall, elapsed)| diff_seconds(save.device_time_ms, wall.saturating_add(elapsed)));
        let off =
            if before_latest.unsigned_abs() > since_last.unsigned_abs() { before_latest } else { since_last };
        if off.unsigned_abs() > rules.max_clock_drift_s.unsigned_abs() {
            flags.push(PlausibilityFlag::ClockOffLastSave { seconds: off });
        }
    }
    flags
}

/// The new fix against the device's fixes at other visits nearest in time before and after it:
/// a leg is impossible when it could neither be driven at `max_speed_kmh` nor flown
/// (`flight_overhead_s` + the distance at `flight_kmh`) in the time between, after taking twice
/// both accuracy radii off the distance. The worst impossible leg is reported.
fn impossible_travel(fix: &GeoFix, recent: &[GeoFix], rules: &PlausibilityRules) -> Option<PlausibilityFlag> {
    let others = recent.iter().filter(|f| *f != fix);
    let before = others.clone().filter(|f| f.at_ms <= fix.at_ms).max_by_key(|f| f.at_ms);
    let after = others.filter(|f| f.at_ms > fix.at_ms).min_by_key(|f| f.at_ms);
    [before, after]
        .into_iter()
        .flatten()
        .filter_map(|other| {
            let slack = ACCURACY_RADII_FOR_SPEED * (fix.accuracy_m + other.accuracy_m);
            let metres = (fix.point.distance_m(&other.point) - slack).max(0.0);
            let shortest_ms = if fix.source == other.source { 1_000 } else { NEAR_SIMULTANEOUS_MS };
            let seconds = (fix.at_ms.abs_diff(other.at_ms).max(shortest_ms as u64) as f64) / 1000.0;
            let drive_s = metres / (rules.max_speed_kmh / 3.6);
            let fly_s = rules.flight_overhead_s as f64 + metres / (rules.flight_kmh / 3.6);
            (seconds < drive_s.min(fly_s)).then(|| PlausibilityFlag::ImpossibleTravel {
                km: metres / 1000.0,
                minutes: seconds / 60.0,
                kmh: metres / seconds * 3.6,
            })
        })
        .max_by(|a, b| match (a, b) {
            (
                PlausibilityFlag::ImpossibleTravel { kmh: x, .. },
                PlausibilityFlag::ImpossibleTravel { kmh: y, .. },
            ) => x.total_cmp(y),
            _ => std::cmp::Ordering::Equal,
        })
}

/// How many reported accuracy radii a fix may honestly be off. Phones report a 68% radius
/// (Android's `getAccuracy`, iOS's `horizontalAccuracy`): one honest fix in three lies outside it.
/// Twice the radius covers about 99% of a two-dimensional normal error.
const ACCURACY_RADII_FOR_SPEED: f64 = 2.0;

/// Fixes from different sources (a network fix, then GPS at the door) less than this apart are
/// near-simultaneous: each provider stamps its own fix, a network fix describes where the phone
/// was some seconds earlier, and their times cannot be compared to the second.
const NEAR_SIMULTANEOUS_MS: i64 = 10_000;

/// Highest speed between time-consecutive fixes of `fix` + `track`, in km/h, or `None` with
/// fewer than two fixes.
///
/// Each leg's distance is reduced by twice both fixes' accuracy radii
/// ([`ACCURACY_RADII_FOR_SPEED`]), so an indoor network fix followed by GPS at the door, or two
/// network fixes jumping between cell towers, does not look like a car chase. Legs between fixes
/// of different sources count as at least [`NEAR_SIMULTANEOUS_MS`]; other legs under one second
/// count as one second, so simultaneous fixes give a finite figure.
fn fastest_implied_speed_kmh(fix: &GeoFix, track: &[GeoFix]) -> Option<f64> {
    let mut fixes: Vec<&GeoFix> = Vec::with_capacity(track.len() + 1);
    fixes.push(fix);
    fixes.extend(track.iter().filter(|f| *f != fix));
    fixes.sort_by_key(|f| f.at_ms);
    fixes
        .windows(2)
        .filter_map(|pair| match pair {
            [a, b] => {
                let slack = ACCURACY_RADII_FOR_SPEED * (a.accuracy_m + b.accuracy_m);
                let metres = (a.point.distance_m(&b.point) - slack).max(0.0);
                let shortest_ms = if a.source == b.source { 1_000 } else { NEAR_SIMULTANEOUS_MS };
                let seconds = b.at_ms.saturating_sub(a.at_ms).max(shortest_ms) as f64 / 1000.0;
                Some(metres / seconds * 3.6)
            }
            _ => None,
        })
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wgs(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::wgs84(lat, lon).unwrap()
    }

    fn fix_at(point: GeoPoint, accuracy_m: f64, at_ms: i64) -> GeoFix {
        GeoFix::new(point, accuracy_m, FixSource::Gps, at_ms, false).unwrap()
    }

    fn input<'a>(fix: &'a GeoFix, track: &'a [GeoFix]) -> PlausibilityInput<'a> {
        PlausibilityInput {
            fix,
            track,
            recent: &[],
            exif: None,
            clock: None,
            last_save: None,
            rules: PlausibilityRules::default(),
        }
    }

    /// Tiananmen's WGS-84 (39.908692, 116.397477) is widely quoted as GCJ-02 ≈ (39.910093,
    /// 116.403722). The formula itself, evaluated independently in Python double precision, gives
    /// (39.91009549393981, 116.40372056710368): the quoted figure is rounded, 0.3 m away.
    #[test]
    fn tiananmen_wgs84_converts_to_the_formula_value_and_near_the_quoted_one() {
        let tiananmen = wgs(39.908692, 116.397477);
        let gcj = tiananmen.to_gcj02();
        assert_eq!(gcj.datum(), Datum::Gcj02);
        assert!((gcj.lat() - 39.91009549393981).abs() < 1e-11, "{gcj}");
        assert!((gcj.lon() - 116.40372056710368).abs() < 1e-11, "{gcj}");
        let quoted = wgs(39.910093, 116.403722);
        assert!(haversine_m(gcj.with_datum_unchecked(), quoted) < 0.5);
        // The shift itself is about 560 m at Beijing.
        let raw_offset = haversine_m(tiananmen, gcj.with_datum_unchecked());
        assert!((500.0..600.0).contains(&raw_offset), "{raw_offset}");
        assert!(tiananmen.distance_m(&gcj) < 0.001);
    }

    #[test]
    fn points_outside_mainland_china_are_unchanged_by_gcj02() {
        for (lat, lon) in [
            (48.858370, 2.294481),    // Paris
            (25.033964, 121.564468),  // Taipei
            (22.279909, 114.173729),  // Hong Kong, Central
            (22.198745, 113.543873),  // Macau
            (37.566535, 126.977969),  // Seoul
            (21.028511, 105.804817),  // Hanoi
            (43.115536, 131.885485),  // Vladivostok
            (-33.856784, 151.215297), // Sydney
        ] {
            let p = wgs(lat, lon);
            assert_eq!(p.to_gcj02().lat(), lat, "{p}");
            assert_eq!(p.to_gcj02().lon(), lon, "{p}");
            assert_eq!(p.to_gcj02().to_wgs84().lat(), lat, "{p}");
        }
    }

    /// Places on both sides of China's borders, WGS-84: (name, lat, lon, inside).
    const BORDER_PLACES: &[(&str, f64, f64, bool)] = &[
        ("Kathmandu", 27.7172, 85.3240, false),
        ("Pokhara", 28.2096, 83.9856, false),
        ("Thimphu", 27.4728, 89.6390, false),
        ("Bishkek", 42.8746, 74.5698, false),
        ("Srinagar", 34.0837, 74.7973, false),
        ("Leh", 34.1526, 77.5771, false),
        ("Tawang", 27.5860, 91.8590, false),
        ("Almaty", 43.2389, 76.8897, false),
        ("Choibalsan", 48.0706, 114.5228, false),
        ("Ulaanbaatar", 47.9184, 106.9177, false),
        ("Zamyn-Uud", 43.7167, 111.9000, false),
        ("Zabaykalsk", 49.6514, 117.3269, false),
        ("Blagoveshchensk", 50.2727, 127.5404, false),
        ("Khabarovsk", 48.4802, 135.0719, false),
        ("Vladivostok", 43.1155, 131.8855, false),
        ("Chongjin", 41.7956, 129.7758, false),
        ("Sinuiju", 40.1000, 124.3981, false),
        ("Pyongyang", 39.0392, 125.7625, false),
        ("Seoul", 37.5665, 126.9780, false),
        ("Hanoi", 21.0278, 105.8342, false),
        ("Sa Pa", 22.3364, 103.8438, false),
        ("Luang Namtha", 20.9586, 101.4066, false),
        ("Myitkyina", 25.3832, 97.3964, false),
        ("Mandalay", 21.9588, 96.0891, false),
        ("Hong Kong, Central", 22.2819, 114.1582, false),
        ("Hong Kong, Sheung Shui", 22.5010, 114.1280, false),
        ("Macau", 22.1987, 113.5439, false),
        ("Taipei", 25.0330, 121.5654, false),
        ("Kinmen", 24.4369, 118.3187, false),
        ("Gilgit", 35.9208, 74.3144, false),
        ("Sost", 36.6910, 74.8200, false),
        ("Murghob", 38.1667, 73.9667, false),
        ("Zharkent", 44.1667, 80.0000, false),
        ("Khovd", 48.0056, 91.6419, false),
        ("Heihe", 50.244, 127.490, true),
        ("Yining", 43.9168, 81.3241, true),
        ("Tacheng", 46.7463, 82.9789, true),
        ("Jinghong", 22.0094, 100.7974, true),
        ("Mengla", 21.4594, 101.5641, true),
        ("Xunke", 49.563, 128.471, true),
        ("Mohe", 52.9722, 122.5386, true),
        ("Manzhouli", 49.5978, 117.3794, true),
        ("Erenhot", 43.6532, 111.9770, true),
        ("Hunchun", 42.8679, 130.3578, true),
        ("Dandong", 40.1292, 124.3947, true),
        ("Kashgar", 39.4704, 75.9897, true),
        ("Tashkurgan", 37.7726, 75.2273, true),
        ("Lhasa", 29.6520, 91.1721, true),
        ("Ruili", 24.0128, 97.8514, true),
        ("Shenzhen, Futian", 22.5431, 114.0579, true),
        ("Zhuhai, Xiangzhou", 22.2710, 113.5767, true),
        ("Xiamen", 24.4798, 118.0894, true),
        ("Sanya", 18.2528, 109.5120, true),
        ("Zhoushan", 30.0161, 122.1077, true),
        ("Pingtan", 25.4989, 119.7900, true),
        // Land Natural Earth's 10m countries do not draw, near China's drawn coast.
        ("Hong Kong airport", 22.3080, 113.9185, false),
        ("Matsu, Nangan", 26.1597, 119.9497, false),
        ("Macau, Taipa", 22.1570, 113.5560, false),
        ("Hengqin", 22.1280, 113.5300, true),
        ("Zhuhai, Gongbei", 22.2220, 113.5500, true),
        ("Shenzhen, Luohu", 22.5480, 114.1310, true),
        ("Fuzhou, Mawei", 25.9900, 119.4500, true),
        ("Tianjin port reclamation", 38.9800, 117.7900, true),
        ("Haikou", 20.0440, 110.1980, true),
        ("Kaohsiung", 22.6270, 120.3010, false),
        ("Jeju", 33.5000, 126.5310, false),
        ("Naha", 26.2120, 127.6810, false),
        // More land borders, both sides.
        ("Pogranichny", 44.4100, 131.3830, false),
        ("Kraskino", 42.7100, 130.7900, false),
        ("Dostyk", 45.2500, 82.4830, false),
        ("Naryn", 41.4280, 75.9910, false),
        ("Osh", 40.5300, 72.8000, false),
        ("Sary-Tash", 39.7300, 73.2500, false),
        ("Sarhad-e Broghil", 36.9850, 73.4700, false),
        ("Kodari", 27.9600, 85.9550, false),
        ("Gangtok", 27.3390, 88.6070, false),
        ("Itanagar", 27.0840, 93.6050, false),
        ("Muse", 23.9750, 97.9000, false),
        ("Phongsaly", 21.6830, 102.1050, false),
        ("Lao Cai", 22.4860, 103.9700, false),
        ("Lang Son", 21.8530, 106.7610, false),
        ("Ha Long", 20.9510, 107.0800, false),
        ("Namyang", 42.9430, 129.8600, false),
        ("Altay", 47.8450, 88.1410, true),
        ("Bole", 44.8980, 82.0670, true),
        ("Khorgos, China side", 44.2150, 80.4200, true),
        ("Artux", 39.7160, 76.1680, true),
        ("Ngari, Shiquanhe", 32.5030, 80.1060, true),
        ("Aksai Chin (de facto Chinese in Natural Earth)", 35.0000, 79.5000, true),
        ("Zhangmu", 28.0100, 85.9850, true),
        ("Shigatse", 29.2670, 88.8810, true),
        ("Yadong", 27.4840, 88.9070, true),
        ("Cona", 27.9910, 91.9540, true),
        ("Tengchong", 25.0210, 98.4900, true),
        ("Hekou", 22.5300, 103.9500, true),
        ("Pingxiang (Guangxi)", 22.0940, 106.7550, true),
        ("Dongxing", 21.5470, 107.9720, true),
        ("Tumen city", 42.9670, 129.8430, true),
        ("Urumqi", 43.8260, 87.6170, true),
        ("Harbin", 45.8040, 126.5350, true),
    ];

    #[test]
    fn the_gcj02_region_follows_the_borders() {
        let wrong: Vec<_> = BORDER_PLACES
            .iter()
            .filter(|(_, lat, lon, inside)| in_mainland_china(*lat, *lon) != *inside)
            .map(|(name, ..)| *name)
            .collect();
        assert!(wrong.is_empty(), "on the wrong side: {wrong:?}");
        for (name, lat, lon, inside) in BORDER_PLACES {
            let p = wgs(*lat, *lon);
            let shift = haversine_m(p, p.to_gcj02().with_datum_unchecked());
            if *inside {
                assert!(shift > 100.0, "{name} shifted only {shift} m");
            } else {
                assert!(shift == 0.0, "{name} shifted {shift} m");
            }
        }
    }

    #[test]
    fn mainland_cities_near_excluded_areas_are_shifted() {
        for (lat, lon) in [
            (22.543096, 114.057865), // Shenzhen, Futian
            (22.481, 113.912),       // Shenzhen, Shekou
            (22.270978, 113.576677), // Zhuhai, Xiangzhou
            (24.479834, 118.089425), // Xiamen
            (45.803775, 126.534967), // Harbin
            (43.825592, 87.616848),  // Urumqi
            (20.044001, 110.198293), // Haikou
        ] {
            assert!(in_mainland_china(lat, lon), "{lat}, {lon}");
            let p = wgs(lat, lon);
            assert!(haversine_m(p, p.to_gcj02().with_datum_unchecked()) > 100.0);
        }
    }

    impl GeoPoint {
        /// The same degrees relabelled as WGS-84, to measure the raw offset between datums.
        fn with_datum_unchecked(self) -> GeoPoint {
            GeoPoint { datum: Datum::Wgs84, ..self }
        }
    }

    #[test]
    fn gcj02_inverse_round_trips_a_grid_across_china_within_a_metre() {
        let mut max_err = 0.0_f64;
        let mut count = 0;
        let mut lat = 18.0;
        while lat <= 53.5 {
            let mut lon = 74.0;
            while lon <= 134.5 {
                if in_mainland_china(lat, lon) {
                    let w = wgs(lat, lon);
                    let back = w.to_gcj02().to_wgs84();
                    max_err = max_err.max(haversine_m(w, back));
                    count += 1;
                }
                lon += 0.25;
            }
            lat += 0.25;
        }
        println!("GCJ-02 round trip: {count} points, max error {max_err:.3e} m");
        assert!(count > 10_000);
        assert!(max_err < 1.0, "max error {max_err} m");
    }

    #[test]
    fn shenzhen_points_next_to_the_hong_kong_box_round_trip() {
        // WGS-84 points just north of the Hong Kong box whose GCJ-02 image falls inside it.
        let mut max_err = 0.0_f64;
        let mut lat = 22.503;
        while lat < 22.53 {
            let mut lon = 113.96;
            while lon < 114.40 {
                let w = wgs(lat, lon);
                if in_mainland_china(lat, lon) {
                    max_err = max_err.max(haversine_m(w, w.to_gcj02().to_wgs84()));
                }
                lon += 0.005;
            }
            lat += 0.001;
        }
        assert!(max_err < 1.0, "max error {max_err} m");
    }

    fn near_region_edge(lat: f64, lon: f64) -> bool {
        let inside = in_mainland_china(lat, lon);
        [(-0.01, 0.0), (0.01, 0.0), (0.0, -0.01), (0.0, 0.01)]
            .iter()
            .any(|(a, b)| in_mainland_china(lat + a, lon + b) != inside)
    }

    #[test]
    fn bd09_round_trips_through_gcj02_within_a_centimetre() {
        let mut max_err = 0.0_f64;
        let mut lat = 18.0;
        while lat <= 53.5 {
            let mut lon = 74.0;
            while lon <= 134.5 {
                let w = wgs(lat, lon);
                // Within ~1 km of the region's edge a GCJ-02 image has two pre-images (see
                // `gcj02_to_wgs84`); the grid point 49 °N 130 °E on the Amur is one.
                if !near_region_edge(lat, lon) {
                    let back = w.to_bd09().to_wgs84();
                    max_err = max_err.max(haversine_m(w, back));
                }
                lon += 1.0;
            }
            lat += 1.0;
        }
        assert!(max_err < 0.01, "max error {max_err} m");
    }

    /// Baidu's forward formula evaluated independently in Python gives BD-09
    /// (39.91643482818266, 116.41009355979178) for Tiananmen's GCJ-02 position.
    #[test]
    fn bd09_matches_the_published_forward_formula_at_tiananmen() {
        let bd = wgs(39.908692, 116.397477).to_bd09();
        assert_eq!(bd.datum(), Datum::Bd09);
        assert!((bd.lat() - 39.91643482818266).abs() < 1e-11, "{bd}");
        assert!((bd.lon() - 116.41009355979178).abs() < 1e-11, "{bd}");
    }

    #[test]
    fn conversions_near_poles_and_antimeridian_stay_in_range() {
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (89.9999, 179.9999)] {
            for datum in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
                let p = GeoPoint::new(lat, lon, datum).unwrap();
                for target in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
                    let q = p.to_datum(target);
                    assert!(GeoPoint::new(q.lat(), q.lon(), target).is_ok(), "{q}");
                }
            }
        }
    }

    #[test]
    fn invalid_coordinates_are_refused_with_a_reason() {
        assert!(matches!(GeoPoint::wgs84(f64::NAN, 0.0), Err(GeoError::NotFinite { axis: "latitude", .. })));
        assert!(matches!(
            GeoPoint::wgs84(0.0, f64::INFINITY),
            Err(GeoError::NotFinite { axis: "longitude", .. })
        ));
        assert_eq!(GeoPoint::wgs84(116.4, 39.9), Err(GeoError::LatitudeOutOfRange { lat: 116.4 }));
        assert_eq!(GeoPoint::wgs84(39.9, -180.5), Err(GeoError::LongitudeOutOfRange { lon: -180.5 }));
        let message = GeoPoint::wgs84(116.4, 39.9).unwrap_err().to_string();
        assert!(message.contains("swapped"), "{message}");
        for accuracy_m in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                GeoFix::new(wgs(0.0, 0.0), accuracy_m, FixSource::Gps, 0, false),
                Err(GeoError::InvalidAccuracy { .. })
            ));
        }
    }

    #[test]
    fn deserializing_an_out_of_range_point_fails() {
        let bad = GeoPointRepr { lat: 91.0, lon: 0.0, datum: Datum::Wgs84 };
        assert!(GeoPoint::try_from(bad).is_err());
    }

    #[test]
    fn haversine_distance_matches_the_sphere_and_the_ellipsoid_closely() {
        // One degree along a meridian on the mean sphere is R·π/180 = 111,195.08 m.
        let d = wgs(30.0, 120.0).distance_m(&wgs(31.0, 120.0));
        assert!((d - 111_195.08).abs() < 0.01, "{d}");
        // On the WGS-84 ellipsoid, 44.5–45.5 °N spans 111,132 m: within 0.1 %.
        let d = wgs(44.5, 10.0).distance_m(&wgs(45.5, 10.0));
        assert!((d - 111_132.0).abs() / 111_132.0 < 0.001, "{d}");
        assert_eq!(wgs(31.2, 121.5).distance_m(&wgs(31.2, 121.5)), 0.0);
        let antipodal = wgs(0.0, 0.0).distance_m(&wgs(0.0, 180.0));
        assert!((antipodal - PI * EARTH_MEAN_RADIUS_M).abs() < 1.0);
    }

    #[test]
    fn on_site_converts_datums_before_comparing() {
        // The customer's pin was picked on Amap (GCJ-02); the phone reports GPS (WGS-84).
        let site = wgs(31.298886, 120.585316).to_gcj02();
        let fix = fix_at(wgs(31.298886, 120.585316), 10.0, 0);
        let result = on_site(&fix, &site, 50.0);
        assert!(result.distance_m < 0.01, "{result:?}");
        assert!(result.within);
        // Comparing raw degrees would have put the rep hundreds of metres away.
        let raw = haversine_m(fix.point(), site.with_datum_unchecked());
        assert!(raw > 300.0, "{raw}");
    }

    #[test]
    fn on_site_gives_the_fix_the_benefit_of_its_accuracy() {
        let site = wgs(31.0, 120.0);
        let p = wgs(31.0 + 250.0 / 111_195.0, 120.0); // ≈ 250 m north
        let honest_indoor = on_site(&fix_at(p, 60.0, 0), &site, 200.0);
        assert!((honest_indoor.distance_m - 250.0).abs() < 1.0);
        assert!((honest_indoor.effective_m - 190.0).abs() < 1.0);
        assert!(honest_indoor.within);
        let precise = on_site(&fix_at(p, 5.0, 0), &site, 200.0);
        assert!(!precise.within);
        let inside = on_site(&fix_at(site, 500.0, 0), &site, 100.0);
        assert_eq!(inside.effective_m, 0.0);
        assert!(!on_site(&fix_at(site, 5.0, 0), &site, f64::NAN).within);
    }

    #[test]
    fn geofence_mode_decides_what_happens_off_site() {
        let off = OnSite { distance_m: 900.0, effective_m: 880.0, within: false };
        let on = OnSite { within: true, ..off };
        assert_eq!(GeofenceMode::Soft.outcome(&off), GeofenceOutcome::AcceptFlagged);
        assert_eq!(GeofenceMode::Hard.outcome(&off), GeofenceOutcome::Reject);
        assert_eq!(GeofenceMode::Hard.outcome(&on), GeofenceOutcome::Accept);
    }

    #[test]
    fn honest_capture_raises_no_flags() {
        let fix = fix_at(wgs(31.3, 120.6), 12.0, 1_700_000_000_000);
        let earlier = fix_at(wgs(31.31, 120.6), 15.0, 1_700_000_000_000 - 30 * 60_000);
        let track = [earlier, fix];
        let mut check = input(&fix, &track);
        check.exif = Some(ExifEvidence {
            point: Some(wgs(31.3003, 120.6)),
            taken_at_ms: Some(1_700_000_000_000 - 20_000),
            captured_at_ms: 1_700_000_000_000,
        });
        check.clock = Some(ClockEvidence {
            last_relay_time_ms: 1_700_000_000_000 - 3_600_000,
            device_time_ms: 1_700_000_000_000,
            elapsed_since_relay_ms: Some(3_600_000 + 4_000),
        });
        assert_eq!(plausibility_flags(&check), vec![]);
    }

    #[test]
    fn mock_location_is_flagged_from_the_fix_or_the_track() {
        let mocked = GeoFix::new(wgs(31.3, 120.6), 5.0, FixSource::Gps, 0, true).unwrap();
        let honest = fix_at(wgs(31.3, 120.6), 5.0, 0);
        assert_eq!(plausibility_flags(&input(&mocked, &[])), vec![PlausibilityFlag::MockLocation]);
        assert_eq!(plausibility_flags(&input(&honest, &[mocked])), vec![PlausibilityFlag::MockLocation]);
    }

    #[test]
    fn zero_and_absurd_accuracy_are_flagged() {
        let zero = fix_at(wgs(31.3, 120.6), 0.0, 0);
        assert_eq!(plausibility_flags(&input(&zero, &[])), vec![PlausibilityFlag::AccuracyZero]);
        let vague = GeoFix::new(wgs(31.3, 120.6), 12_000.0, FixSource::Network, 0, false).unwrap();
        assert_eq!(
            plausibility_flags(&input(&vague, &[])),
            vec![PlausibilityFlag::AccuracyAbsurd { accuracy_m: 12_000.0 }]
        );
    }

    #[test]
    fn implied_speed_between_unsorted_fixes_is_flagged() {
        // Suzhou then Shanghai (≈ 85 km) ten minutes later: ≈ 500 km/h.
        let suzhou = fix_at(wgs(31.2990, 120.5853), 10.0, 600_000);
        let shanghai = fix_at(wgs(31.2304, 121.4737), 10.0, 1_200_000);
        let earlier = fix_at(wgs(31.2990, 120.5853), 10.0, 0);
        let track = [shanghai, earlier];
        let flags = plausibility_flags(&input(&suzhou, &track));
        match flags.as_slice() {
            [PlausibilityFlag::ImpliedSpeed { kmh }] => {
                assert!((450.0..560.0).contains(kmh), "{kmh}")
            }
            other => panic!("expected one speed flag, got {other:?}"),
        }
        // The same trip in 40 minutes is a fast car on the expressway: fine.
        let slow = fix_at(wgs(31.2304, 121.4737), 10.0, 600_000 + 2_400_000);
        assert_eq!(plausibility_flags(&input(&suzhou, &[slow])), vec![]);
    }

    #[test]
    fn accuracy_slack_keeps_cell_tower_jumps_from_looking_like_speed() {
        let a = GeoFix::new(wgs(31.30, 120.60), 1_500.0, FixSource::Network, 0, false).unwrap();
        let b = GeoFix::new(wgs(31.32, 120.60), 1_500.0, FixSource::Network, 5_000, false).unwrap();
        assert_eq!(plausibility_flags(&input(&a, &[b])), vec![]);
    }

    #[test]
    fn an_indoor_network_fix_then_gps_at_the_door_is_not_speed() {
        // The network fix (±150 m) is 350 m off; GPS at the door comes a second later.
        let door = wgs(31.3000, 120.6000);
        let indoor =
            GeoFix::new(wgs(31.3000 + 350.0 / 111_200.0, 120.6000), 150.0, FixSource::Network, 0, false)
                .unwrap();
        let gps = GeoFix::new(door, 5.0, FixSource::Gps, 1_000, false).unwrap();
        assert_eq!(plausibility_flags(&input(&gps, &[indoor])), vec![]);
        // The same pair with the GPS fix 30 km away is still flagged.
        let far = GeoFix::new(wgs(31.3000 + 0.27, 120.6000), 5.0, FixSource::Gps, 1_000, false).unwrap();
        assert!(matches!(
            plausibility_flags(&input(&far, &[indoor])).as_slice(),
            [PlausibilityFlag::ImpliedSpeed { .. }]
        ));
        // Two GPS fixes a second apart and 500 m apart are not an honest walk.
        let a = fix_at(door, 5.0, 0);
        let b = fix_at(wgs(31.3000 + 500.0 / 111_200.0, 120.6000), 5.0, 1_000);
        assert!(matches!(
            plausibility_flags(&input(&b, &[a])).as_slice(),
            [PlausibilityFlag::ImpliedSpeed { .. }]
        ));
    }

    #[test]
    fn simultaneous_fixes_far_apart_give_a_finite_speed() {
        let a = fix_at(wgs(31.30, 120.60), 5.0, 1_000);
        let b = fix_at(wgs(39.90, 116.40), 5.0, 1_000);
        match plausibility_flags(&input(&a, &[b])).as_slice() {
            [PlausibilityFlag::ImpliedSpeed { kmh }] => assert!(kmh.is_finite()),
            other => panic!("expected one speed flag, got {other:?}"),
        }
    }

    #[test]
    fn exif_position_far_from_the_fix_is_flagged() {
        let fix = fix_at(wgs(31.3, 120.6), 20.0, 0);
        let mut check = input(&fix, &[]);
        check.exif = Some(ExifEvidence {
            point: Some(wgs(31.31, 120.6)), // ≈ 1.1 km north
            taken_at_ms: None,
            captured_at_ms: 0,
        });
        match plausibility_flags(&check).as_slice() {
            [PlausibilityFlag::ExifFarFromFix { distance_m }] => {
                assert!((1_050.0..1_150.0).contains(distance_m), "{distance_m}")
            }
            other => panic!("expected one EXIF distance flag, got {other:?}"),
        }
    }

    #[test]
    fn exif_time_far_from_capture_is_flagged_with_its_sign() {
        let fix = fix_at(wgs(31.3, 120.6), 20.0, 0);
        let mut check = input(&fix, &[]);
        let captured_at_ms = 1_700_000_000_000;
        check.exif = Some(ExifEvidence {
            point: None,
            taken_at_ms: Some(captured_at_ms - 3 * 86_400_000),
            captured_at_ms,
        });
        assert_eq!(plausibility_flags(&check), vec![PlausibilityFlag::ExifTimeFar { seconds: -3 * 86_400 }]);
        check.exif = Some(ExifEvidence {
            point: None,
            taken_at_ms: Some(captured_at_ms + 9 * 60_000),
            captured_at_ms,
        });
        assert_eq!(plausibility_flags(&check), vec![]);
    }

    #[test]
    fn device_clock_behind_the_relay_is_flagged() {
        let fix = fix_at(wgs(31.3, 120.6), 20.0, 0);
        let mut check = input(&fix, &[]);
        check.clock = Some(ClockEvidence {
            last_relay_time_ms: 1_700_000_000_000,
            device_time_ms: 1_700_000_000_000 - 2 * 3_600_000,
            elapsed_since_relay_ms: None,
        });
        assert_eq!(plausibility_flags(&check), vec![PlausibilityFlag::ClockWentBackwards { seconds: 7_200 }]);
        // A few seconds of skew is normal.
        check.clock = Some(ClockEvidence {
            last_relay_time_ms: 1_700_000_000_000,
            device_time_ms: 1_700_000_000_000 - 5_000,
            elapsed_since_relay_ms: None,
        });
        assert_eq!(plausibility_flags(&check), vec![]);
    }

    #[test]
    fn clock_set_forward_since_the_last_sync_is_flagged() {
        let fix = fix_at(wgs(31.3, 120.6), 20.0, 0);
        let mut check = input(&fix, &[]);
        // One hour really elapsed (monotonic), but the wall clock moved a day and an hour.
        check.clock = Some(ClockEvidence {
            last_relay_time_ms: 1_700_000_000_000,
            device_time_ms: 1_700_000_000_000 + 25 * 3_600_000,
            elapsed_since_relay_ms: Some(3_600_000),
        });
        assert_eq!(plausibility_flags(&check), vec![PlausibilityFlag::ClockJumped { seconds: 86_400 }]);
        // After a reboot the monotonic clock restarted: no jump can be judged.
        check.clock = Some(ClockEvidence { elapsed_since_relay_ms: None, ..check.clock.unwrap() });
        assert_eq!(plausibility_flags(&check), vec![]);
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let a = fix_at(wgs(31.3, 120.6), 5.0, i64::MIN);
        let b = fix_at(wgs(31.3, 120.6), 5.0, i64::MAX);
        let mut check = input(&a, std::slice::from_ref(&b));
        check.exif =
            Some(ExifEvidence { point: None, taken_at_ms: Some(i64::MIN), captured_at_ms: i64::MAX });
        check.clock = Some(ClockEvidence {
            last_relay_time_ms: i64::MAX,
            device_time_ms: i64::MIN,
            elapsed_since_relay_ms: Some(i64::MAX),
        });
        let flags = plausibility_flags(&check);
        assert!(flags.contains(&PlausibilityFlag::ExifTimeFar { seconds: i64::MIN / 1000 }));
    }

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;

    fn travel_flags(from: GeoPoint, to: GeoPoint, gap_ms: i64) -> Vec<PlausibilityFlag> {
        let earlier = fix_at(from, 15.0, 1_700_000_000_000);
        let later = fix_at(to, 15.0, 1_700_000_000_000 + gap_ms);
        let mut check = input(&later, &[]);
        check.recent = std::slice::from_ref(&earlier);
        plausibility_flags(&check)
    }

    #[test]
    fn check_ins_at_two_customers_200_km_apart_8_minutes_apart_are_impossible_travel() {
        // Suzhou and Nanjing city centres, about 190 km.
        let flags = travel_flags(wgs(31.2990, 120.5853), wgs(32.0603, 118.7969), 8 * MINUTE);
        assert!(
            matches!(flags[..], [PlausibilityFlag::ImpossibleTravel { km, minutes, kmh }]
                if (180.0..200.0).contains(&km) && minutes == 8.0 && kmh > 1_000.0),
            "{flags:?}"
        );
        assert_eq!(flags[0].code(), "impossible_travel");
        assert!(flags[0].to_string().contains("another visit"), "{}", flags[0]);
        // The same journey an hour later when the phone's fix is the earlier one: the later
        // neighbour is checked too (a check-in made with the clock set back).
        let earlier = fix_at(wgs(32.0603, 118.7969), 15.0, 1_700_000_000_000 + 8 * MINUTE);
        let later_visit = fix_at(wgs(31.2990, 120.5853), 15.0, 1_700_000_000_000);
        let mut check = input(&later_visit, &[]);
        check.recent = std::slice::from_ref(&earlier);
        assert_eq!(plausibility_flags(&check).len(), 1);
    }

    #[test]
    fn honest_journeys_between_visits_carry_no_flag() {
        let suzhou = wgs(31.2990, 120.5853);
        // Driving 40 km across Suzhou in 45 minutes.
        assert_eq!(travel_flags(suzhou, wgs(31.3860, 120.9800), 45 * MINUTE), vec![]);
        // 190 km to Nanjing by high-speed rail, door to door in 1 h 40 min.
        assert_eq!(travel_flags(suzhou, wgs(32.0603, 118.7969), 100 * MINUTE), vec![]);
        // Flying Shanghai Hongqiao area to Beijing (about 1,070 km) in 3 h 30 min door to door.
        assert_eq!(travel_flags(wgs(31.1979, 121.3363), wgs(39.9087, 116.3975), 210 * MINUTE), vec![]);
        // 1,000 km flown in 2 h 30 min.
        assert_eq!(travel_flags(wgs(30.0, 110.0), wgs(30.0, 120.38), 150 * MINUTE), vec![]);
        // Beijing to Shanghai in 80 minutes cannot be flown door to door.
        assert!(!travel_flags(wgs(39.9087, 116.3975), wgs(31.1979, 121.3363), 80 * MINUTE).is_empty());
    }

    #[test]
    fn a_mock_fix_at_another_visit_does_not_flag_this_one() {
        let mocked = GeoFix::new(wgs(31.3, 120.6), 5.0, FixSource::Gps, 0, true).unwrap();
        let honest = fix_at(wgs(31.3, 120.6), 5.0, HOUR);
        let mut check = input(&honest, &[]);
        check.recent = std::slice::from_ref(&mocked);
        assert_eq!(plausibility_flags(&check), vec![]);
    }

    fn save_check(save: LastSaveEvidence, clock: Option<ClockEvidence>) -> Vec<PlausibilityFlag> {
        let fix = fix_at(wgs(31.3, 120.6), 20.0, save.device_time_ms);
        let mut check = input(&fix, &[]);
        check.last_save = Some(save);
        check.clock = clock;
        plausibility_flags(&check)
    }

    #[test]
    fn a_clock_set_back_three_hours_between_check_ins_is_flagged_without_any_sync() {
        let saved = 1_700_000_000_000;
        // 20 minutes really passed (monotonic); the wall clock reads 2 h 40 min before the save.
        let now = saved + 20 * MINUTE - 3 * HOUR;
        let same_boot = LastSaveEvidence {
            latest_save_ms: saved,
            device_time_ms: now,
            since_last_save: Some((saved, 20 * MINUTE)),
        };
        assert_eq!(
            save_check(same_boot, None),
            vec![PlausibilityFlag::ClockOffLastSave { seconds: -10_800 }]
        );
        // After a reboot only "earlier than the last save" is known.
        let rebooted = LastSaveEvidence { since_last_save: None, ..same_boot };
        assert_eq!(save_check(rebooted, None), vec![PlausibilityFlag::ClockOffLastSave { seconds: -9_600 }]);
        assert!(
            PlausibilityFlag::ClockOffLastSave { seconds: -9_600 }.to_string().contains("9600 s earlier"),
            "{}",
            PlausibilityFlag::ClockOffLastSave { seconds: -9_600 }
        );
        // A clock set forward a day on the same boot is flagged too.
        let forward = LastSaveEvidence {
            latest_save_ms: saved,
            device_time_ms: saved + 24 * HOUR + HOUR,
            since_last_save: Some((saved, HOUR)),
        };
        assert_eq!(save_check(forward, None), vec![PlausibilityFlag::ClockOffLastSave { seconds: 86_400 }]);
    }

    #[test]
    fn a_network_clock_correction_is_not_a_clock_off_its_last_save() {
        let saved = 1_700_000_000_000;
        // The network set the clock back 40 s a few minutes after a save.
        let small = LastSaveEvidence {
            latest_save_ms: saved,
            device_time_ms: saved + 5 * MINUTE - 40_000,
            since_last_save: Some((saved, 5 * MINUTE)),
        };
        assert_eq!(save_check(small, None), vec![]);
        // The clock was two hours fast at the last save; since then the phone synced (relay
        // time carried forward by the monotonic clock) and the network corrected the clock: the
        // relay confirms the wall clock now, so the earlier save's time is not held against it.
        let relay_at = saved - 2 * HOUR + 10 * MINUTE;
        let now = relay_at + 30 * MINUTE;
        let corrected = LastSaveEvidence {
            latest_save_ms: saved,
            device_time_ms: now,
            since_last_save: Some((saved, 40 * MINUTE)),
        };
        let relay = ClockEvidence {
            last_relay_time_ms: relay_at,
            device_time_ms: now,
            elapsed_since_relay_ms: Some(30 * MINUTE),
        };
        assert_eq!(save_check(corrected, Some(relay)), vec![]);
    }

    #[test]
    fn flag_messages_name_the_measured_value() {
        let flag = PlausibilityFlag::ImpliedSpeed { kmh: 512.0 };
        assert!(flag.to_string().contains("512 km/h"));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_float_pair_builds_a_valid_point_or_a_clear_error(
                lat in proptest::num::f64::ANY,
                lon in proptest::num::f64::ANY,
            ) {
                if let Ok(p) = GeoPoint::wgs84(lat, lon) {
                    for target in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
                        let q = p.to_datum(target);
                        prop_assert!(GeoPoint::new(q.lat(), q.lon(), target).is_ok());
                        prop_assert!(p.distance_m(&q).is_finite());
                    }
                }
            }

            #[test]
            fn gcj02_round_trip_is_sub_metre_anywhere_in_china(
                lat in 18.0_f64..53.0,
                lon in 74.0_f64..134.0,
            ) {
                // Outside points within ~1 km of the region edge share their GCJ-02 image
                // with a mainland point (see `gcj02_to_wgs84`); the inverse cannot tell them apart.
                let inside = in_mainland_china(lat, lon);
                prop_assume!([(-0.01, 0.0), (0.01, 0.0), (0.0, -0.01), (0.0, 0.01)]
                    .iter()
                    .all(|(a, b)| in_mainland_china(lat + a, lon + b) == inside));
                let w = GeoPoint::wgs84(lat, lon).unwrap();
                prop_assert!(w.distance_m(&w.to_gcj02()) < 1.0);
            }

            #[test]
            fn plausibility_never_panics(
                lat in -90.0_f64..=90.0,
                lon in -180.0_f64..=180.0,
                acc in 0.0_f64..1e9,
                times in proptest::collection::vec(any::<i64>(), 0..6),
                relay in any::<i64>(),
                device in any::<i64>(),
                elapsed in proptest::option::of(any::<i64>()),
            ) {
                let fix = GeoFix::new(
                    GeoPoint::gcj02(lat, lon).unwrap(), acc, FixSource::Network, device, false,
                ).unwrap();
                let track: Vec<GeoFix> = times
                    .iter()
                    .map(|t| GeoFix::new(
                        GeoPoint::wgs84(lat / 2.0, lon / 2.0).unwrap(), 1.0, FixSource::Gps, *t, false,
                    ).unwrap())
                    .collect();
                let check = PlausibilityInput {
                    fix: &fix,
                    track: &track,
                    recent: &track,
                    exif: Some(ExifEvidence {
                        point: Some(GeoPoint::bd09(-lat, -lon).unwrap()),
                        taken_at_ms: Some(relay),
                        captured_at_ms: device,
                    }),
                    clock: Some(ClockEvidence {
                        last_relay_time_ms: relay,
                        device_time_ms: device,
                        elapsed_since_relay_ms: elapsed,
                    }),
                    last_save: Some(LastSaveEvidence {
                        latest_save_ms: relay,
                        device_time_ms: device,
                        since_last_save: elapsed.map(|e| (relay, e)),
                    }),
                    rules: PlausibilityRules::default(),
                };
                for flag in plausibility_flags(&check) {
                    if let PlausibilityFlag::ImpliedSpeed { kmh } | PlausibilityFlag::ImpossibleTravel { kmh, .. } = flag {
                        prop_assert!(kmh.is_finite());
                    }
                }
            }
        }
    }
}
