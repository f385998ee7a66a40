//! A customer's handwritten signature: the strokes a signature pad captured, checked, encoded
//! canonically (so their hash means the same thing on every platform) and rendered to a PNG.
//!
//! The strokes are the evidence; the PNG is what a person looks at. Both are stored as
//! content-addressed blobs, and a signed slip commits to both hashes.

use std::io::Cursor;

use image::{GrayImage, ImageEncoder, Luma};
use sha2::{Digest, Sha256};

/// At most this many strokes in one signature: a signature is a few words, not a drawing.
pub const MAX_STROKES: usize = 200;
/// At most this many points over all strokes (a pad sampling at 120 Hz for a minute).
pub const MAX_POINTS: usize = 20_000;
/// The rendered PNG's long side, in pixels.
pub const RENDER_LONG_SIDE_PX: u32 = 600;
/// The largest pad a signature may come from, in the pad's own units (CSS or density-independent
/// pixels): a tablet in landscape is about 1,300.
pub const MAX_PAD_SIDE: f32 = 10_000.0;

/// The first bytes of a canonical stroke encoding, naming its version.
const STROKES_MAGIC: &[u8; 8] = b"FSSIG\x00\x01\x00";

/// One sample of the pen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrokePoint {
    /// Horizontal position on the pad, from its left edge.
    pub x: f32,
    /// Vertical position on the pad, from its top edge.
    pub y: f32,
    /// Milliseconds since the first point of the signature.
    pub t_ms: u32,
    /// Pen pressure in [0, 1]; pads without pressure report 0.5.
    pub pressure: f32,
}

/// A signature as the pad captured it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureStrokes {
    /// The pad's width, in the same units as the points.
    pub pad_width: f32,
    /// The pad's height.
    pub pad_height: f32,
    /// Pen-down to pen-up sequences, in the order drawn.
    pub strokes: Vec<Vec<StrokePoint>>,
}

/// Why strokes are not a signature this build accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignatureError {
    /// The pad size is not a positive, finite size up to [`MAX_PAD_SIDE`].
    #[error("the signature pad size {width}×{height} is not a usable size")]
    PadSize {
        /// Pad width.
        width: f32,
        /// Pad height.
        height: f32,
    },
    /// Nothing was drawn.
    #[error("the signature is empty: the customer has not signed")]
    Empty,
    /// Too many strokes or points.
    #[error("the signature has {count} {what}; the limit is {limit}")]
    TooLarge {
        /// "strokes" or "points".
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A point is off the pad, not a number, or has a pressure outside [0, 1].
    #[error("stroke {stroke} point {point}: {problem}")]
    BadPoint {
        /// Stroke index.
        stroke: usize,
        /// Point index within the stroke.
        point: usize,
        /// What is wrong.
        problem: String,
    },
    /// Bytes that are not a canonical stroke encoding.
    #[error("not a signature stroke encoding: {0}")]
    Encoding(String),
    /// The PNG encoder failed (it should not for an in-memory image).
    #[error("could not encode the signature PNG: {0}")]
    Png(String),
}

impl SignatureStrokes {
    /// Checks the pad size, the limits, and that every point is a finite position on the pad
    /// with a pressure in [0, 1]; time must not run backwards within a stroke.
    pub fn validate(&self) -> Result<(), SignatureError> {
        let (w, h) = (self.pad_width, self.pad_height);
        let side_ok = |s: f32| s.is_finite() && s > 0.0 && s <= MAX_PAD_SIDE;
        if !side_ok(w) || !side_ok(h) {
            return Err(SignatureError::PadSize { width: w, height: h });
        }
        if self.strokes.len() > MAX_STROKES {
            return Err(SignatureError::TooLarge {
                what: "strokes",
                count: self.strokes.len(),
                limit: MAX_STROKES,
            });
        }
        let points: usize = self.strokes.iter().map(Vec::len).sum();
        if points == 0 {
            return Err(SignatureError::Empty);
        }
        if points > MAX_POINTS {
            return Err(SignatureError::TooLarge { what: "points", count: points, limit: MAX_POINTS });
        }
        for (s, stroke) in self.strokes.iter().enumerate() {
            let mut last_t = 0;
            for (p, point) in stroke.iter().enumerate() {
                let bad = |problem: String| SignatureError::BadPoint { stroke: s, point: p, problem };
                if !point.x.is_finite() || !point.y.is_finite() {
                    return Err(bad(format!("position ({}, {}) is not a number", point.x, point.y)));
                }
                if !(0.0..=w).contains(&point.x) || !(0.0..=h).contains(&point.y) {
                    return Err(bad(format!("({}, {}) is off the {w}×{h} pad", point.x, point.y)));
                }
                if !(0.0..=1.0).contains(&point.pressure) {
                    return Err(bad(format!("pressure {} is not between 0 and 1", point.pressure)));
                }
                if p > 0 && point.t_ms < last_t {
                    return Err(bad(format!("time {} ms runs backwards from {last_t} ms", point.t_ms)));
                }
                last_t = point.t_ms;
            }
        }
        Ok(())
    }

