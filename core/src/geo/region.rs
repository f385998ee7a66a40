//! The region where the GCJ-02 shift applies: mainland China with Hainan and a sea margin, Hong
//! Kong, Macau and Taiwan outside. The rings come from Natural Earth (public domain) through
//! `scripts/gen_china_boundary.mjs`, which states the source, margin and simplification
//! tolerance; they are embedded as `gcj02_region.bin` and decoded once.
//!
//! Point-in-polygon is the even–odd rule on a ray to the east. Edges are bucketed by latitude
//! band, so a query looks only at the few edges that cross its band.

use std::sync::OnceLock;

const DATA: &[u8] = include_bytes!("gcj02_region.bin");
const MAGIC: &[u8; 8] = b"FSGEO1\0\0";
/// Height of a latitude band in degrees; edges are at most a few kilometres long.
const BAND_DEG: f64 = 0.05;

/// One boundary edge with its lower end first (`y0 <= y1`), in degrees.
#[derive(Clone, Copy, Debug)]
struct Edge {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

pub(super) struct Region {
    south: f64,
    north: f64,
    west: f64,
    east: f64,
    /// `edges[band_start[b]..band_start[b + 1]]` are the edges whose latitude range meets band `b`.
    band_start: Vec<u32>,
    edges: Vec<Edge>,
    pub(super) rings: usize,
    pub(super) vertices: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let b = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn zigzag(&mut self) -> Option<i64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                let half = (value >> 1) as i64;
                return Some(if value & 1 == 0 { half } else { -half - 1 });
            }
        }
        None
    }
}

fn micro(v: i64) -> f64 {
    v as f64 / 1e6
}

/// Decodes the embedded rings; `None` if the data is malformed (a unit test proves it is not).
pub(super) fn decode(bytes: &[u8]) -> Option<Region> {
    if bytes.get(..8)? != MAGIC {
        return None;
    }
    let mut r = Reader { bytes, at: 8 };
    let ring_count = r.u32()? as usize;
    let mut rings: Vec<Vec<(f64, f64)>> = Vec::with_capacity(ring_count.min(10_000));
    for _ in 0..ring_count {
        let n = r.u32()? as usize;
        if n < 3 || n > bytes.len() {
            return None;
        }
        let mut x = i64::from(r.u32()? as i32);
        let mut y = i64::from(r.u32()? as i32);
        let mut ring = Vec::with_capacity(n);
        ring.push((micro(x), micro(y)));
        for _ in 1..n {
            x = x.checked_add(r.zigzag()?)?;
            y = y.checked_add(r.zigzag()?)?;
            ring.push((micro(x), micro(y)));
        }
        rings.push(ring);
    }
    if r.at != bytes.len() || rings.is_empty() {
        return None;
    }
    let points = rings.iter().flatten();
    let (mut west, mut south, mut east, mut north) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in points {
        west = west.min(x);
        east = east.max(x);
        south = south.min(y);
        north = north.max(y);
    }
    let band_count = ((north - south) / BAND_DEG).floor() as usize + 1;
    let band_of = |y: f64| (((y - south) / BAND_DEG).floor().max(0.0) as usize).min(band_count - 1);
    let mut per_band: Vec<Vec<Edge>> = vec![Vec::new(); band_count];
    let mut vertices = 0;
    for ring in &rings {
        vertices += ring.len();
        for (i, &(ax, ay)) in ring.iter().enumerate() {
            let (bx, by) = ring[(i + 1) % ring.len()];
            if ay == by {
                continue; // a horizontal edge never crosses an eastward ray under the half-open rule
            }
            let edge = if ay < by {
                Edge { x0: ax, y0: ay, x1: bx, y1: by }
            } else {
                Edge { x0: bx, y0: by, x1: ax, y1: ay }
            };
            for band in per_band.iter_mut().take(band_of(edge.y1) + 1).skip(band_of(edge.y0)) {
                band.push(edge);
            }
        }
    }
    let mut band_start = Vec::with_capacity(band_count + 1);
    let mut edges = Vec::new();
    for band in per_band {
        band_start.push(u32::try_from(edges.len()).ok()?);
        edges.extend(band);
    }
    band_start.push(u32::try_from(edges.len()).ok()?);
    Some(Region { south, north, west, east, band_start, edges, rings: rings.len(), vertices })
}

impl Region {
    pub(super) fn contains(&self, lat: f64, lon: f64) -> bool {
        if !(self.south..self.north).contains(&lat) || !(self.west..=self.east).contains(&lon) {
            return false;
        }
        let band = ((lat - self.south) / BAND_DEG) as usize;
        let (Some(&start), Some(&end)) = (self.band_start.get(band), self.band_start.get(band + 1)) else {
            return false;
        };
        let mut inside = false;
        for e in &self.edges[start as usize..end as usize] {
            if e.y0 <= lat && lat < e.y1 {
                let x = e.x0 + (lat - e.y0) * (e.x1 - e.x0) / (e.y1 - e.y0);
                if x > lon {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

pub(super) fn region() -> Option<&'static Region> {
    static REGION: OnceLock<Option<Region>> = OnceLock::new();
    REGION.get_or_init(|| decode(DATA)).as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_region_decodes() {
        let r = region().expect("gcj02_region.bin decodes");
        assert!(r.rings >= 1 && r.vertices > 1_000, "{} rings, {} vertices", r.rings, r.vertices);
        assert!(r.south > 15.0 && r.north < 55.0 && r.west > 72.0 && r.east < 136.0);
    }

    #[test]
    fn damaged_data_is_refused_not_misread() {
        assert!(decode(b"").is_none());
        assert!(decode(b"FSGEO2\0\0\x01\0\0\0").is_none());
        assert!(decode(&DATA[..DATA.len() - 1]).is_none());
        let mut longer = DATA.to_vec();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }
}
