//! `fieldsync geo convert` and `fieldsync bench geo`: the operators' check of a customer's
//! coordinates between WGS-84, GCJ-02 and BD-09, and the cost of the GCJ-02 region test.

use std::hint::black_box;
use std::io::BufRead;
use std::time::Instant;

use anyhow::{Context, bail};
use fieldsync_core::geo::{Datum, GeoPoint, gcj02_region_size, in_mainland_china};
use serde_json::{Value, json};

/// Parses a datum name as the command line spells it.
pub fn parse_datum(name: &str) -> Result<Datum, String> {
    match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "wgs84" => Ok(Datum::Wgs84),
        "gcj02" => Ok(Datum::Gcj02),
        "bd09" => Ok(Datum::Bd09),
        _ => Err(format!("unknown datum {name:?}: expected wgs84, gcj02 or bd09")),
    }
}

fn datum_name(datum: Datum) -> &'static str {
    match datum {
        Datum::Wgs84 => "wgs84",
        Datum::Gcj02 => "gcj02",
        Datum::Bd09 => "bd09",
    }
}

/// One point converted: the input, the result, whether its WGS-84 position is in the region where
/// GCJ-02 applies, and how far the conversion moved it.
pub fn convert_one(lat: f64, lon: f64, from: Datum, to: Datum) -> Result<Value, String> {
    let point = GeoPoint::new(lat, lon, from).map_err(|e| e.to_string())?;
    let out = point.to_datum(to);
    let wgs = point.to_wgs84();
    // The same degrees read in one datum: how far apart the two numbers put a pin on one map.
    let moved = match (GeoPoint::wgs84(lat, lon), GeoPoint::wgs84(out.lat(), out.lon())) {
        (Ok(a), Ok(b)) => a.distance_m(&b),
        _ => f64::NAN,
    };
    Ok(json!({
        "from": datum_name(from),
        "to": datum_name(to),
        "lat": lat,
        "lon": lon,
        "result": { "lat": out.lat(), "lon": out.lon() },
        "in_gcj02_region": in_mainland_china(wgs.lat(), wgs.lon()),
        "moved_m": (moved * 1000.0).round() / 1000.0,
        "wgs84": { "lat": wgs.lat(), "lon": wgs.lon() },
    }))
}

fn parse_number(text: &str, what: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{what} {text:?} is not a number"))
}

/// Parses one "LAT LON" line (spaces, tabs or a comma between).
fn parse_line(line: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> =
        line.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [lat, lon] => Ok((parse_number(lat, "latitude")?, parse_number(lon, "longitude")?)),
        _ => Err(format!("expected \"LAT LON\", got {line:?}")),
    }
}

/// `fieldsync geo convert`: points from the arguments (LAT LON pairs), else lines on stdin.
/// Returns the JSON lines and whether any point failed.
pub fn convert(from: Datum, to: Datum, args: &[String]) -> anyhow::Result<(Vec<Value>, bool)> {
    let mut lines = Vec::new();
    let mut failed = false;
    let mut push = |index: usize, parsed: Result<(f64, f64), String>| match parsed
        .and_then(|(lat, lon)| convert_one(lat, lon, from, to))
    {
        Ok(v) => lines.push(v),
        Err(error) => {
            failed = true;
            lines.push(json!({ "point": index + 1, "error": error }));
        }
    };
    if !args.is_empty() {
        if !args.len().is_multiple_of(2) {
            bail!("points are given as LAT LON pairs: {} numbers is an odd count", args.len());
        }
        for (i, pair) in args.chunks(2).enumerate() {
            push(
                i,
                parse_number(&pair[0], "latitude")
                    .and_then(|lat| Ok((lat, parse_number(&pair[1], "longitude")?))),
            );
        }
    } else {
        let stdin = std::io::stdin();
        let mut index = 0;
        for line in stdin.lock().lines() {
            let line = line.context("reading points from standard input")?;
            let text = line.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            push(index, parse_line(text));
            index += 1;
        }
    }
    Ok((lines, failed))
}

/// A deterministic point generator (xorshift), so every run measures the same points.
struct Points(u64);

impl Points {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn within(&mut self, south: f64, west: f64, north: f64, east: f64) -> (f64, f64) {
        let lat = south + (north - south) * self.next_unit();
        let lon = west + (east - west) * self.next_unit();
        (lat, lon)
    }
}

fn nanos_per_call(points: &[(f64, f64)], rounds: usize, f: impl Fn(f64, f64) -> bool) -> (f64, usize) {
    let mut hits = 0;
    let start = Instant::now();
    for _ in 0..rounds {
        hits = points.iter().filter(|&&(lat, lon)| f(black_box(lat), black_box(lon))).count();
    }
    (start.elapsed().as_nanos() as f64 / (rounds * points.len()) as f64, hits)
}

