import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';

/**
 * The near-duplicate quality corpus: real photographs (see fetch-real-photos.sh), each with the
 * edited copies people really make, and unrelated look-alikes beside them. Every edit is plain
 * image processing done here; detection is never told which file is which.
 */

/** The edits, in the order the tables print them. The first two are easy controls. */
export const EDITS = ['resize50', 'jpeg_q40', 'crop90', 'crop75_centre', 'crop75_offset', 'rotate_few', 'border_white', 'border_black', 'caption', 'logo', 'portrait_cut'] as const;
export type Edit = (typeof EDITS)[number];

export interface CorpusFile {
  path: string;
  /** The photograph the file was made from (its family); look-alikes have families of their own. */
  family: string;
  /** null for the original. */
  edit: Edit | null;
}

export interface PhotoCorpus {
  files: CorpusFile[];
  /** Families that look alike but are different pictures: they must stay apart. */
  lookalikes: [string, string][];
}

/** Originals are cut down to this long side first: the edits, not the megapixels, are the test. */
const LONG_SIDE = 1280;

/** The directory of source photographs: LUMINA_PHOTOS, else ~/.cache/lumina/photos. */
export function photoSourceDir(): string {
  return process.env.LUMINA_PHOTOS ?? path.join(process.env.HOME ?? '/root', '.cache', 'lumina', 'photos');
}

export function sourcePhotos(dir = photoSourceDir()): string[] {
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    throw new Error(`no photographs in ${dir}: run test/helpers/fetch-real-photos.sh ${dir} (it unpacks three Debian packages)`);
  }
  return fs.readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().map((f) => path.join(dir, f));
}

function overlaySvg(width: number, height: number, kind: 'caption' | 'logo', seed: number): Buffer {
  if (kind === 'caption') {
    // A band across the bottom, about a tenth of the picture, with words on it.
    const h = Math.round(height * 0.1);
    return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <rect x="0" y="${height - h}" width="${width}" height="${h}" fill="black" fill-opacity="0.6"/>
      <text x="${Math.round(width * 0.04)}" y="${height - h * 0.3}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(h * 0.55)}" fill="white">Summer ${2010 + (seed % 12)} · with love from the lake</text></svg>`);
  }
  // A badge in a corner covering about a tenth of the area.
  const w = Math.round(width * 0.36);
  const h = Math.round(height * 0.28);
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect x="${width - w - 12}" y="12" width="${w}" height="${h}" rx="${Math.round(h * 0.2)}" fill="hsl(${(seed * 47) % 360},70%,45%)"/>
    <text x="${width - w / 2 - 12}" y="${12 + h * 0.62}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${Math.round(h * 0.38)}" fill="white">PHOTO${seed % 10}</text></svg>`);
}

async function applyEdit(original: Buffer, edit: Edit, seed: number): Promise<{ bytes: Buffer; ext: string } | null> {
  const img = sharp(original);
  const { width = 0, height = 0 } = await img.metadata();
  const jpeg = (s: Sharp) => s.jpeg({ quality: 88 }).toBuffer().then((bytes: Buffer) => ({ bytes, ext: 'jpg' }));
  const region = (f: number, left: number, top: number) => {
    const w = Math.round(width * f);
    const h = Math.round(height * f);
    return { left: Math.round((width - w) * left), top: Math.round((height - h) * top), width: w, height: h };
  };
  switch (edit) {
    case 'resize50':
      return jpeg(sharp(original).resize(Math.round(width / 2)));
    case 'jpeg_q40':
      return sharp(original).jpeg({ quality: 40 }).toBuffer().then((bytes) => ({ bytes, ext: 'jpg' }));
    case 'crop90':
      return jpeg(sharp(original).extract(region(0.9, 0.5, 0.5)));
    case 'crop75_centre':
      return jpeg(sharp(original).extract(region(0.75, 0.5, 0.5)));
    case 'crop75_offset':
      // Off-centre, a different corner for different pictures.
      return jpeg(sharp(original).extract(region(0.75, seed % 2 ? 0.1 : 0.9, seed % 3 ? 0.2 : 0.8)));
    case 'rotate_few': {
      const angle = [3, -4, 5, -3, 4][seed % 5]!;
      return jpeg(sharp(original).rotate(angle, { background: { r: 0, g: 0, b: 0 } }));
    }
    case 'border_white':
    case 'border_black': {
      const c = edit === 'border_white' ? 255 : 0;
      const x = Math.round(width * 0.1);
      const y = Math.round(height * 0.1);
      return jpeg(sharp(original).extend({ top: y, bottom: y, left: x, right: x, background: { r: c, g: c, b: c } }));
    }
    case 'caption':
    case 'logo':
      return jpeg(sharp(original).composite([{ input: overlaySvg(width, height, edit, seed) }]));
    case 'portrait_cut': {
      if (width <= height) return null;
      // A phone wallpaper: the full height, 9:16, from the middle.
      const w = Math.round((height * 9) / 16);
      return jpeg(sharp(original).extract({ left: Math.round((width - w) / 2), top: 0, width: w, height }));
    }
  }
}

/** Wide photographs cut into look-alike halves. */
const HALVED = 5;

/**
 * Writes the corpus under `root`: per photograph a folder with the original (cut down to
 * LONG_SIDE) and every edit of it; plus look-alike pairs: two halves of one wide photograph
 * (the same light and texture, different content), and the scikit-image stereo pair. A halved
 * photograph is not also a family: each half is a crop of it, which a detector must join.
 */
