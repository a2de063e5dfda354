import sharp, { type SharpOptions } from 'sharp';
import type { FileErrorCode } from '../model/file-errors.js';
import { messageOf } from '../util/errors.js';
import { dhashFromGray, laplacianVariance, lumaOf, phashesFromGray, resampleGray, trimBox } from './fingerprint.js';

/** Longest side of the thumbnail, and of the decode: libvips shrinks on load to about this. */
export const THUMBNAIL_SIZE = 256;
/**
 * The thumbnail is a JPEG at this quality, or a WebP (THUMBNAIL_WEBP_QUALITY) when the picture
 * has transparency, which JPEG cannot keep. Measured over a whole ingest, WebP cost 4 ms of
 * CPU a file more than JPEG (a twelfth of the floor: SHA-256, decode and ExifTool), for thumbnails a third
 * smaller (5.8 KB against 8.6 KB at 256 px over the real photos of the quality corpus).
 */
export const THUMBNAIL_JPEG_QUALITY = 80;
export const THUMBNAIL_WEBP_QUALITY = 75;
export const THUMBNAIL_EXTS = ['jpg', 'webp'] as const;
export type ThumbnailExt = (typeof THUMBNAIL_EXTS)[number];
/** Whether a file name is a thumbnail's (of this version or an earlier one). */
export const isThumbnailFile = (name: string) => THUMBNAIL_EXTS.some((ext) => name.endsWith(`.${ext}`));

/** Side of the square CNN input (MobileNetV2's). */
export const EMBED_SIZE = 224;

export interface PixelAnalysis {
  /** As displayed (EXIF orientation applied). */
  width: number;
  height: number;
  orientation: number;
  dhash: bigint;
  phash: bigint;
  /** pHash by sign instead of median: what near-duplicate search compares. */
  phashSign: bigint;
  sharpness: number;
  thumbnail: Buffer;
  /** The thumbnail's format, as its file's extension. */
  thumbnailExt: ThumbnailExt;
  /** The decoder's complaint about corrupt data it decoded around (the picture has gaps), or null. */
  damage: string | null;
  timings: { decode: number; fingerprint: number; thumbnail: number };
}

/**
 * libjpeg's warnings about entropy data it could not decode ("premature end of data segment",
 * "bad Huffman code"): it fills the rest with grey and goes on. Extraneous bytes before a marker
 * are also reported as corrupt data, but cost no pixels.
 */
const CORRUPT_DATA = /corrupt|bogus|invalid|huffman|resync/i;
const HARMLESS_WARNING = /extraneous bytes before marker/i;

/** A picture whose pixels cannot be analysed; the code says why for programs, the message for people. */
export class PixelError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PixelError';
  }
}

/**
 * Decodes an image once, shrunk on load to thumbnail size with the EXIF orientation applied, and
 * derives from those pixels the perceptual hashes, a sharpness measure and the thumbnail.
 */
export interface AnalyzeOptions {
  /**
   * Where the decoder's warning on a JPEG that failed the strict decode is asked for again. libvips
   * keeps its error text in one buffer per process, which every sharp call clears when it ends: with
   * other threads decoding, the message that came with the failure may be wiped or mixed with
   * theirs. Without this, that message is taken as it came (right when nothing else decodes).
   */
  jpegWarning?: (source: Buffer, maxPixels: number) => Promise<string | null>;
}

