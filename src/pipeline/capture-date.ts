/**
 * The true capture date, by a confidence ladder: the best source present wins.
 *   95 EXIF DateTimeOriginal / CreateDate / MediaCreateDate
 *   85 other embedded dates
 *   70 a date in the file name
 *   50 a date in the folder path
 *   30 the file's modification time
 */
export type DateSource = 'exif' | 'exif_other' | 'filename' | 'directory' | 'filesystem';

export interface CaptureDate {
  /** The instant; a local time without a known offset is taken as UTC so it still sorts. */
  takenAt: Date;
  /** Wall-clock time where the picture was taken, ISO 8601 without offset. */
  local: string;
  /** Minutes east of UTC, or null when no source says. */
  offsetMinutes: number | null;
  source: DateSource;
  /** The tag or text the date came from. */
  origin: string;
  confidence: number;
  suspicious: boolean;
  flags: string[];
}

interface Parts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
  offset: number | null;
}

const PRIMARY_TAGS = ['SubSecDateTimeOriginal', 'DateTimeOriginal', 'SubSecCreateDate', 'CreateDate', 'MediaCreateDate'];
const OTHER_TAGS = [
  'CreationDate',
  'DateTimeCreated',
  'DigitalCreationDateTime',
  'DateCreated',
  'TrackCreateDate',
  'ContentCreateDate',
  'GPSDateTime',
  'SubSecModifyDate',
  'ModifyDate',
  'MetadataDate',
];

export function captureDate(tags: Record<string, unknown>, filePath: string, mtimeMs: number, now = Date.now()): CaptureDate {
  for (const [list, source, confidence] of [
    [PRIMARY_TAGS, 'exif', 95],
    [OTHER_TAGS, 'exif_other', 85],
  ] as const) {
    for (const tag of list) {
      const parts = parseDateValue(tags[tag]);
      if (parts) return build(parts, source, tag, confidence, now, offsetHint(tags, parts));
    }
  }
  const slash = filePath.lastIndexOf('/');
  const fromName = dateInText(filePath.slice(slash + 1), true);
  if (fromName) return build(fromName, 'filename', filePath.slice(slash + 1), 70, now);
  const fromDir = dateInPath(filePath.slice(0, Math.max(slash, 0)));
  if (fromDir) return build(fromDir, 'directory', filePath.slice(0, slash), 50, now);
  const m = new Date(mtimeMs);
  const fs: Parts = {
    y: m.getUTCFullYear(),
    mo: m.getUTCMonth() + 1,
    d: m.getUTCDate(),
    h: m.getUTCHours(),
    mi: m.getUTCMinutes(),
    s: m.getUTCSeconds(),
    ms: m.getUTCMilliseconds(),
    offset: 0,
  };
  return build(fs, 'filesystem', 'mtime', 30, now);
}

/** EXIF keeps the offset in separate tags (OffsetTimeOriginal); a parsed value may not carry it. */
function offsetHint(tags: Record<string, unknown>, parts: Parts): number | null {
  if (parts.offset !== null) return parts.offset;
  for (const tag of ['OffsetTimeOriginal', 'OffsetTimeDigitized', 'OffsetTime']) {
    const v = tags[tag];
    if (typeof v === 'string') {
      const m = /^([+-])(\d{2}):?(\d{2})$/.exec(v.trim());
      if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    }
  }
  return null;
}

