#!/usr/bin/env node
// Generates core/src/geo/gcj02_region.bin: the region where the GCJ-02 shift applies (mainland
// China; Hong Kong, Macau and Taiwan outside), as simplified polygon rings for
// `fieldsync_core::geo::in_mainland_china`.
//
// Source: Natural Earth 1:10m Admin 0 – Countries (public domain, naturalearthdata.com) as
// shipped by npm's world-atlas 2.0.2 (countries-10m.json, TopoJSON; Natural Earth 4.1.0).
// Natural Earth draws de facto boundaries: Aksai Chin is inside China, Arunachal Pradesh inside
// India; Hong Kong (344), Macau (446) and Taiwan (158, with Kinmen and Matsu) are their own units.
//
// Construction (all in this script, with turf 7.x):
//   1. China = the Natural Earth unit with ISO numeric id 156.
//   2. Sea margin: China buffered by SEA_MARGIN_KM, minus every other country's land buffered by
//      FOREIGN_GUARD_KM. Natural Earth's coast is a few hundred metres to kilometres off in places
//      (Shekou, Xiangzhou in Zhuhai, the Tianjin port reclamation and Hengqin fall in its sea); the
//      margin keeps them inside. It never reaches another country's land, nor the first
//      FOREIGN_GUARD_KM of sea beside it (reclaimed land in Hong Kong, Macau or Kinmen that Natural
//      Earth does not draw).
//      The margin is kept at 10 km because Natural Earth's 10m countries leave out some land that is
//      not China's: Hong Kong's airport island lies ~16 km from China's drawn coast and Taiwan's
//      Matsu islands ~19 km; a 30 km margin put both inside. The price: mainland island land farther
//      out than 10 km that Natural Earth does not draw (Yangshan port, ~25 km off) is outside.
//   3. Region = China ∪ sea margin. Land borders stay exactly Natural Earth's.
//   4. Douglas–Peucker simplification with SIMPLIFY_TOLERANCE_DEG (≈ 110 m north–south, less
//      east–west), well below the distance of any border city in the tests to the line (Heihe is
//      0.5 km from the Amur in Natural Earth).
//
// Output format (little-endian): b"FSGEO1\0\0", u32 ring count, then per ring: u32 vertex count,
// the first vertex as two i32 (longitude, latitude in microdegrees), then for each later vertex
// the differences to the previous one as two zigzag LEB128 varints. Rings are closed implicitly
// (the last vertex is not repeated); outer rings and holes are not distinguished, because the
// point-in-polygon test uses the even–odd rule.
//
// Usage: node scripts/gen_china_boundary.mjs [--modules DIR] [--out FILE]
//   --modules DIR  a directory whose node_modules holds the packages below; without it the script
//                  installs them with npm into a temporary directory.
// Requires node ≥ 18 and npm.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SEA_MARGIN_KM = 10;
const FOREIGN_GUARD_KM = 1.0;
const SIMPLIFY_TOLERANCE_DEG = 0.001;
const PACKAGES = [
  'world-atlas@2.0.2',
  'topojson-client@3.1.0',
  '@turf/buffer@7.4.0',
  '@turf/difference@7.4.0',
  '@turf/union@7.4.0',
  '@turf/simplify@7.4.0',
  '@turf/bbox-clip@7.4.0',
  '@turf/helpers@7.4.0',
];
const CHINA_ID = '156';
// China's extent, widened by a degree: other countries' land inside it can meet the sea margin.
const NEAR_CHINA = [72.0, 17.0, 136.5, 54.5];

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = option('--out') ?? path.join(here, '..', 'core', 'src', 'geo', 'gcj02_region.bin');
let modules = option('--modules');
if (!modules) {
  modules = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-china-'));
  fs.writeFileSync(path.join(modules, 'package.json'), '{"private":true}');
  execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', ...PACKAGES], {
    cwd: modules,
    stdio: 'inherit',
  });
}
const require = createRequire(path.join(path.resolve(modules), 'package.json'));
const topojson = require('topojson-client');
// turf packages export their function as `default` and under its own name.
const pick = (module, name) => module.default ?? module[name];
const buffer = pick(require('@turf/buffer'), 'buffer');
const difference = pick(require('@turf/difference'), 'difference');
const union = pick(require('@turf/union'), 'union');
const simplify = pick(require('@turf/simplify'), 'simplify');
const bboxClip = pick(require('@turf/bbox-clip'), 'bboxClip');
const { featureCollection } = require('@turf/helpers');

