import type { FileType } from './file-types.js';

/**
 * The quality score that picks the best copy among duplicates, 0–100:
 * format 40 %, resolution 35 %, file size (bytes per pixel) 15 %, metadata completeness 10 %.
 * Sharpness is measured beside it and kept as its own column.
 */
export interface QualityInput {
  ext: string;
  type: FileType;
  width: number | null;
  height: number | null;
  size: number;
  hasCaptureDate: boolean;
  hasCamera: boolean;
  hasGps: boolean;
  hasLens: boolean;
}

export interface Quality {
  score: number;
  format: number;
  resolution: number;
  file_size: number;
  metadata: number;
}

const FORMAT_SCORE: Record<string, number> = {
  dng: 1, tif: 0.95, tiff: 0.95, png: 0.9, jxl: 0.9, heic: 0.85, heif: 0.85, avif: 0.85,
  jpg: 0.75, jpeg: 0.75, webp: 0.7, bmp: 0.5, gif: 0.3,
};

export function qualityOf(q: QualityInput): Quality {
  const format = q.type === 'raw' ? 1 : (FORMAT_SCORE[q.ext] ?? (q.type === 'video' ? 0.7 : 0.5));
  const pixels = q.width && q.height ? q.width * q.height : 0;
  // Logarithmic: 24 MP and above is full marks; doubling the pixels always counts the same.
  const resolution = pixels ? Math.min(1, Math.log2(1 + pixels / 1e6) / Math.log2(25)) : 0;
  // 0.5 bytes per pixel is a high-quality JPEG; recompressed copies fall well below.
  const fileSize = pixels ? Math.min(1, q.size / pixels / 0.5) : 0;
  const metadata = [q.hasCaptureDate, q.hasCamera, q.hasGps, q.hasLens].filter(Boolean).length / 4;
  const score = 100 * (0.4 * format + 0.35 * resolution + 0.15 * fileSize + 0.1 * metadata);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { score: r(score), format: r(format), resolution: r(resolution), file_size: r(fileSize), metadata: r(metadata) };
}
