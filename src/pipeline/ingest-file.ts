import sharp from 'sharp';
import type { AssetWrite } from '../db/assets.js';
import type { FileError } from '../model/file-errors.js';
import type { FileTask, FileTaskResult } from '../workers/file-task.js';
import type { SharedResults } from '../workers/shared-results.js';
import { messageOf } from '../util/errors.js';
import { captureDate } from './capture-date.js';
import type { DiscoveredFile } from './discover.js';
import { decodeExternally, ExternalDecodeError, missingToolMessage, type ExternalDecoders, type ExternalFormat } from './external-decode.js';
import { needsEmbeddedPreview } from './file-types.js';
import { FINGERPRINT_VERSION, hashToInt8 } from './fingerprint.js';
import { normalizeMetadata, tagsToJson, type MetadataReader } from './metadata.js';
import { qualityOf } from './quality.js';
import { notRegular } from './safe-read.js';
import { extractVideoFrame } from './video-frame.js';

/** What one file's processing needs from its surroundings: the edges it may touch. */
export interface FileEdges {
  metadata: MetadataReader;
  runTask(task: FileTask): Promise<FileTaskResult>;
  ffmpeg: string | null;
  /** heif-convert and djxl where installed: HEVC HEIC and JPEG XL pixels. */
  decoders: ExternalDecoders;
  thumbnailDir: string;
  maxPixels: number;
  jobId: string;
}

/**
 * Steps 3 to 5 of the pipeline for one file: checksum, metadata, capture date, pixels,
 * fingerprints, quality and thumbnail. Never throws for a bad file: the row carries the error.
 */
export async function ingestFile(edges: FileEdges, file: DiscoveredFile, results: SharedResults, slot: number): Promise<{ row: AssetWrite; metadataMs: number }> {
  const t0 = performance.now();
  let metadataMs = 0;
  // A FIFO or device swapped in since discovery would hang ExifTool and the read: neither is asked.
  const irregular = await notRegular(file.path);
  if (irregular) return { row: failedRow(edges, file, irregular), metadataMs: 0 };
  // Normalized once, here: the frame extraction and the row both read it.
  const metaPromise = edges.metadata.read(file.path).then((m) => ((metadataMs = performance.now() - t0), { ...m, meta: normalizeMetadata(m.tags) }));
  const task: FileTask = {
    results: results.buffer,
    slot,
    path: file.path,
    size: file.size,
    type: file.type,
    decodeFile: file.type === 'image' && file.size > 0,
    thumbnailDir: edges.thumbnailDir,
    maxPixels: edges.maxPixels,
  };

  let pixelNote: FileError | null = null;
  let outcome: FileTaskResult;
  if (file.type === 'image' && !needsEmbeddedPreview(file.ext, file.type) && !decodedByFfmpeg(file) && externalFormatOf(file) === null) {
    // Metadata and pixels at once: ExifTool runs in its own processes, the pool on the cores.
    outcome = await edges.runTask(task);
  } else {
    const { tags, meta } = await metaPromise;
    const external = externalFormatOf(file);
    const tool = external ? edges.decoders[external] : null;
    // Decodes with the external tool into the task; false (with pixelNote set) when it gives no pixels.
    let toolTried = false;
    const decodeWithTool = async (): Promise<boolean> => {
      toolTried = true;
      try {
        task.pixels = new Uint8Array(await decodeExternally(tool!, external!, file.path, edges.maxPixels, meta));
        task.decodeFile = false;
        return true;
      } catch (err) {
        pixelNote = err instanceof ExternalDecodeError ? { code: err.code, message: err.message } : { code: 'undecodable', message: `cannot decode image: ${messageOf(err)}` };
        return false;
      }
    };
    let previewUsed = false;
    if (file.size > 0 && needsEmbeddedPreview(file.ext, file.type)) {
      const preview = await edges.metadata.embeddedPreview(file.path, tags);
      // With heif-convert, a small preview (an EXIF thumbnail) gives way to the picture itself.
      const toolFirst = tool !== null && !(preview && (await coversPicture(preview, meta)));
      if (toolFirst && (await decodeWithTool())) {
        /* decoded */
      } else if (preview) {
        task.pixels = new Uint8Array(preview);
        task.decodeFile = false;
        previewUsed = true;
        pixelNote = null;
      } else if (toolFirst) {
        task.decodeFile = false;
      } else if (file.type === 'raw') {
        pixelNote = { code: 'no_preview', message: 'no embedded preview in this RAW file: metadata and checksum kept, no pixels' };
      }
    } else if (external && file.size > 0) {
      task.decodeFile = false;
      if (tool) await decodeWithTool();
      else pixelNote = { code: 'decoder_missing', message: missingToolMessage(external) };
    } else if (decodedByFfmpeg(file) && file.size > 0) {
      task.decodeFile = false;
      if (edges.ffmpeg) {
        try {
          task.pixels = new Uint8Array(await extractVideoFrame(edges.ffmpeg, file.path, meta.durationS));
        } catch (err) {
          pixelNote = { code: 'frame_failed', message: (err as Error).message };
        }
      } else if (file.type === 'image') {
        pixelNote = { code: 'decoder_missing', message: `${file.ext.toUpperCase()} pixels are decoded through ffmpeg, which is not installed: metadata and checksum kept` };
      }
    }
    outcome = await edges.runTask(task);
    // A preview libvips refuses: heif-convert decodes the file itself, once.
    if (outcome.pixelError && previewUsed && tool && !toolTried && (await decodeWithTool())) outcome = await edges.runTask(task);
  }
  const { tags, error: metaError, meta } = await metaPromise;

  const px = results.pixelsOf(slot);
  const date = captureDate(tags as Record<string, unknown>, file.path, file.mtimeMs);
  const width = px?.width ?? meta.width;
  const height = px?.height ?? meta.height;
  const quality = qualityOf({
    ext: file.ext,
    type: file.type,
    width,
    height,
    size: file.size,
    hasCaptureDate: date.confidence >= 85,
    hasCamera: Boolean(meta.make || meta.model),
    hasGps: meta.gpsLat !== null,
    hasLens: Boolean(meta.lens),
  });

  const error = fileError(file, outcome, pixelNote, metaError, meta.mime);
  const damage: FileError | null =
    !error && outcome.damage ? { code: 'damaged', message: `damaged image data: ${outcome.damage} (decoded with gaps; hashes kept)` } : null;
  const timings = { ...results.timingsOf(slot), metadata: Math.round(metadataMs * 100) / 100 };
  return {
    metadataMs,
    row: {
      path: file.path,
      size: file.size,
      mtime: new Date(file.mtimeMs),
      sha256: results.sha256Of(slot),
      file_type: file.type,
      ext: file.ext,
      mime: meta.mime,
      width,
      height,
      orientation: px?.orientation ?? meta.orientation,
      taken_at: date.takenAt,
      taken_at_local: date.local,
      tz_offset_min: date.offsetMinutes,
      date_source: date.source,
      date_confidence: date.confidence,
      date_suspicious: date.suspicious,
      date_flags: date.flags,
      make: meta.make,
      model: meta.model,
      lens: meta.lens,
      gps_lat: meta.gpsLat,
      gps_lon: meta.gpsLon,
      gps_alt: meta.gpsAlt,
      duration_s: meta.durationS,
      dhash: px ? hashToInt8(px.dhash) : null,
      phash: px ? hashToInt8(px.phash) : null,
      phash_sign: px ? hashToInt8(px.phashSign) : null,
      fingerprint_version: FINGERPRINT_VERSION,
      quality_score: error ? null : quality.score,
      quality: error ? null : quality,
      sharpness: px?.sharpness ?? null,
      exif: tagsToJson(tags),
      thumbnail_key: outcome.thumbnailKey ?? null,
      status: error ? 'error' : damage ? 'damaged' : 'ok',
      error: (error ?? damage)?.message ?? null,
      error_code: (error ?? damage)?.code ?? null,
      metadata_error: metaError,
      timings,
      seen_job: edges.jobId,
    },
  };
}