    /// The canonical byte encoding: a versioned header, the pad size, then each stroke's point
    /// count and points, every number big-endian (f32 as IEEE-754 bits, −0 written as +0).
    /// Validates first, so only acceptable strokes have an encoding.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, SignatureError> {
        self.validate()?;
        let points: usize = self.strokes.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(STROKES_MAGIC.len() + 12 + self.strokes.len() * 4 + points * 16);
        out.extend_from_slice(STROKES_MAGIC);
        put_f32(&mut out, self.pad_width);
        put_f32(&mut out, self.pad_height);
        out.extend_from_slice(&(self.strokes.len() as u32).to_be_bytes());
        for stroke in &self.strokes {
            out.extend_from_slice(&(stroke.len() as u32).to_be_bytes());
            for point in stroke {
                put_f32(&mut out, point.x);
                put_f32(&mut out, point.y);
                out.extend_from_slice(&point.t_ms.to_be_bytes());
                put_f32(&mut out, point.pressure);
            }
        }
        Ok(out)
    }

    /// Reads a canonical encoding back, refusing anything that is not exactly one (trailing
    /// bytes, counts beyond the limits, invalid points).
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(STROKES_MAGIC.len())? != STROKES_MAGIC {
            return Err(SignatureError::Encoding("it does not start with the version-1 header".into()));
        }
        let pad_width = reader.f32()?;
        let pad_height = reader.f32()?;
        let stroke_count = reader.u32()? as usize;
        if stroke_count > MAX_STROKES {
            return Err(SignatureError::TooLarge {
                what: "strokes",
                count: stroke_count,
                limit: MAX_STROKES,
            });
        }
        let mut strokes = Vec::with_capacity(stroke_count);
        let mut total = 0usize;
        for _ in 0..stroke_count {
            let count = reader.u32()? as usize;
            total = total.saturating_add(count);
            if total > MAX_POINTS {
                return Err(SignatureError::TooLarge { what: "points", count: total, limit: MAX_POINTS });
            }
            let mut stroke = Vec::with_capacity(count);
            for _ in 0..count {
                stroke.push(StrokePoint {
                    x: reader.f32()?,
                    y: reader.f32()?,
                    t_ms: reader.u32()?,
                    pressure: reader.f32()?,
                });
            }
            strokes.push(stroke);
        }
        if reader.at != bytes.len() {
            return Err(SignatureError::Encoding(format!(
                "{} bytes follow the last stroke",
                bytes.len() - reader.at
            )));
        }
        let strokes = SignatureStrokes { pad_width, pad_height, strokes };
        strokes.validate()?;
        Ok(strokes)
    }

    /// SHA-256 (lowercase hex) of the canonical encoding.
    pub fn sha256(&self) -> Result<String, SignatureError> {
        Ok(hex::encode(Sha256::digest(self.to_canonical_bytes()?)))
    }

    /// Renders the signature as a greyscale PNG: dark ink on white, the pad scaled so its long
    /// side is [`RENDER_LONG_SIDE_PX`], line width following pen pressure, anti-aliased. The
    /// output depends only on the strokes, so the same strokes give the same bytes.
    pub fn render_png(&self) -> Result<Vec<u8>, SignatureError> {
        self.validate()?;
        let scale = RENDER_LONG_SIDE_PX as f32 / self.pad_width.max(self.pad_height);
        let width = ((self.pad_width * scale).round() as u32).max(1);
        let height = ((self.pad_height * scale).round() as u32).max(1);
        let mut canvas = GrayImage::from_pixel(width, height, Luma([255]));
        for stroke in &self.strokes {
            let scaled: Vec<(f32, f32, f32)> =
                stroke.iter().map(|p| (p.x * scale, p.y * scale, pen_radius(p.pressure))).collect();
            match scaled.as_slice() {
                [] => {}
                [only] => ink_segment(&mut canvas, *only, *only),
                _ => {
                    for pair in scaled.windows(2) {
                        ink_segment(&mut canvas, pair[0], pair[1]);
                    }
                }
            }
        }
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(Cursor::new(&mut png))
            .write_image(canvas.as_raw(), width, height, image::ExtendedColorType::L8)
            .map_err(|e| SignatureError::Png(e.to_string()))?;
        Ok(png)
    }
}

/// Pen radius in output pixels for a pressure: 1 px at no pressure to 2.5 px at full.
fn pen_radius(pressure: f32) -> f32 {
    1.0 + 1.5 * pressure
}

