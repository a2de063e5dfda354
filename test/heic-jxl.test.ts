// HEVC HEIC and JPEG XL through heif-convert and djxl: pixels, hashes, thumbnails, duplicates; and without the tools.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { analyzePixels, PixelError } from '../src/pipeline/pixels.js';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

const TOOLS = ['heif-convert', 'heif-enc', 'heif-info', 'djxl', 'cjxl', 'jxlinfo'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status !== 0);

/**
 * The picture of a HEIC turned by its container, as an iPhone writes it: an `irot` property on the
 * primary item (angle 3: 270° anticlockwise, i.e. EXIF orientation 6), while the EXIF heif-enc
 * copied still says 6. heif-enc 1.15 cannot write irot itself, so the boxes are edited here.
 */
function addIrot(heic: Buffer, angle: number): Buffer {
  const boxes = (from: number, to: number) => {
    const out = new Map<string, number>();
    for (let at = from; at + 8 <= to; at += heic.readUInt32BE(at)) out.set(heic.toString('latin1', at + 4, at + 8), at);
    return out;
  };
  const top = boxes(0, heic.length);
  const meta = top.get('meta')!;
  const inMeta = boxes(meta + 12, meta + heic.readUInt32BE(meta));
  const iprp = inMeta.get('iprp')!;
  const inIprp = boxes(iprp + 8, iprp + heic.readUInt32BE(iprp));
  const ipco = inIprp.get('ipco')!;
  const ipma = inIprp.get('ipma')!;
  const pitm = inMeta.get('pitm')!;
  const primary = heic[pitm + 8] === 0 ? heic.readUInt16BE(pitm + 12) : heic.readUInt32BE(pitm + 12);
  const propertyIndex = boxes(ipco + 8, ipco + heic.readUInt32BE(ipco)).size + 1;
  const delta = 10; // 9 bytes of irot, 1 more association in ipma

  // iloc: file offsets of the coded data move by delta when mdat follows meta.
  const buf = Buffer.from(heic);
  const iloc = inMeta.get('iloc')!;
  const version = buf[iloc + 8]!;
  const offsetSize = buf[iloc + 12]! >> 4;
  const lengthSize = buf[iloc + 12]! & 15;
  const baseSize = buf[iloc + 13]! >> 4;
  const indexSize = version > 0 ? buf[iloc + 13]! & 15 : 0;
  const readN = (at: number, n: number) => (n === 0 ? 0 : n === 4 ? buf.readUInt32BE(at) : Number(buf.readBigUInt64BE(at)));
  const writeN = (at: number, n: number, v: number) => (n === 4 ? buf.writeUInt32BE(v, at) : buf.writeBigUInt64BE(BigInt(v), at));
  let at = iloc + 14;
  const items = version < 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
  at += version < 2 ? 2 : 4;
  const mdatAfter = top.get('mdat')! > meta;
  for (let i = 0; i < items; i++) {
    at += version < 2 ? 2 : 4;
    const method = version > 0 ? buf.readUInt16BE(at) & 15 : 0;
    at += (version > 0 ? 2 : 0) + 2;
    const shift = method === 0 && mdatAfter;
    if (shift && baseSize > 0 && readN(at, baseSize) > 0) writeN(at, baseSize, readN(at, baseSize) + delta);
    const shiftExtents = shift && !(baseSize > 0 && readN(at, baseSize) > 0);
    at += baseSize;
    const extents = buf.readUInt16BE(at);
    at += 2;
    for (let e = 0; e < extents; e++) {
      at += indexSize;
      if (shiftExtents) writeN(at, offsetSize, readN(at, offsetSize) + delta);
      at += offsetSize + lengthSize;
    }
  }

  // ipma: one more (essential) association for the primary item.
  const ipmaVersion = buf[ipma + 8]!;
  const wide = (buf.readUInt32BE(ipma + 8) & 1) === 1;
  let p = ipma + 16;
  let insertAt = -1;
  for (let i = 0, n = buf.readUInt32BE(ipma + 12); i < n; i++) {
    const item = ipmaVersion < 1 ? buf.readUInt16BE(p) : buf.readUInt32BE(p);
    p += ipmaVersion < 1 ? 2 : 4;
    const count = buf[p]!;
    if (item === primary) {
      buf[p] = count + 1;
      insertAt = p + 1 + count * (wide ? 2 : 1);
    }
    p += 1 + count * (wide ? 2 : 1);
  }
  if (wide || insertAt < 0) throw new Error('unexpected ipma layout from heif-enc');
  const irot = Buffer.from([0, 0, 0, 9, ...Buffer.from('irot'), angle]);
  const ipcoEnd = ipco + buf.readUInt32BE(ipco);
  for (const [box, grow] of [[meta, delta], [iprp, delta], [ipco, 9], [ipma, 1]] as const) buf.writeUInt32BE(buf.readUInt32BE(box) + grow, box);
  return Buffer.concat([buf.subarray(0, ipcoEnd), irot, buf.subarray(ipcoEnd, insertAt), Buffer.from([0x80 | propertyIndex]), buf.subarray(insertAt)]);
}

