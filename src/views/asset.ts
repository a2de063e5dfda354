import path from 'node:path';
import type { AssetRow } from '../db/assets.js';
import { formatCaptureDate } from '../pipeline/capture-date.js';
import { hashToHex } from '../pipeline/fingerprint.js';

/** An asset as the CLI's --json and the API show it: snake_case, hex hashes, absolute paths. */
export function assetView(row: AssetRow, thumbnailDir: string) {
  return {
    id: Number(row.id),
    path: row.path,
    size: Number(row.size),
    mtime: row.mtime.toISOString(),
    sha256: row.sha256 ? Buffer.from(row.sha256).toString('hex') : null,
    file_type: row.file_type,
    mime: row.mime,
    width: row.width,
    height: row.height,
    orientation: row.orientation,
    taken_at: formatCaptureDate(row.taken_at_local, row.tz_offset_min),
    date_source: row.date_source,
    date_confidence: row.date_confidence,
    date_suspicious: row.date_suspicious,
    date_flags: row.date_flags,
    make: row.make,
    model: row.model,
    lens: row.lens,
    gps: row.gps_lat !== null && row.gps_lon !== null ? { lat: row.gps_lat, lon: row.gps_lon, alt: row.gps_alt } : null,
    duration_s: row.duration_s,
    dhash: row.dhash !== null ? hashToHex(BigInt(row.dhash)) : null,
    phash: row.phash !== null ? hashToHex(BigInt(row.phash)) : null,
    quality_score: row.quality_score,
    quality: row.quality,
    sharpness: row.sharpness,
    thumbnail: row.thumbnail_key ? path.join(thumbnailDir, row.thumbnail_key) : null,
    status: row.status,
    error: row.error,
    error_code: row.error_code ?? null,
    metadata_error: row.metadata_error ?? null,
  };
}

export type AssetView = ReturnType<typeof assetView>;