const atlas = JSON.parse(fs.readFileSync(require.resolve('world-atlas/countries-10m.json'), 'utf8'));
const countries = topojson.feature(atlas, atlas.objects.countries).features;
const china = countries.find((f) => f.id === CHINA_ID);
if (!china) throw new Error('no feature with id 156 (China) in countries-10m.json');

const polygonsOf = (geometry) =>
  geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
const overlapsNearChina = (polygon) =>
  polygon[0].some(([lon, lat]) => lon >= NEAR_CHINA[0] && lon <= NEAR_CHINA[2] && lat >= NEAR_CHINA[1] && lat <= NEAR_CHINA[3]);

// Other countries' land near China, each polygon clipped to the neighbourhood and guarded.
const guards = [];
for (const country of countries) {
  if (country.id === CHINA_ID || !country.geometry) continue;
  for (const polygon of polygonsOf(country.geometry)) {
    if (!overlapsNearChina(polygon)) continue;
    const clipped = bboxClip({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: polygon } }, NEAR_CHINA);
    if (!clipped.geometry.coordinates.length || clipped.geometry.coordinates[0].length < 4) continue;
    const guarded = buffer(clipped, FOREIGN_GUARD_KM, { units: 'kilometers' });
    if (guarded) guards.push(guarded);
  }
}
const foreign = guards.length > 1 ? union(featureCollection(guards)) : guards[0];

const margin = buffer(china, SEA_MARGIN_KM, { units: 'kilometers' });
const sea = difference(featureCollection([margin, foreign]));
const region = union(featureCollection([china, sea]));
const simplified = simplify(region, { tolerance: SIMPLIFY_TOLERANCE_DEG, highQuality: true });

const rings = [];
for (const polygon of polygonsOf(simplified.geometry)) {
  for (const ring of polygon) {
    const open = ring.slice(0, -1); // GeoJSON repeats the first vertex last
    if (open.length >= 3) rings.push(open);
  }
}

// Encode.
const bytes = [];
const u32 = (v) => bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
const varint = (v) => {
  let z = v >= 0 ? v * 2 : -v * 2 - 1; // zigzag
  do {
    let b = z % 128;
    z = Math.floor(z / 128);
    if (z > 0) b |= 0x80;
    bytes.push(b);
  } while (z > 0);
};
const micro = (deg) => Math.round(deg * 1e6);
for (const c of 'FSGEO1\0\0') bytes.push(c.charCodeAt(0));
u32(rings.length);
let vertices = 0;
for (const ring of rings) {
  u32(ring.length);
  let [plon, plat] = [micro(ring[0][0]), micro(ring[0][1])];
  u32(plon >>> 0);
  u32(plat >>> 0);
  for (const [lon, lat] of ring.slice(1)) {
    const [x, y] = [micro(lon), micro(lat)];
    varint(x - plon);
    varint(y - plat);
    [plon, plat] = [x, y];
  }
  vertices += ring.length;
}
fs.writeFileSync(out, Buffer.from(bytes));
console.log(
  JSON.stringify({
    out,
    rings: rings.length,
    vertices,
    bytes: bytes.length,
    sea_margin_km: SEA_MARGIN_KM,
    foreign_guard_km: FOREIGN_GUARD_KM,
    simplify_tolerance_deg: SIMPLIFY_TOLERANCE_DEG,
  }),
);
