import t from 'tap';
import sharp from 'sharp';
import { analyzePixels } from '../src/pipeline/pixels.js';
import { dhashFromGray, hashToHex, hashToInt8, lumaOf, phashFromGray, resampleGray, trimBox } from '../src/pipeline/fingerprint.js';
import { scene } from './helpers/corpus.js';

// Plain reference implementations written from imagehash's Python source, independent of the
// optimized ones: nested arrays, the full DCT with scipy's factor 2, numpy's median, and
// imagehash's _binary_array_to_hex (bits joined into a string, first bit most significant).
function refBinaryToHex(bits: boolean[]): string {
  const s = bits.map((b) => (b ? '1' : '0')).join('');
  return BigInt('0b' + s).toString(16).padStart(Math.ceil(s.length / 4), '0');
}
function refDhash(pixels: number[][]): string {
  const bits: boolean[] = [];
  for (const row of pixels) for (let c = 0; c < row.length - 1; c++) bits.push(row[c + 1]! > row[c]!);
  return refBinaryToHex(bits);
}
function dct1(v: number[]): number[] {
  const n = v.length;
  return v.map((_, k) => 2 * v.reduce((acc, x, i) => acc + x * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n)), 0));
}
function refPhash(pixels: number[][]): string {
  const n = pixels.length;
  const byCols = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    const col = dct1(pixels.map((r) => r[j]!));
    for (let i = 0; i < n; i++) byCols[i]![j] = col[i]!;
  }
  const dct = byCols.map((row) => dct1(row));
  const low = dct.slice(0, 8).flatMap((row) => row.slice(0, 8));
  const sorted = [...low].sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  return refBinaryToHex(low.map((v) => v > median));
}
const rows = (buf: Uint8Array, w: number, h: number) => Array.from({ length: h }, (_, y) => Array.from(buf.subarray(y * w, (y + 1) * w)));

t.test('dHash and pHash match the imagehash definitions on random and real pixels', async (t) => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 256);
  for (let trial = 0; trial < 20; trial++) {
    const g9 = Uint8Array.from({ length: 72 }, rnd);
    const g32 = Uint8Array.from({ length: 1024 }, rnd);
    t.equal(hashToHex(dhashFromGray(g9)), refDhash(rows(g9, 9, 8)));
    t.equal(hashToHex(phashFromGray(g32)), refPhash(rows(g32, 32, 32)));
  }
  const photo = await sharp(scene(400, 300, 3)).grayscale().resize(32, 32, { fit: 'fill' }).raw().toBuffer();
  t.equal(hashToHex(phashFromGray(photo)), refPhash(rows(photo, 32, 32)));
});

t.test('the small grays are an antialiased Lanczos-3 resize, as PIL and libvips make them', async (t) => {
  const w = 256, h = 171;
  const gray = await sharp(scene(w, h, 5)).grayscale().raw().toBuffer();
  const whole = { left: 0, top: 0, width: w, height: h };
  for (const [ow, oh] of [[9, 8], [32, 32]] as const) {
    const ours = resampleGray(gray, w, whole, ow, oh);
    const vips = await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).resize(ow, oh, { fit: 'fill', kernel: 'lanczos3' }).extractChannel(0).raw().toBuffer();
    const diffs = Array.from(ours, (v, i) => Math.abs(v - vips[i]!));
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    t.ok(mean < 2 && Math.max(...diffs) <= 8, `${ow}×${oh}: within ${mean.toFixed(2)} gray levels of libvips on average (at most ${Math.max(...diffs)})`);
  }
  // A flat picture stays flat; a box is resampled from its own pixels only.
  t.same([...new Set(resampleGray(new Uint8Array(w * h).fill(77), w, whole, 32, 32))], [77]);
  const framed = new Uint8Array(w * h).fill(255);
  for (let y = 20; y < 120; y++) for (let x = 30; x < 200; x++) framed[y * w + x] = (x * 7 + y * 3) % 256;
  const inner = Uint8Array.from({ length: 170 * 100 }, (_, i) => ((30 + (i % 170)) * 7 + (20 + Math.floor(i / 170)) * 3) % 256);
  t.same(resampleGray(framed, w, { left: 30, top: 20, width: 170, height: 100 }, 9, 8), resampleGray(inner, 170, { left: 0, top: 0, width: 170, height: 100 }, 9, 8), 'nothing outside the box leaks in');
  // A left-to-right ramp stays a ramp, row by row.
  const ramp = Uint8Array.from({ length: w * h }, (_, i) => i % w);
  const out = resampleGray(ramp, w, whole, 9, 8);
  t.ok(Array.from({ length: 8 }, (_, y) => Array.from({ length: 8 }, (_, x) => out[y * 9 + x + 1]! > out[y * 9 + x]!).every(Boolean)).every(Boolean), `a ramp's dHash bits are all set (${[...out.subarray(0, 9)]})`);
});

t.test('luma is PIL\'s L conversion', async (t) => {
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  // PIL: L = R * 299/1000 + G * 587/1000 + B * 114/1000, rounded
  t.same(Array.from(lumaOf(rgb, 3, 4)), [76, 150, 29, 18]);
});

t.test('hex and int8 forms keep all 64 bits', async (t) => {
  const h = 0xfedcba9876543210n;
  t.equal(hashToHex(h), 'fedcba9876543210');
  t.equal(hashToInt8(h) < 0n, true);
  t.equal(hashToHex(hashToInt8(h)), 'fedcba9876543210');
  t.equal(hashToHex(1n), '0000000000000001');
});

