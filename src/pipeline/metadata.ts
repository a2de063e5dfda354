import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExifTool, exiftoolPath, type Tags } from 'exiftool-vendored';
import { exiftoolEnvironment } from '../config/config.js';
import { messageOf } from '../util/errors.js';

/**
 * Runs the vendored ExifTool script under a few lines of perl that end it when its request pipe
 * closes. In -stay_open mode ExifTool polls the pipe forever after end of file, so a Lumina killed
 * by a signal would leave every idle ExifTool process running; the kernel closes the pipe (a
 * socket pair, from Node) whatever killed us, and end of file on it means nobody will ever send
 * another request.
 */
const EXIT_WHEN_ORPHANED = `
use Symbol ();
BEGIN {
  *CORE::GLOBAL::sysread = sub (*\\$$;$) {
    my $fh = ref $_[0] ? $_[0] : Symbol::qualify_to_ref($_[0], scalar caller);
    my $n = @_ > 3 ? CORE::sysread($fh, \${$_[1]}, $_[2], $_[3]) : CORE::sysread($fh, \${$_[1]}, $_[2]);
    CORE::exit(0) if defined $n && $n == 0 && (-p $fh || -S $fh);
    return $n;
  };
}
$0 = shift @ARGV;
do $0;
die $@ if $@;
`;

/** ExifTool refuses arguments with control characters in them (a newline in a file name). */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * ExifTool processes for `workers` file threads: one per thread. Measured on 2 cores: ExifTool
 * alone read the bench corpus faster with 2 processes than with 4 or 6 (perl then spent 7–9 ms of
 * CPU per file instead of 5.5, the processes taking turns on the cores), and the ingest end to
 * end was the same with 2 or 4: with a few files in flight per thread, the threads never wait for
 * ExifTool, whose latency (a millisecond or two per request in batch-cluster) is hidden.
 */
export function exiftoolProcsFor(workers: number): number {
  return workers;
}

/**
 * ExifTool through exiftool-vendored: one pool of long-lived perl processes per Lumina process
 * (starting perl per file would cost more than reading the file).
 */
export class MetadataReader {
  readonly #exiftool: ExifTool;
  /** A private folder for the links that stand in for names ExifTool cannot be given; made on first use. */
  #aliasDir: Promise<string> | null = null;
  #aliases = 0;

  readonly procs: number;

  constructor(maxProcs = exiftoolProcsFor(os.availableParallelism())) {
    this.procs = maxProcs;
    this.#exiftool = new ExifTool({
      maxProcs,
      // batch-cluster starts one process per 1.5 s by default: a pool of N reached its size only
      // after (N − 1) × 1.5 s, so the first seconds of every ingest read metadata through one.
      minDelayBetweenSpawnMillis: 0,
      taskTimeoutMillis: 60_000,
      // Metadata of a damaged file is still worth keeping; ExifTool's own verdict goes in the error.
      ignoreMinorErrors: true,
      ...(process.platform === 'win32'
        ? {}
        : {
            processFactory: async () =>
              spawn('perl', ['-e', EXIT_WHEN_ORPHANED, await exiftoolPath(), '-stay_open', 'True', '-@', '-'], {
                stdio: 'pipe',
                env: exiftoolEnvironment(),
              }),
          }),
    });
  }

  /**
   * Starts every process now (perl loading ExifTool takes about 0.1 s of CPU each), so the first
   * files do not wait for it; never rejects.
   */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.procs }, () => this.#exiftool.version().catch(() => undefined)));
  }

  /** Never throws: a file ExifTool cannot parse yields its error message instead. */
  async read(file: string): Promise<{ tags: Tags; error: string | null }> {
    try {
      const tags = await this.#withName(file, (name) => this.#exiftool.read(name));
      if (tags.SourceFile !== file) Object.assign(tags, { SourceFile: file, FileName: path.basename(file), Directory: path.dirname(file) });
      const error = typeof tags.Error === 'string' ? tags.Error : null;
      return { tags, error };
    } catch (err) {
      return { tags: {} as Tags, error: `metadata: ${messageOf(err)}` };
    }
  }

  /**
   * Calls ExifTool with a name it accepts: the file's own, or for a name with a control character
   * in it, a symbolic link to it under a plain name with the same extension (ExifTool reads the
   * extension), removed afterwards.
   */
  async #withName<T>(file: string, use: (name: string) => Promise<T>): Promise<T> {
    if (!CONTROL_CHARACTER.test(file)) return use(file);
    // One folder for every concurrent call: the promise is kept, not its result.
    this.#aliasDir ??= fs.promises.mkdtemp(path.join(os.tmpdir(), 'lumina-exiftool-'));
    const ext = path.extname(file).replace(new RegExp(CONTROL_CHARACTER, 'g'), '');
    const alias = path.join(await this.#aliasDir, `${this.#aliases++}${ext}`);
    await fs.promises.symlink(path.resolve(file), alias);
    try {
      return await use(alias);
    } finally {
      await fs.promises.rm(alias, { force: true });
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
        const buf = await this.#withName(file, (name) => this.#exiftool.extractBinaryTagToBuffer(tag, name));
        if (buf.length > 0) return buf;
      } catch {
        /* try the next one */
      }
    }
    return null;
  }

  async close(): Promise<void> {
    await this.#exiftool.end();
    if (this.#aliasDir) await fs.promises.rm(await this.#aliasDir, { recursive: true, force: true });
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
