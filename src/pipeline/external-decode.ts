/** HEIC/HEIF and JPEG XL pixels through Debian's command-line decoders, which the prebuilt libvips lacks. */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FileErrorCode } from '../model/file-errors.js';

/** The formats an external tool decodes: HEIF (HEVC or AV1 inside) and JPEG XL. */
export type ExternalFormat = 'heif' | 'jxl';

/** One format's tools as found on this machine: the decoder, and the probe that reads its size. */
export interface ExternalTool {
  decoder: string;
  /** heif-info / jxlinfo; null when missing: the size check then uses ExifTool's dimensions. */
  probe: string | null;
}

/** The tools found, per format; null where the decoder is not installed. */
export type ExternalDecoders = Record<ExternalFormat, ExternalTool | null>;

/** Why an external decode gave no pixels, with the code the asset stores. */
export class ExternalDecodeError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExternalDecodeError';
  }
}

const SPEC = {
  heif: { label: 'heif-convert', probe: 'heif-info', probeArgs: ['-h'], versionArgs: ['-h'], pkg: 'libheif-examples' },
  jxl: { label: 'djxl', probe: 'jxlinfo', probeArgs: ['-h'], versionArgs: ['--version'], pkg: 'libjxl-tools' },
} as const;

/** How long one decode may take before it is killed (a stuck or hostile file). */
const DECODE_TIMEOUT_MS = 60_000;

const found = new Map<string, boolean>();

/** Whether `candidate args` runs and exits 0; asked once per process and binary. */
function runs(candidate: string, args: readonly string[]): boolean {
  let hit = found.get(candidate);
  if (hit === undefined) {
    const probe = spawnSync(candidate, args, { stdio: 'ignore', timeout: 10_000 });
    found.set(candidate, (hit = probe.status === 0));
  }
  return hit;
}

/**
 * The configured decoders (config `heifConvert`, `djxl`; default on PATH), looked up once. A probe
 * is looked for beside a decoder given as a path, else on PATH.
 */
export function findExternalDecoders(config: { heifConvert: string; djxl: string }): ExternalDecoders {
  const find = (format: ExternalFormat, decoder: string): ExternalTool | null => {
    const s = SPEC[format];
    if (!runs(decoder, s.versionArgs)) return null;
    const probe = decoder.includes('/') ? path.join(path.dirname(decoder), s.probe) : s.probe;
    return { decoder, probe: runs(probe, s.probeArgs) ? probe : null };
  };
  return { heif: find('heif', config.heifConvert), jxl: find('jxl', config.djxl) };
}

/** The message of a file whose format needs a tool this machine lacks. */
export function missingToolMessage(format: ExternalFormat): string {
  const s = SPEC[format];
  const what = format === 'heif' ? 'HEVC HEIC/HEIF' : 'JPEG XL';
  return `${what} pixels need ${s.label} (Debian: ${s.pkg}), which is not installed: metadata and checksum kept`;
}

/**
 * The picture as PNG bytes, upright (HEIF's irot/imir applied by heif-convert, JPEG XL's
 * orientation by djxl) and without EXIF, so libvips does not rotate it a second time. Sizes over
 * `maxPixels` are refused before decoding when the probe or `knownSize` tells them.
 */