export async function writePhotoCorpus(root: string, sources = sourcePhotos(), opts: { edits?: readonly Edit[] } = {}): Promise<PhotoCorpus> {
  const files: CorpusFile[] = [];
  const lookalikes: [string, string][] = [];
  const edits = opts.edits ?? EDITS;
  const stereo = sources.filter((s) => /motorcycle_(left|right)/.test(s));
  const halved: string[] = [];
  for (const src of sources) {
    if (halved.length >= HALVED) break;
    const meta = await sharp(src).metadata();
    if (meta.width && meta.height && meta.width >= meta.height * 1.4 && !stereo.includes(src)) halved.push(src);
  }
  let seed = 0;
  for (const src of sources.filter((s) => !halved.includes(s))) {
    seed++;
    const family = path.basename(src).replace(/\.[^.]+$/, '');
    const dir = path.join(root, family);
    fs.mkdirSync(dir, { recursive: true });
    const original = await sharp(src).rotate().resize(LONG_SIDE, LONG_SIDE, { fit: 'inside', withoutEnlargement: true }).removeAlpha().jpeg({ quality: 92 }).toBuffer();
    const originalPath = path.join(dir, 'original.jpg');
    fs.writeFileSync(originalPath, original);
    files.push({ path: originalPath, family, edit: null });
    // The right half of the stereo pair is a look-alike of the left, not a family of its own edits.
    if (/motorcycle_right/.test(src)) continue;
    for (const edit of edits) {
      const out = await applyEdit(original, edit, seed);
      if (!out) continue;
      const p = path.join(dir, `${edit}.${out.ext}`);
      fs.writeFileSync(p, out.bytes);
      files.push({ path: p, family, edit });
    }
  }
  if (stereo.length === 2) lookalikes.push(stereo.map((s) => path.basename(s).replace(/\.[^.]+$/, '')) as [string, string]);
  // Halves of wide photographs: each half is a different picture of the same place.
  for (const src of halved) {
    const meta = await sharp(src).metadata();
    const name = path.basename(src).replace(/\.[^.]+$/, '');
    const w = Math.floor(meta.width! * 0.48);
    const pair: string[] = [];
    for (const [side, left] of [['left', 0], ['right', meta.width! - w]] as const) {
      const family = `${name}-${side}-half`;
      const dir = path.join(root, family);
      fs.mkdirSync(dir, { recursive: true });
      const p = path.join(dir, 'original.jpg');
      await sharp(src).extract({ left, top: 0, width: w, height: meta.height! }).resize(LONG_SIDE, LONG_SIDE, { fit: 'inside' }).jpeg({ quality: 90 }).toFile(p);
      files.push({ path: p, family, edit: null });
      pair.push(family);
    }
    lookalikes.push(pair as [string, string]);
  }
  return { files, lookalikes };
}

export interface QualityFigures {
  precision: number;
  recall: number;
  f1: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  /** Of each edit: the share of photographs whose edited copy is grouped with its original. */
  perEdit: Record<string, { recall: number; found: number; of: number }>;
  /** Look-alike pairs put in one group (should be 0). */
  lookalikesJoined: number;
  /** Families spread over more than one group. */
  splitFamilies: number;
}

/**
 * Pair-level figures from the groups detection formed: two files are a predicted pair when they
 * share a group, a true pair when they come from the same photograph.
 */
export function scoreGroups(corpus: PhotoCorpus, groups: { members: { path: string }[] }[]): QualityFigures {
  const byPath = new Map(corpus.files.map((f) => [f.path, f]));
  const groupOf = new Map<string, number>();
  groups.forEach((g, k) => g.members.forEach((m) => groupOf.set(m.path, k)));
  const key = (a: string, b: string) => (a < b ? `${a}\n${b}` : `${b}\n${a}`);
  const predicted = new Set<string>();
  for (const g of groups) {
    const ps = g.members.map((m) => m.path).filter((p) => byPath.has(p));
    for (let i = 0; i < ps.length; i++) for (let j = i + 1; j < ps.length; j++) predicted.add(key(ps[i]!, ps[j]!));
  }
  const families = new Map<string, CorpusFile[]>();
  for (const f of corpus.files) families.set(f.family, [...(families.get(f.family) ?? []), f]);
  let truePairs = 0;
  let correct = 0;
  let split = 0;
  for (const members of families.values()) {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        truePairs++;
        if (predicted.has(key(members[i]!.path, members[j]!.path))) correct++;
      }
    }
    const gs = new Set(members.map((m) => groupOf.get(m.path)).filter((g) => g !== undefined));
    if (gs.size > 1) split++;
  }
  const perEdit: QualityFigures['perEdit'] = {};
  for (const edit of EDITS) {
    let found = 0;
    let of = 0;
    for (const members of families.values()) {
      const original = members.find((m) => m.edit === null);
      const copy = members.find((m) => m.edit === edit);
      if (!original || !copy) continue;
      of++;
      if (predicted.has(key(original.path, copy.path))) found++;
    }
    if (of) perEdit[edit] = { recall: found / of, found, of };
  }
  let lookalikesJoined = 0;
  for (const [a, b] of corpus.lookalikes) {
    const pa = families.get(a)?.[0]?.path;
    const pb = families.get(b)?.[0]?.path;
    if (pa && pb && groupOf.has(pa) && groupOf.get(pa) === groupOf.get(pb)) lookalikesJoined++;
  }
  const precision = predicted.size ? correct / predicted.size : 1;
  const recall = truePairs ? correct / truePairs : 1;
  return {
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    truePairs,
    predictedPairs: predicted.size,
    correctPairs: correct,
    perEdit,
    lookalikesJoined,
    splitFamilies: split,
  };
}