/** Videos give a frame; BMP is a format the prebuilt libvips does not read. */
function decodedByFfmpeg(file: DiscoveredFile): boolean {
  return file.type === 'video' || file.ext === 'bmp';
}

/** HEIC/HEIF (HEVC: most iPhone photos) and JPEG XL: formats the prebuilt libvips does not decode. */
function externalFormatOf(file: DiscoveredFile): ExternalFormat | null {
  if (file.type !== 'image') return null;
  return file.ext === 'heic' || file.ext === 'heif' ? 'heif' : file.ext === 'jxl' ? 'jxl' : null;
}

/** Whether an embedded JPEG is the whole picture (its long side at least the file's), not a thumbnail; unknown sizes say no. */
async function coversPicture(jpeg: Buffer, meta: { width: number | null; height: number | null }): Promise<boolean> {
  // libvips reads the size from the header alone.
  const size = await sharp(jpeg).metadata().catch(() => null);
  if (!size?.width || !size.height || !meta.width || !meta.height) return false;
  return Math.max(size.width, size.height) >= Math.max(meta.width, meta.height);
}

/** The one error a user reads for a file that could not be fully processed, with its code; or null. */
function fileError(file: DiscoveredFile, outcome: FileTaskResult, pixelNote: FileError | null, metaError: string | null, mime: string | null): FileError | null {
  if (outcome.readError) return outcome.readError;
  if (file.size === 0) return { code: 'empty', message: 'empty file (0 bytes)' };
  if (outcome.pixelError) {
    if (outcome.pixelError.code === 'unsupported_codec' && file.ext.startsWith('hei')) {
      return { code: 'no_preview', message: 'HEIC pixels need an HEVC decoder this libvips lacks (heif-convert, Debian: libheif-examples) and the file has no embedded JPEG preview: metadata and checksum kept' };
    }
    return outcome.pixelError;
  }
  if (file.type === 'video' && metaError) return { code: 'video_unreadable', message: `not a readable video: ${metaError}` };
  if (file.type === 'video' && mime && !/^(video|audio)\//.test(mime)) return { code: 'mislabelled', message: `not a readable video: the content is ${mime} (mislabelled)` };
  return pixelNote;
}

/** The row of a file that could not be read at all: what discovery knew, the error, nothing else. */
function failedRow(edges: FileEdges, file: DiscoveredFile, error: FileError): AssetWrite {
  const date = captureDate({}, file.path, file.mtimeMs);
  return {
    path: file.path, size: file.size, mtime: new Date(file.mtimeMs), sha256: null, file_type: file.type, ext: file.ext, mime: null,
    width: null, height: null, orientation: null, taken_at: date.takenAt, taken_at_local: date.local, tz_offset_min: date.offsetMinutes,
    date_source: date.source, date_confidence: date.confidence, date_suspicious: date.suspicious, date_flags: date.flags,
    make: null, model: null, lens: null, gps_lat: null, gps_lon: null, gps_alt: null, duration_s: null,
    dhash: null, phash: null, phash_sign: null, fingerprint_version: FINGERPRINT_VERSION, quality_score: null, quality: null, sharpness: null,
    exif: null, thumbnail_key: null, status: 'error', error: error.message, error_code: error.code, metadata_error: null, timings: null, seen_job: edges.jobId,
  };
}
