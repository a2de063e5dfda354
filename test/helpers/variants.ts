import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * A near-duplicate test corpus: photo-like originals (gradient sky, shapes, fine texture), each
 * with the edited copies people really accumulate, plus unrelated pictures.
 */
export const VARIANTS = [
  'resized', 'jpeg_q40', 'png', 'webp', 'crop90', 'brighter', 'grayscale', 'rotate90', 'mirrored', 'blurred', 'text', 'exif_rotated',
] as const;
export type Variant = (typeof VARIANTS)[number];

function rand(seed: number) {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** An original: random light, random shapes in random places, and grain. */
export async function photo(seed: number, width = 1024, height = 768): Promise<Buffer> {
  const r = rand(seed);
  const angle = r() * 360;
  const shapes: string[] = [];
  const count = 5 + Math.floor(r() * 8);
  for (let i = 0; i < count; i++) {
    const cx = r() * width;
    const cy = r() * height;
    const size = (0.05 + r() * 0.3) * Math.min(width, height);
    const fill = `hsl(${Math.round(r() * 360)},${Math.round(30 + r() * 60)}%,${Math.round(15 + r() * 70)}%)`;
    const kind = Math.floor(r() * 3);
    if (kind === 0) shapes.push(`<ellipse cx="${cx}" cy="${cy}" rx="${size}" ry="${size * (0.4 + r())}" fill="${fill}" transform="rotate(${r() * 180} ${cx} ${cy})"/>`);
    else if (kind === 1) shapes.push(`<rect x="${cx - size}" y="${cy - size / 2}" width="${size * 2}" height="${size}" fill="${fill}" transform="rotate(${r() * 180} ${cx} ${cy})"/>`);
    else shapes.push(`<polygon points="${[0, 1, 2].map(() => `${cx + (r() - 0.5) * 2 * size},${cy + (r() - 0.5) * 2 * size}`).join(' ')}" fill="${fill}"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" gradientTransform="rotate(${angle} 0.5 0.5)">
      <stop offset="0" stop-color="hsl(${Math.round(r() * 360)},50%,${Math.round(20 + r() * 60)}%)"/>
      <stop offset="1" stop-color="hsl(${Math.round(r() * 360)},50%,${Math.round(20 + r() * 60)}%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>${shapes.join('')}</svg>`;
  const grain = await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 }, noise: { type: 'gaussian', mean: 128, sigma: 18 } } })
    .png()
    .toBuffer();
  return sharp(Buffer.from(svg)).flatten().composite([{ input: grain, blend: 'overlay' }]).png().toBuffer();
}

/** One edited copy of `original` (PNG pixels), as the bytes of a file and its extension. */
export async function variant(original: Buffer, v: Variant): Promise<{ bytes: Buffer; ext: string }> {
  const img = () => sharp(original);
  const meta = await img().metadata();
  const w = meta.width!;
  const h = meta.height!;
  switch (v) {
    case 'resized':
      return { bytes: await img().resize(Math.round(w / 2)).jpeg({ quality: 85 }).toBuffer(), ext: 'jpg' };
    case 'jpeg_q40':
      return { bytes: await img().jpeg({ quality: 40 }).toBuffer(), ext: 'jpg' };
    case 'png':
      return { bytes: await img().png().toBuffer(), ext: 'png' };
    case 'webp':
      return { bytes: await img().webp({ quality: 80 }).toBuffer(), ext: 'webp' };
    case 'crop90': {
      const cw = Math.round(w * 0.9);
      const ch = Math.round(h * 0.9);
      return { bytes: await img().extract({ left: Math.round((w - cw) / 2), top: Math.round((h - ch) / 2), width: cw, height: ch }).jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    }
    case 'brighter':
      return { bytes: await img().modulate({ brightness: 1.2 }).jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'grayscale':
      return { bytes: await img().grayscale().jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'rotate90':
      return { bytes: await img().rotate(90).jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'mirrored':
      return { bytes: await img().flop().jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'blurred':
      return { bytes: await img().blur(2).jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'text': {
      const size = Math.round(h / 12);
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><text x="${w * 0.05}" y="${h * 0.92}" font-family="sans-serif" font-size="${size}" fill="white" stroke="black" stroke-width="2">Summer 2019 · Lumina</text></svg>`;
      return { bytes: await img().composite([{ input: Buffer.from(svg) }]).jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    }
    case 'exif_rotated':
      // Pixels stored turned a quarter, with the EXIF tag that turns them back: displays as the original.
      return { bytes: await img().rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer(), ext: 'jpg' };
  }
}

export interface CorpusFile {
  path: string;
  /** The original it derives from, or null for an unrelated picture. */
  family: number | null;
  variant: Variant | 'original' | 'unrelated';
}

/** Writes `originals` families (the original as JPEG and its variants) and `unrelated` singles. */
export async function writeVariantCorpus(dir: string, originals: number, unrelated: number, seed = 1): Promise<CorpusFile[]> {
  const files: CorpusFile[] = [];
  for (let f = 0; f < originals; f++) {
    const original = await photo(seed * 1000 + f);
    const folder = path.join(dir, `family-${f}`);
    fs.mkdirSync(folder, { recursive: true });
    const main = path.join(folder, 'original.jpg');
    await sharp(original).jpeg({ quality: 92 }).toFile(main);
    files.push({ path: main, family: f, variant: 'original' });
    for (const v of VARIANTS) {
      const { bytes, ext } = await variant(original, v);
      const file = path.join(folder, `${v}.${ext}`);
      fs.writeFileSync(file, bytes);
      files.push({ path: file, family: f, variant: v });
    }
  }
  const other = path.join(dir, 'unrelated');
  fs.mkdirSync(other, { recursive: true });
  for (let u = 0; u < unrelated; u++) {
    const file = path.join(other, `photo-${u}.jpg`);
    await sharp(await photo(seed * 1000 + 500 + u)).jpeg({ quality: 90 }).toFile(file);
    files.push({ path: file, family: null, variant: 'unrelated' });
  }
  return files;
}