function build(p: Parts, source: DateSource, origin: string, confidence: number, now: number, offset = p.offset): CaptureDate {
  const localMs = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s, p.ms);
  const takenAt = new Date(localMs - (offset ?? 0) * 60_000);
  const flags: string[] = [];
  if (takenAt.getTime() > now + 86_400_000) flags.push('future');
  if (p.y < 1990) flags.push('before_1990');
  const day = `${p.y}-${p.mo}-${p.d}`;
  if (day === '1970-1-1') flags.push('unix_epoch');
  if (day === '1980-1-1') flags.push('dos_epoch');
  if (day === '2000-1-1') flags.push('camera_default');
  return {
    takenAt,
    local: formatLocal(p),
    offsetMinutes: offset,
    source,
    origin,
    confidence,
    suspicious: flags.length > 0,
    flags,
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function formatLocal(p: Parts): string {
  const base = `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  return p.ms ? `${base}.${pad(p.ms, 3)}` : base;
}

/** ISO 8601 with the offset when it is known: 2019-05-23T12:34:56+02:00. */
export function formatCaptureDate(local: string | null, offsetMinutes: number | null): string | null {
  if (!local) return null;
  if (offsetMinutes === null || offsetMinutes === undefined) return local;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function valid(p: Parts): boolean {
  if (p.y < 1800 || p.y > 2200 || p.mo < 1 || p.mo > 12 || p.d < 1 || p.h > 23 || p.mi > 59 || p.s > 60) return false;
  const probe = new Date(Date.UTC(p.y, p.mo - 1, p.d));
  return probe.getUTCMonth() === p.mo - 1 && probe.getUTCDate() === p.d;
}

/** Accepts exiftool-vendored's ExifDateTime (or anything shaped like it) and EXIF/ISO strings. */
export function parseDateValue(value: unknown): Parts | null {
  if (value == null) return null;
  if (typeof value === 'object' && 'year' in value && 'month' in value && 'day' in value) {
    const v = value as Record<string, number | undefined>;
    if (v.hour === undefined) return null; // a date alone is not a capture time we trust at this level
    const p: Parts = {
      y: v.year!,
      mo: v.month!,
      d: v.day!,
      h: v.hour ?? 0,
      mi: v.minute ?? 0,
      s: v.second ?? 0,
      ms: Math.round(v.millisecond ?? 0),
      offset: typeof v.tzoffsetMinutes === 'number' && Number.isFinite(v.tzoffsetMinutes) ? v.tzoffsetMinutes : null,
    };
    return valid(p) ? p : null;
  }
  if (typeof value === 'string') {
    const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?/.exec(value.trim());
    if (!m) return null;
    let offset: number | null = null;
    if (m[8] === 'Z') offset = 0;
    else if (m[8]) {
      const o = m[8].replace(':', '');
      offset = (o[0] === '-' ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(3, 5)));
    }
    const p: Parts = {
      y: Number(m[1]),
      mo: Number(m[2]),
      d: Number(m[3]),
      h: Number(m[4]),
      mi: Number(m[5]),
      s: Number(m[6] ?? 0),
      ms: m[7] ? Math.round(Number('0.' + m[7]) * 1000) % 1000 : 0,
      offset,
    };
    return valid(p) ? p : null;
  }
  return null;
}

// 2019-05-23, 2019_05_23, 20190523, optionally followed by a time 12-34-56, 123456, 12.34.56.
const DATE_IN_TEXT = /(?<!\d)((?:19|20)\d{2})([-_.]?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])(?:[-_ T.]?([01]\d|2[0-3])([-_.:h]?)([0-5]\d)\6([0-5]\d))?(?!\d)/;

function dateInText(text: string, withTime: boolean): Parts | null {
  const m = DATE_IN_TEXT.exec(text);
  if (!m) return null;
  const p: Parts = {
    y: Number(m[1]),
    mo: Number(m[3]),
    d: Number(m[4]),
    h: withTime && m[5] ? Number(m[5]) : 0,
    mi: withTime && m[7] ? Number(m[7]) : 0,
    s: withTime && m[8] ? Number(m[8]) : 0,
    ms: 0,
    offset: null,
  };
  return valid(p) ? p : null;
}

/** The deepest folder that names a day (2019-05-23) or folders that spell one (2019/05/23, 2019/05). */
function dateInPath(dir: string): Parts | null {
  const segments = dir.split('/').filter(Boolean);
  for (let i = segments.length - 1; i >= 0; i--) {
    const own = dateInText(segments[i]!, false);
    if (own) return own;
    const y = /^((?:19|20)\d{2})$/.exec(segments[i - 2] ?? '');
    const mo = /^(0?[1-9]|1[0-2])$/.exec(segments[i - 1] ?? '');
    const d = /^(0?[1-9]|[12]\d|3[01])$/.exec(segments[i]!);
    if (y && mo && d) {
      const p: Parts = { y: Number(y[1]), mo: Number(mo[1]), d: Number(d[1]), h: 0, mi: 0, s: 0, ms: 0, offset: null };
      if (valid(p)) return p;
    }
    const ym = /^((?:19|20)\d{2})$/.exec(segments[i - 1] ?? '');
    const m2 = /^(0?[1-9]|1[0-2])(?:[ _-].*)?$/.exec(segments[i]!);
    if (ym && m2) return { y: Number(ym[1]), mo: Number(m2[1]), d: 1, h: 0, mi: 0, s: 0, ms: 0, offset: null };
  }
  return null;
}