t.test('hashes are stable under re-encoding and differ between pictures', async (t) => {
  const a = await sharp(scene(800, 600, 11)).jpeg({ quality: 95 }).toBuffer();
  const a2 = await sharp(a).resize(400).jpeg({ quality: 40 }).toBuffer();
  const b = await sharp(scene(800, 600, 12)).jpeg({ quality: 95 }).toBuffer();
  const [pa, pa2, pb] = await Promise.all([analyzePixels(a, 1e8), analyzePixels(a2, 1e8), analyzePixels(b, 1e8)]);
  const dist = (x: bigint, y: bigint) => (x ^ y).toString(2).split('').filter((c) => c === '1').length;
  t.ok(dist(pa.phash, pa2.phash) <= 6, `pHash of a resized q40 copy is close (${dist(pa.phash, pa2.phash)})`);
  t.ok(dist(pa.dhash, pa2.dhash) <= 8, `dHash of a resized q40 copy is close (${dist(pa.dhash, pa2.dhash)})`);
  t.ok(dist(pa.phash, pb.phash) > 12, `pHash of another picture is far (${dist(pa.phash, pb.phash)})`);
  t.equal(pa.width, 800);
  t.ok(pa.thumbnail.length > 100, 'thumbnail bytes');
  const thumb = await sharp(pa.thumbnail).metadata();
  t.equal(thumb.format, 'jpeg');
  t.equal(pa.thumbnailExt, 'jpg');
  t.equal(Math.max(thumb.width!, thumb.height!), 256);
  // Transparency is kept: such a picture's thumbnail is a WebP with its alpha channel. An alpha
  // channel that is opaque everywhere is not transparency: that thumbnail is a JPEG.
  const rgba = await sharp(scene(400, 300, 13)).ensureAlpha(1).raw().toBuffer();
  const opaquePng = await sharp(rgba, { raw: { width: 400, height: 300, channels: 4 } }).png().toBuffer();
  for (let i = 3; i < rgba.length; i += 4) if ((i >> 2) % 400 < 200) rgba[i] = 0;
  const clear = await sharp(rgba, { raw: { width: 400, height: 300, channels: 4 } }).png().toBuffer();
  const [pc, po] = await Promise.all([analyzePixels(clear, 1e8), analyzePixels(opaquePng, 1e8)]);
  const [clearThumb, opaqueThumb] = await Promise.all([sharp(pc.thumbnail).metadata(), sharp(po.thumbnail).metadata()]);
  t.same([clearThumb.format, pc.thumbnailExt, clearThumb.hasAlpha], ['webp', 'webp', true], 'a picture with transparency gets a WebP thumbnail with alpha');
  t.same([opaqueThumb.format, po.thumbnailExt, opaqueThumb.channels], ['jpeg', 'jpg', 3], 'an opaque alpha channel is dropped');
});

t.test('EXIF orientation is applied before hashing', async (t) => {
  const base = await sharp(scene(600, 400, 5)).jpeg().toBuffer();
  // The same displayed picture stored two ways: rotated pixels, or upright pixels + orientation 6.
  const rotatedPixels = await sharp(base).rotate(90).jpeg().toBuffer();
  const tagged = await sharp(base).withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const [r, o] = await Promise.all([analyzePixels(rotatedPixels, 1e8), analyzePixels(tagged, 1e8)]);
  t.equal(o.orientation, 6);
  t.equal(o.width, 400, 'displayed width');
  t.equal(o.height, 600);
  const dist = (r.phash ^ o.phash).toString(2).split('').filter((c) => c === '1').length;
  t.ok(dist <= 4, `same displayed picture, same pHash (distance ${dist})`);
});

t.test('a plain border is left out of the hashes; a picture without one is hashed whole', async (t) => {
  const w = 40;
  const h = 30;
  const gray = new Uint8Array(w * h).fill(250);
  // A picture (varied pixels) inside a 4 px white frame.
  for (let y = 4; y < h - 4; y++) for (let x = 4; x < w - 4; x++) gray[y * w + x] = (x * 37 + y * 11) % 200;
  t.same(trimBox(gray, w, h), { left: 6, top: 6, width: w - 12, height: h - 12 }, 'the frame and its blurred edge are cut away');
  const plain = Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 251);
  t.same(trimBox(plain, w, h), { left: 0, top: 0, width: w, height: h }, 'no border, nothing cut');
  // A plain band on one side only (sky, a wall) is part of the picture.
  const sky = Uint8Array.from(plain);
  for (let y = 0; y < 8; y++) for (let x = 0; x < w; x++) sky[y * w + x] = 240;
  t.same(trimBox(sky, w, h), { left: 0, top: 0, width: w, height: h }, 'a plain top alone is not a frame');

  // End to end: a copy with a 10 % frame, white or black, hashes like its original.
  const original = await sharp(scene(800, 600, 21)).jpeg({ quality: 92 }).toBuffer();
  const framed = (c: number) => sharp(original).extend({ top: 60, bottom: 60, left: 80, right: 80, background: { r: c, g: c, b: c } }).jpeg({ quality: 90 }).toBuffer();
  const [po, pw, pk] = await Promise.all([analyzePixels(original, 1e8), analyzePixels(await framed(255), 1e8), analyzePixels(await framed(0), 1e8)]);
  const dist = (x: bigint, y: bigint) => (x ^ y).toString(2).split('').filter((c) => c === '1').length;
  t.ok(dist(po.phashSign, pw.phashSign) <= 6, `white frame: sign-pHash distance ${dist(po.phashSign, pw.phashSign)}`);
  t.ok(dist(po.phashSign, pk.phashSign) <= 6, `black frame: sign-pHash distance ${dist(po.phashSign, pk.phashSign)}`);
  t.equal(pw.width, 960, 'the asset keeps its real size');
});
