import os from 'node:os';
import { ExifTool, type Tags } from 'exiftool-vendored';
import { messageOf } from '../util/errors.js';

/**
 * ExifTool through exiftool-vendored: one pool of long-lived perl processes per Lumina process
 * (starting perl per file would cost more than reading the file).
 */
export class MetadataReader {
  readonly #exiftool: ExifTool;

  constructor(maxProcs = os.availableParallelism()) {
    this.#exiftool = new ExifTool({
      maxProcs,
      taskTimeoutMillis: 60_000,
      // Metadata of a damaged file is still worth keeping; ExifTool's own verdict goes in the error.
      ignoreMinorErrors: true,
    });
  }

  /** Never throws: a file ExifTool cannot parse yields its error message instead. */
  async read(file: string): Promise<{ tags: Tags; error: string | null }> {
    try {
      const tags = await this.#exiftool.read(file);
      const error = typeof tags.Error === 'string' ? tags.Error : null;
      return { tags, error };
    } catch (err) {
      return { tags: {} as Tags, error: `metadata: ${messageOf(err)}` };
    }
  }

  /**
   * The largest embedded JPEG a RAW or HEIC file carries, for libvips to decode in its place.
   * Returns null when there is none.
   */
  async embeddedPreview(file: string, tags: Tags): Promise<Buffer | null> {
    const t = tags as Record<string, unknown>;
    for (const tag of ['JpgFromRaw', 'PreviewImage', 'OtherImage', 'ThumbnailImage']) {
      if (t[tag] === undefined) continue;
      try {
        const buf = await this.#exiftool.extractBinaryTagToBuffer(tag, file);
        if (buf.length > 0) return buf;
      } catch {
        /* try the next one */
      }
    }
    return null;
  }

  async close(): Promise<void> {
    await this.#exiftool.end();
  }
}

export interface NormalizedMetadata {
  mime: string | null;
  make: string | null;
  model: string | null;
  lens: string | null;
  width: number | null;
  height: number | null;
  orientation: number | null;
  gpsLat: number | null;
  gpsLon: number | null;
  gpsAlt: number | null;
  durationS: number | null;
}

const str = (v: unknown): string | null => {
  if (v === undefined || v === null) return null;
  const s = String(v).replace(/\u0000/g, '').trim();
  return s ? s : null;
};
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number.parseFloat(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** The columns Lumina searches and sorts by, taken out of ExifTool's full output. */
export function normalizeMetadata(tags: Tags): NormalizedMetadata {
  const t = tags as Record<string, unknown>;
  const orientation = num(t.Orientation);
  const lat = num(t.GPSLatitude);
  const lon = num(t.GPSLongitude);
  return {
    mime: str(t.MIMEType),
    make: str(t.Make),
    model: str(t.Model),
    lens: str(t.LensModel ?? t.LensID ?? t.Lens),
    width: num(t.ImageWidth ?? t.ExifImageWidth),
    height: num(t.ImageHeight ?? t.ExifImageHeight),
    orientation: orientation !== null && orientation >= 1 && orientation <= 8 ? orientation : null,
    // 0,0 is what many devices write when they had no fix.
    gpsLat: lat !== null && lon !== null && !(lat === 0 && lon === 0) && Math.abs(lat) <= 90 ? lat : null,
    gpsLon: lat !== null && lon !== null && !(lat === 0 && lon === 0) && Math.abs(lon) <= 180 ? lon : null,
    gpsAlt: num(t.GPSAltitude),
    durationS: num(t.Duration),
  };
}

/** ExifTool's output as plain JSON for a jsonb column: dates as text. */
export function tagsToJson(tags: Tags): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(tags, (_key, value) => {
      if (value && typeof value === 'object' && typeof value.rawValue === 'string' && 'year' in value) {
        return typeof value.toISOString === 'function' ? (value.toISOString() ?? value.rawValue) : value.rawValue;
      }
      return value;
    }),
  );
}