/// Darkens every pixel within the capsule from `a` to `b` (radius interpolated along it), with
/// one pixel of anti-aliasing at the edge. Ink only ever darkens, so overlaps are order-free.
fn ink_segment(canvas: &mut GrayImage, a: (f32, f32, f32), b: (f32, f32, f32)) {
    let reach = a.2.max(b.2) + 1.0;
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let x0 = (a.0.min(b.0) - reach).floor().clamp(0.0, w - 1.0) as u32;
    let x1 = (a.0.max(b.0) + reach).ceil().clamp(0.0, w - 1.0) as u32;
    let y0 = (a.1.min(b.1) - reach).floor().clamp(0.0, h - 1.0) as u32;
    let y1 = (a.1.max(b.1) + reach).ceil().clamp(0.0, h - 1.0) as u32;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t =
                if len2 > 0.0 { (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
            let distance = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
            let radius = a.2 + t * (b.2 - a.2);
            let coverage = (radius + 0.5 - distance).clamp(0.0, 1.0);
            if coverage > 0.0 {
                let ink = (255.0 * (1.0 - coverage)).round() as u8;
                let pixel = canvas.get_pixel_mut(x, y);
                pixel.0[0] = pixel.0[0].min(ink);
            }
        }
    }
}

fn put_f32(out: &mut Vec<u8>, value: f32) {
    let value = if value == 0.0 { 0.0 } else { value };
    out.extend_from_slice(&value.to_bits().to_be_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SignatureError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            SignatureError::Encoding(format!(
                "it ends after {} bytes, in the middle of a value",
                self.bytes.len()
            ))
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, SignatureError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(word))
    }

    fn f32(&mut self) -> Result<f32, SignatureError> {
        self.u32().map(f32::from_bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> SignatureStrokes {
        let stroke = |points: &[(f32, f32)]| {
            points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| StrokePoint { x, y, t_ms: i as u32 * 8, pressure: 0.5 })
                .collect()
        };
        SignatureStrokes {
            pad_width: 400.0,
            pad_height: 200.0,
            strokes: vec![
                stroke(&[(20.0, 150.0), (60.0, 40.0), (100.0, 150.0), (140.0, 40.0)]),
                stroke(&[(200.0, 100.0)]),
                stroke(&[(220.0, 60.0), (380.0, 160.0)]),
            ],
        }
    }

    #[test]
    fn canonical_bytes_round_trip_and_pin_the_hash() {
        let strokes = sample();
        let bytes = strokes.to_canonical_bytes().unwrap();
        assert_eq!(SignatureStrokes::from_canonical_bytes(&bytes).unwrap(), strokes);
        assert_eq!(bytes.len(), 8 + 8 + 4 + 3 * 4 + 7 * 16);
        // Negative zero encodes as zero: the same drawing has one hash.
        let mut negative_zero = strokes.clone();
        negative_zero.strokes[1][0].pressure = -0.0;
        let mut zero = strokes.clone();
        zero.strokes[1][0].pressure = 0.0;
        assert_eq!(negative_zero.sha256().unwrap(), zero.sha256().unwrap());
    }

    #[test]
    fn bad_strokes_are_refused_with_the_reason() {
        let mut s = sample();
        s.strokes[0][1].x = f32::NAN;
        assert!(matches!(s.validate(), Err(SignatureError::BadPoint { stroke: 0, point: 1, .. })));
        let mut s = sample();
        s.strokes[2][1].y = 201.0;
        assert!(s.validate().unwrap_err().to_string().contains("off the"));
        let mut s = sample();
        s.strokes[0][0].pressure = 1.5;
        assert!(s.validate().is_err());
        let mut s = sample();
        s.strokes[0][2].t_ms = 0;
        assert!(s.validate().unwrap_err().to_string().contains("backwards"));
        let empty = SignatureStrokes { pad_width: 10.0, pad_height: 10.0, strokes: vec![vec![]] };
        assert_eq!(empty.validate(), Err(SignatureError::Empty));
        let s = SignatureStrokes { pad_width: 0.0, ..sample() };
        assert!(matches!(s.validate(), Err(SignatureError::PadSize { .. })));
    }

    #[test]
    fn garbage_encodings_are_refused() {
        let bytes = sample().to_canonical_bytes().unwrap();
        for cut in [0, 5, 8, 20, bytes.len() - 1] {
            assert!(SignatureStrokes::from_canonical_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SignatureStrokes::from_canonical_bytes(&trailing).is_err());
        let mut huge = bytes[..20].to_vec();
        huge[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            SignatureStrokes::from_canonical_bytes(&huge),
            Err(SignatureError::TooLarge { what: "strokes", .. })
        ));
    }

    #[test]
    fn render_draws_ink_where_the_pen_went_and_is_deterministic() {
        let strokes = sample();
        let png = strokes.render_png().unwrap();
        assert_eq!(png, strokes.render_png().unwrap());
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!((image.width(), image.height()), (600, 300));
        // The lone dot at (200, 100) on the pad is at (300, 150) in the image.
        assert!(image.get_pixel(300, 150).0[0] < 64, "the dot is inked");
        // A corner far from every stroke stays white.
        assert_eq!(image.get_pixel(595, 5).0[0], 255);
        let inked = image.pixels().filter(|p| p.0[0] < 128).count();
        assert!(inked > 500 && inked < 20_000, "{inked} inked pixels");
    }
}