export async function decodeExternally(
  tool: ExternalTool,
  format: ExternalFormat,
  file: string,
  maxPixels: number,
  knownSize: { width: number | null; height: number | null } = { width: null, height: null },
): Promise<Buffer> {
  // Absolute, so a name starting with '-' is never read as an option; no shell is involved.
  const input = path.resolve(file);
  const probed = tool.probe ? await probe(tool.probe, format, input) : null;
  const size = probed ?? (knownSize.width && knownSize.height ? { width: knownSize.width, height: knownSize.height, index: 0 } : null);
  if (size) refuseOverLimit(size.width, size.height, maxPixels);

  // mkdtemp makes it 0700: the picture is private to this user until it is removed.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lumina-decode-'));
  try {
    const out = path.join(dir, 'out.png');
    const args = format === 'heif' ? ['--quiet', input, out] : [input, out, '--num_threads=1'];
    await run(tool.decoder, args, SPEC[format].label, DECODE_TIMEOUT_MS);
    // heif-convert names the images of a multi-image file out-1.png, out-2.png…; the primary is the one probed.
    const names = await fs.readdir(dir);
    const name = names.includes('out.png') ? 'out.png' : names.includes(`out-${(size?.index ?? 0) + 1}.png`) ? `out-${(size?.index ?? 0) + 1}.png` : names.sort()[0];
    if (!name) throw new ExternalDecodeError('undecodable', `cannot decode image: ${SPEC[format].label} wrote no picture`);
    const target = path.join(dir, name);
    // Eight bytes a pixel is 16-bit RGBA uncompressed: a PNG larger than that is not the picture probed.
    if ((await fs.stat(target)).size > maxPixels * 8 + (16 << 20)) refuseOverLimit(Infinity, 1, maxPixels);
    return uprightPng(await fs.readFile(target), maxPixels);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The primary image's stored size (and its place among the file's images), or null when the probe cannot tell. */
async function probe(bin: string, format: ExternalFormat, input: string): Promise<{ width: number; height: number; index: number } | null> {
  const text = await run(bin, [input], SPEC[format].probe, 10_000);
  if (format === 'jxl') {
    const m = /JPEG XL (?:image|animation), (\d+)x(\d+)/.exec(text);
    return m ? { width: Number(m[1]), height: Number(m[2]), index: 0 } : null;
  }
  const images = [...text.matchAll(/^image: (\d+)x(\d+) \(id=\d+\)(, primary)?/gm)];
  const index = Math.max(0, images.findIndex((m) => m[3]));
  const m = images[index];
  return m ? { width: Number(m[1]), height: Number(m[2]), index } : null;
}

function refuseOverLimit(width: number, height: number, maxPixels: number): void {
  if (width * height <= maxPixels) return;
  const size = Number.isFinite(width) ? `${width}×${height} (${((width * height) / 1e6).toFixed(0)} MP) is` : 'the decoded picture is';
  throw new ExternalDecodeError(
    'too_large',
    `refused to decode: ${size} over the pixel limit of ${(maxPixels / 1e6).toFixed(0)} MP, a guard against decompression bombs (raise it with --max-pixels)`,
  );
}

/** Runs a tool to completion; its stdout, or an ExternalDecodeError naming the tool and its last words. */
function run(bin: string, args: string[], label: string, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8', maxBuffer: 1 << 20, timeout, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') return reject(new ExternalDecodeError('decoder_missing', `${label} is no longer installed: metadata and checksum kept`));
      if (e.killed) return reject(new ExternalDecodeError('undecodable', `cannot decode image: ${label} gave up after ${timeout / 1000} s`));
      // The complaint is on stderr; heif-info prints what it did parse on stdout first.
      const last = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
      const why = `${label}: ${last(stderr) ?? last(stdout) ?? e.message}`;
      // The tools' words translated once, here, as pixels.ts does for libvips.
      if (/truncated|unexpected end/i.test(why)) reject(new ExternalDecodeError('truncated', `truncated image data: ${why}`));
      else reject(new ExternalDecodeError('undecodable', `cannot decode image: ${why}`));
    });
  });
}

/** PNG chunks that describe pixels; the rest (eXIf, text, time) are dropped. */
const KEPT_CHUNKS = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'cICP']);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The PNG without its EXIF: heif-convert copies the file's EXIF, orientation tag included, beside
 * pixels it has already turned upright (iPhone files carry both irot and orientation 6).
 */
export function uprightPng(png: Buffer, maxPixels: number): Buffer {
  if (png.length < 33 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new ExternalDecodeError('undecodable', 'cannot decode image: the decoder wrote no PNG');
  }
  refuseOverLimit(png.readUInt32BE(16), png.readUInt32BE(20), maxPixels);
  const parts: Buffer[] = [PNG_SIGNATURE];
  for (let at = 8; at + 12 <= png.length; ) {
    const end = at + 12 + png.readUInt32BE(at);
    if (end > png.length) break;
    if (KEPT_CHUNKS.has(png.toString('latin1', at + 4, at + 8))) parts.push(png.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
}