export async function analyzePixels(source: Buffer, maxPixels: number, opts2: AnalyzeOptions = {}): Promise<PixelAnalysis> {
  if (source.length === 0) throw new PixelError('empty', 'empty file (0 bytes)');
  const t0 = performance.now();
  const opts = { limitInputPixels: maxPixels, failOn: 'truncated' as const, sequentialRead: true };
  let header;
  try {
    // Reading the header decodes no pixels, so it may look at any size and say what it found.
    header = await sharp(source, { ...opts, limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeError(err);
  }
  const { width = 0, height = 0 } = header;
  if (!width || !height) throw new PixelError('no_dimensions', 'image has no dimensions');
  if (width * height > maxPixels) {
    throw new PixelError(
      'too_large',
      `refused to decode: ${width}×${height} (${(width * height / 1e6).toFixed(0)} MP) is over the pixel limit of ` +
        `${(maxPixels / 1e6).toFixed(0)} MP, a guard against decompression bombs (raise it with --max-pixels)`,
    );
  }
  // The prebuilt libvips reads AVIF but not HEVC (most HEIC): said from the header, since the
  // failed decode's message is whichever loader libvips tried last ("bad seek", "Unknown error").
  if (header.format === 'heif' && header.compression === 'hevc') {
    throw new PixelError('unsupported_codec', 'cannot decode image: HEVC-compressed HEIF, which this libvips does not decode');
  }
  const orientation = header.orientation && header.orientation >= 1 && header.orientation <= 8 ? header.orientation : 1;
  const swap = orientation >= 5;

  const decode = (failOn: 'truncated' | 'warning') => decodeShrunk(source, { ...opts, failOn });
  let base;
  let damage: string | null = null;
  try {
    // A JPEG is decoded strictly first: libvips says nothing of corrupt data it decodes around
    // unless asked to fail on it. Only a file that fails is decoded a second time, tolerantly.
    base = await decode(header.format === 'jpeg' ? 'warning' : 'truncated');
  } catch (strict) {
    if (header.format !== 'jpeg') throw decodeError(strict);
    try {
      base = await decode('truncated');
    } catch (err) {
      throw decodeError(err);
    }
    const warning = (opts2.jpegWarning ? await opts2.jpegWarning(source, maxPixels) : null) ?? warningIn(strict);
    if (warning === null || (CORRUPT_DATA.test(warning) && !HARMLESS_WARNING.test(warning))) {
      damage = warning ?? 'corrupt JPEG data (the decoder gave no message)';
    }
  }
  const t1 = performance.now();

  const { width: bw, height: bh, channels } = base.info;
  const gray = lumaOf(base.data, channels, bw * bh);
  // Hashed inside a plain border, if the picture has one: a framed copy hashes like its original.
  const box = trimBox(gray, bw, bh);
  const dhash = dhashFromGray(resampleGray(gray, bw, box, 9, 8));
  const { phash, phashSign } = phashesFromGray(resampleGray(gray, bw, box, 32, 32));
  const sharpness = laplacianVariance(gray, bw, bh);
  const t2 = performance.now();

  const rawBase = { raw: { width: bw, height: bh, channels } };
  // An alpha channel that is opaque everywhere (common in PNGs) is dropped: a JPEG shows it all.
  const hasAlpha = (channels === 2 || channels === 4) && !opaque(base.data, channels);
  const encoder = sharp(base.data, rawBase);
  const thumbnail = await (hasAlpha ? encoder.webp({ quality: THUMBNAIL_WEBP_QUALITY, effort: 2 }) : encoder.removeAlpha().jpeg({ quality: THUMBNAIL_JPEG_QUALITY })).toBuffer();
  const t3 = performance.now();

  return {
    width: swap ? height : width,
    height: swap ? width : height,
    orientation,
    dhash,
    phash,
    phashSign,
    sharpness: Math.round(sharpness * 10) / 10,
    thumbnail,
    thumbnailExt: hasAlpha ? 'webp' : 'jpg',
    damage,
    timings: { decode: t1 - t0, fingerprint: t2 - t1, thumbnail: t3 - t2 },
  };
}

/**
 * The CNN's EMBED_SIZE² RGB input, cut from a picture's thumbnail inside its plain border (as
 * the hashes are): the embed stage never opens the original, and ingest spends nothing on it.
 * Made at ingest instead, it cost a third resize and a WebP encode per file (5 ms, a tenth of
 * ingest's CPU) and a spool of some 8 GB per 10^6 pictures until `dupes` ran.
 */
export async function cnnInput(thumbnail: string | Buffer): Promise<Buffer> {
  const { data, info } = await sharp(thumbnail).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const box = trimBox(lumaOf(data, info.channels, info.width * info.height), info.width, info.height);
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .extract(box)
    .resize(EMBED_SIZE, EMBED_SIZE, { fit: 'fill' })
    .raw()
    .toBuffer();
}

/** Whether every pixel's alpha (the last of `channels` bands) is full. */
function opaque(pixels: Uint8Array, channels: number): boolean {
  for (let i = channels - 1; i < pixels.length; i += channels) if (pixels[i] !== 255) return false;
  return true;
}

/** The one decode every path shares: shrunk on load to thumbnail size, EXIF orientation applied. */
function decodeShrunk(source: Buffer, opts: SharpOptions) {
  return sharp(source, opts)
    .rotate()
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
}

/** The decoder's first warning in a strict decode's error; null when the text is not libjpeg's (lost). */
function warningIn(err: unknown): string | null {
  const line = messageOf(err).split('\n').find((l) => l.startsWith('VipsJpeg:'));
  return line ? line.replace(/^VipsJpeg:\s*/, '').trim() : null;
}

/**
 * Decodes a JPEG strictly and returns the decoder's first warning, or null when it decodes clean.
 * Trustworthy only where no other decode runs in the same process at the same time.
 */
export async function jpegWarning(source: Buffer, maxPixels: number): Promise<string | null> {
  try {
    await decodeShrunk(source, { limitInputPixels: maxPixels, failOn: 'warning', sequentialRead: true });
    return null;
  } catch (err) {
    return warningIn(err) ?? messageOf(err).split('\n')[0]!.trim();
  }
}

/** sharp's decode errors, translated once: libvips says what went wrong only in its message text. */
function decodeError(err: unknown): PixelError {
  const m = messageOf(err);
  if (/unsupported image format/i.test(m)) return new PixelError('undecodable', 'not a decodable image: the content is not in any format libvips reads (corrupt, or mislabelled)');
  if (/pixel limit/i.test(m)) return new PixelError('too_large', 'refused to decode: over the pixel limit, a guard against decompression bombs (raise it with --max-pixels)');
  if (/premature end|truncated|unexpected end|end of (file|stream)|short read|not enough data/i.test(m)) return new PixelError('truncated', `truncated image data: ${m}`);
  if (/compression format|heif|hevc/i.test(m)) return new PixelError('unsupported_codec', `cannot decode image: ${m}`);
  return new PixelError('undecodable', `cannot decode image: ${m}`);
}
