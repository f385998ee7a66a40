//! A position as a record stores it: always with its datum, source and accuracy (DESIGN §4 Geo).

use autosurgeon::{Hydrate, Reconcile};

use crate::clock::UnixMillis;
pub use crate::geo::{Datum, FixSource};

/// A position with the facts needed to use it honestly.
#[derive(Debug, Clone, Copy, PartialEq, Reconcile, Hydrate)]
pub struct Location {
    /// Latitude in degrees, in `datum`.
    #[autosurgeon(hydrate = "super::lenient::number")]
    pub lat: f64,
    /// Longitude in degrees, in `datum`.
    #[autosurgeon(hydrate = "super::lenient::number")]
    pub lon: f64,
    /// The datum of `lat` and `lon`.
    pub datum: Datum,
    /// Where the position came from.
    pub source: FixSource,
    /// Estimated horizontal accuracy in metres (68 % radius), if known.
    #[autosurgeon(missing = "Default::default", hydrate = "super::lenient::optional_number")]
    pub accuracy_m: Option<f64>,
    /// When the position was fixed, if known.
    #[autosurgeon(missing = "Default::default")]
    pub at: Option<UnixMillis>,
    /// The operating system flagged the fix as coming from a mock-location provider.
    #[autosurgeon(missing = "Default::default")]
    pub mock: bool,
}

impl Location {
    /// Checks that the coordinates are finite and on the globe.
    pub fn check(&self) -> Result<(), String> {
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return Err(format!("latitude {} is not between -90 and 90 degrees", self.lat));
        }
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return Err(format!("longitude {} is not between -180 and 180 degrees", self.lon));
        }
        if let Some(acc) = self.accuracy_m
            && (!acc.is_finite() || acc < 0.0)
        {
            return Err(format!("accuracy {acc} m must be a non-negative number of metres"));
        }
        Ok(())
    }
}

impl Location {
    /// The position as a datum-aware [`GeoPoint`](crate::geo::GeoPoint), or `None` when the
    /// coordinates are not on the globe (a document from elsewhere that skipped validation).
    pub fn geo_point(&self) -> Option<crate::geo::GeoPoint> {
        crate::geo::GeoPoint::new(self.lat, self.lon, self.datum).ok()
    }

    /// WGS-84 latitude and longitude, converted from the stored datum; what indexes and
    /// distance checks use.
    pub fn to_wgs84(&self) -> Option<(f64, f64)> {
        self.geo_point().map(|p| {
            let wgs = p.to_wgs84();
            (wgs.lat(), wgs.lon())
        })
    }
}