/// `fieldsync bench geo`: ns per region test for points spread over China's bounding box, over
/// the whole world, and within a few kilometres of land borders; beside it, in the same run, the
/// GCJ-02 forward transform every fix already pays (the reference).
pub fn bench(points: usize) -> anyhow::Result<Vec<Value>> {
    if points == 0 {
        bail!("--points must be at least 1");
    }
    let mut rng = Points(0x9e37_79b9_7f4a_7c15);
    let sets: [(&str, Vec<(f64, f64)>); 3] = [
        ("china_bbox", (0..points).map(|_| rng.within(18.0, 73.0, 53.5, 135.0)).collect()),
        ("world", (0..points).map(|_| rng.within(-60.0, -180.0, 75.0, 180.0)).collect()),
        (
            "near_borders",
            (0..points)
                .map(|i| {
                    // Jitter ±0.05° (~5 km) around border towns on both sides.
                    const TOWNS: [(f64, f64); 8] = [
                        (50.244, 127.490),
                        (49.5978, 117.3794),
                        (43.6532, 111.977),
                        (40.1292, 124.3947),
                        (27.9886, 85.9806),
                        (24.0128, 97.8514),
                        (22.5070, 103.958),
                        (22.5200, 114.1000),
                    ];
                    let (lat, lon) = TOWNS[i % TOWNS.len()];
                    rng.within(lat - 0.05, lon - 0.05, lat + 0.05, lon + 0.05)
                })
                .collect(),
        ),
    ];
    // Warm up: decode the region once, outside the timings.
    black_box(in_mainland_china(30.0, 110.0));
    let (rings, vertices) = gcj02_region_size();
    let rounds = (2_000_000 / points).max(1);
    let mut out = Vec::new();
    for (name, set) in &sets {
        let (region_ns, inside) = nanos_per_call(set, rounds, in_mainland_china);
        let (transform_ns, _) = nanos_per_call(set, rounds, |lat, lon| {
            GeoPoint::new(lat, lon, Datum::Wgs84).is_ok_and(|p| p.to_gcj02().lat() > 0.0)
        });
        out.push(json!({
            "bench": "geo_region",
            "points": name,
            "count": set.len(),
            "region_rings": rings,
            "region_vertices": vertices,
            "inside": inside,
            "region_test_ns": (region_ns * 10.0).round() / 10.0,
            "wgs84_to_gcj02_ns": (transform_ns * 10.0).round() / 10.0,
            "region_share_of_transform": (region_ns / transform_ns * 1000.0).round() / 1000.0,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_reports_the_region() {
        let v = convert_one(27.7172, 85.3240, Datum::Wgs84, Datum::Gcj02).unwrap();
        assert_eq!(v["in_gcj02_region"], false, "Kathmandu");
        assert_eq!(v["moved_m"], 0.0);
        let v = convert_one(50.244, 127.490, Datum::Wgs84, Datum::Gcj02).unwrap();
        assert_eq!(v["in_gcj02_region"], true, "Heihe");
        assert!(v["moved_m"].as_f64().unwrap() > 300.0, "{v}");
        let back = convert_one(
            v["result"]["lat"].as_f64().unwrap(),
            v["result"]["lon"].as_f64().unwrap(),
            Datum::Gcj02,
            Datum::Wgs84,
        )
        .unwrap();
        assert!((back["result"]["lat"].as_f64().unwrap() - 50.244).abs() < 1e-7);
    }

    #[test]
    fn bad_points_and_datums_are_clear_errors() {
        assert!(parse_datum("WGS-84").is_ok() && parse_datum("bd_09").is_ok());
        assert!(parse_datum("utm").unwrap_err().contains("unknown datum"));
        assert!(parse_line("31.2 121.5").is_ok() && parse_line("31.2,121.5").is_ok());
        assert!(parse_line("31.2").is_err() && parse_line("a b").is_err() && parse_line("NaN 1").is_err());
        assert!(convert_one(91.0, 0.0, Datum::Wgs84, Datum::Gcj02).is_err());
        let (lines, failed) =
            convert(Datum::Wgs84, Datum::Bd09, &["31.2".into(), "x".into(), "31.2".into(), "121.5".into()])
                .unwrap();
        assert!(failed && lines[0]["error"].is_string() && lines[1]["result"].is_object());
        assert!(convert(Datum::Wgs84, Datum::Bd09, &["1".into()]).is_err());
    }
}