/** One picture as JPEG, as HEVC HEIC (heif-enc), as JPEG XL (cjxl); a second one turned by its HEIC container. */
async function buildLibrary(root: string, scratch: string): Promise<Record<string, string>> {
  const jpeg = await writePhoto(path.join(root, 'A/IMG_0001.jpg'), { seed: 41, width: 960, height: 720, quality: 92 });
  const png = await writePhoto(path.join(scratch, 'a.png'), { seed: 41, width: 960, height: 720, format: 'png' });
  // A name that starts with '-' and holds a space and non-ASCII: it must reach the tools as a file.
  const heic = path.join(root, 'B/-IMG 0001 été.HEIC');
  fs.mkdirSync(path.dirname(heic), { recursive: true });
  execFileSync('heif-enc', ['-q', '80', '-o', heic, jpeg], { stdio: 'ignore' });
  const jxl = path.join(root, 'C/IMG_0001.jxl');
  fs.mkdirSync(path.dirname(jxl), { recursive: true });
  execFileSync('cjxl', [png, jxl, '-d', '1.0'], { stdio: 'ignore' });
  // Stored 640×480, shown 480×640: a JPEG saying orientation 6, and a HEIC saying irot 3 (and EXIF 6).
  const turnedJpeg = await writePhoto(path.join(root, 'A/turned.jpg'), { seed: 42, width: 640, height: 480, orientation: 6 });
  const flat = path.join(scratch, 'turned-flat.heic');
  execFileSync('heif-enc', ['-q', '80', '-o', flat, turnedJpeg], { stdio: 'ignore' });
  const turnedHeic = path.join(root, 'B/turned.heic');
  fs.writeFileSync(turnedHeic, addIrot(fs.readFileSync(flat), 3));
  const other = await writePhoto(path.join(root, 'A/other.jpg'), { seed: 43, width: 960, height: 720 });
  return { jpeg, heic, jxl, turnedJpeg, turnedHeic, other };
}

/** A fresh catalog and library of the same pictures in every format; fails (not skips) without the tools. */
async function library(t: Test) {
  if (missing.length) {
    t.fail(`missing ${missing.join(', ')}: install them (Debian: apt-get install libheif-examples libjxl-tools; .ci/run does)`);
    return null;
  }
  const config = await configFor(t, 'pglite');
  const root = tmpDir(t, 'lumina-heic-');
  return { env: envFor(config), root, files: await buildLibrary(root, tmpDir(t, 'lumina-heic-scratch-')) };
}

t.test('HEVC HEIC and JPEG XL are decoded by heif-convert and djxl, and found as duplicates of their JPEG', async (t) => {
  const setup = await library(t);
  if (!setup) return;
  const { env, root, files } = setup;
  t.match(execFileSync('heif-info', [path.resolve(files.heic!)]).toString(), /image: 960x720/, 'heif-enc wrote a HEIC');

  const run = await runCli(['ingest', root, '--catalog', 'Phones', '--json', '--workers', '2'], { env });
  t.equal(run.code, 0, run.stderr);
  t.equal(JSON.parse(run.stdout).errors, 0, 'no file in error');
  const list = await runCli(['assets', 'list', '--catalog', 'Phones', '--json', '--limit', '100'], { env });
  t.equal(list.code, 0, list.stderr);
  const assets = new Map((JSON.parse(list.stdout) as Record<string, any>[]).map((a) => [a.path, a]));

  for (const [name, width, height] of [['heic', 960, 720], ['jxl', 960, 720], ['turnedHeic', 480, 640], ['turnedJpeg', 480, 640]] as const) {
    const a = assets.get(files[name]!);
    t.equal(a?.status, 'ok', `${name}: ok (${a?.error_code}: ${a?.error})`);
    t.same([a?.width, a?.height], [width, height], `${name}: ${width}×${height}, upright and turned once`);
    t.match(a?.phash, /^[0-9a-f]{16}$/, `${name}: pHash`);
    t.ok(a?.thumbnail && fs.statSync(a.thumbnail).size > 0, `${name}: thumbnail written`);
  }

  const dupes = await runCli(['dupes', '--catalog', 'Phones', '--json', '--embeddings', 'off'], { env });
  t.equal(dupes.code, 0, dupes.stderr);
  const groups = JSON.parse(dupes.stdout).groups as { kind: string; members: { path: string }[] }[];
  const groupOf = (file: string) => groups.find((g) => g.members.some((m) => m.path === file));
  const same = groupOf(files.jpeg!);
  t.equal(same?.kind, 'near', 'the JPEG has a near-duplicate group');
  t.same(same?.members.map((m) => m.path).sort(), [files.jpeg, files.heic, files.jxl].sort(), 'JPEG, HEIC and JPEG XL of one picture, together');
  t.same(groupOf(files.turnedHeic!)?.members.map((m) => m.path).sort(), [files.turnedJpeg, files.turnedHeic].sort(), 'the irot HEIC matches the EXIF-turned JPEG: not turned twice');
  t.equal(groupOf(files.other!), undefined, 'another picture stays alone');
});

t.test('without heif-convert or djxl: HEIC keeps no_preview, JPEG XL says which tool it needs, and a later run with the tool decodes it', async (t) => {
  const setup = await library(t);
  if (!setup) return;
  const { env, root, files } = setup;
  const without = { ...env, LUMINA_HEIF_CONVERT: path.join(root, 'nowhere/heif-convert'), LUMINA_DJXL: path.join(root, 'nowhere/djxl') };

  const run = await runCli(['ingest', root, '--catalog', 'Bare', '--json', '--workers', '2'], { env: without });
  t.equal(run.code, 0, run.stderr);
  const listOf = async () => new Map((JSON.parse((await runCli(['assets', 'list', '--catalog', 'Bare', '--json', '--limit', '100'], { env })).stdout) as Record<string, any>[]).map((a) => [a.path, a]));
  let assets = await listOf();
  const heic = assets.get(files.heic!);
  t.equal(heic?.status, 'error');
  t.equal(heic?.error_code, 'no_preview', 'HEIC: as before the tools');
  t.match(heic?.error, /heif-convert.*libheif-examples.*metadata and checksum kept/);
  t.match(heic?.sha256, /^[0-9a-f]{64}$/, 'HEIC: checksum kept');
  t.same([heic?.width, heic?.height], [960, 720], 'HEIC: size from its metadata');
  const jxl = assets.get(files.jxl!);
  t.equal(jxl?.status, 'error');
  t.equal(jxl?.error_code, 'decoder_missing', 'JPEG XL: the decoder is missing');
  t.match(jxl?.error, /JPEG XL pixels need djxl \(Debian: libjxl-tools\)/);
  t.match(jxl?.sha256, /^[0-9a-f]{64}$/, 'JPEG XL: checksum kept');
  t.equal(jxl?.phash, null);
  t.equal(assets.get(files.jpeg!)?.status, 'ok', 'the JPEG is untouched');

  // decoder_missing is retried: once djxl is there, the unchanged file gets its pixels.
  const again = await runCli(['ingest', root, '--catalog', 'Bare', '--json', '--workers', '2'], { env });
  t.equal(again.code, 0, again.stderr);
  assets = await listOf();
  t.equal(assets.get(files.jxl!)?.status, 'ok', 'JPEG XL decoded on the next run');
  t.match(assets.get(files.jxl!)?.phash, /^[0-9a-f]{16}$/);
});

t.test('libvips on an HEVC HEIC says unsupported_codec every time, whatever else it decodes at once', async (t) => {
  const setup = await library(t);
  if (!setup) return;
  const heic = fs.readFileSync(setup.files.heic!);
  // Its failed decode's message is the last loader's ("bad seek", "Unknown error"): the code comes from the header.
  const codes = await Promise.all(Array.from({ length: 40 }, () => analyzePixels(heic, 100e6).then(() => 'decoded', (e) => (e instanceof PixelError ? e.code : String(e)))));
  t.same([...new Set(codes)], ['unsupported_codec']);
});
