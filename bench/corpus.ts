import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

/**
 * Benchmark corpora. Realistic photos: 8–12 MP JPEGs (quality 92, 4:2:0) with sensor-like noise
 * over a structured scene, and the EXIF a camera writes. Generated once and kept between runs.
 */
export interface Corpus {
  dir: string;
  files: string[];
  bytes: number;
}

const CAMERAS = [
  { Make: 'Canon', Model: 'Canon EOS 5D Mark IV', LensModel: 'EF24-70mm f/2.8L II USM', w: 4000, h: 3000 },
  { Make: 'NIKON CORPORATION', Model: 'NIKON D7500', LensModel: 'AF-S DX 18-140mm', w: 3712, h: 2784 },
  { Make: 'Apple', Model: 'iPhone 12', LensModel: 'iPhone 12 back camera 4.2mm f/1.6', w: 4032, h: 3024 },
  { Make: 'SONY', Model: 'ILCE-6000', LensModel: 'E 16-50mm F3.5-5.6 OSS', w: 3456, h: 2304 },
];

function sceneSvg(w: number, h: number, seed: number): Buffer {
  const r = (n: number) => Math.abs(Math.sin(seed * 9301 + n * 49297));
  const shapes = Array.from({ length: 40 }, (_, i) => {
    const x = Math.round(r(i) * w), y = Math.round(r(i + 100) * h), s = Math.round((0.02 + r(i + 200) * 0.15) * w);
    return `<ellipse cx="${x}" cy="${y}" rx="${s}" ry="${Math.round(s * (0.3 + r(i + 300)))}" fill="hsl(${Math.round(r(i + 400) * 360)},${40 + Math.round(r(i + 500) * 40)}%,${25 + Math.round(r(i + 600) * 50)}%)" opacity="0.8"/>`;
  }).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
    <stop offset="0" stop-color="hsl(${Math.round(r(1) * 360)},40%,75%)"/><stop offset="1" stop-color="hsl(${Math.round(r(2) * 360)},40%,25%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>${shapes}</svg>`);
}

export async function realisticPhoto(file: string, seed: number, scale = 1): Promise<void> {
  const cam = CAMERAS[seed % CAMERAS.length]!;
  const w = Math.round(cam.w * scale), h = Math.round(cam.h * scale);
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 24 } } }).png({ compressionLevel: 0 }).toBuffer();
  const day = new Date(Date.UTC(2015, 0, 1) + seed * 7_200_000 * 13);
  const stamp = day.toISOString().replace('T', ' ').slice(0, 19).replace(/-/g, ':');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(sceneSvg(w, h, seed))
    .composite([{ input: noise, blend: 'soft-light' }])
    .withExif({
      IFD0: { Make: cam.Make, Model: cam.Model, Software: 'Firmware 1.0.2', Artist: 'Bench' },
      IFD2: { DateTimeOriginal: stamp, CreateDate: stamp, OffsetTimeOriginal: '+01:00', ExposureTime: '1/250', FNumber: '4', ISO: '200', FocalLength: '35', LensModel: cam.LensModel },
    })
    .jpeg({ quality: 92, chromaSubsampling: '4:2:0' })
    .toFile(file);
}

/**
 * Per-photo scale of the mixed corpus: sizes spread evenly (a golden-ratio sequence over the seeds)
 * from 2 to 24 MP, whatever camera the seed picks.
 */
export function mixedScale(seed: number): number {
  const cam = CAMERAS[seed % CAMERAS.length]!;
  const mp = 2 + 22 * ((seed * 0.6180339887) % 1);
  return Math.sqrt((mp * 1e6) / (cam.w * cam.h));
}

/**
 * Makes `count` distinct photos under `dir` (reusing what an earlier run made); `scale` is one
 * factor for all of them, or one per seed.
 */
export async function ensurePhotos(dir: string, count: number, scale: number | ((seed: number) => number) = 1, log = (_: string) => {}): Promise<Corpus> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const todo: number[] = [];
  for (let i = 0; i < count; i++) {
    const f = path.join(dir, `${String(Math.floor(i / 100)).padStart(3, '0')}`, `DSC_${String(i).padStart(5, '0')}.JPG`);
    files.push(f);
    if (!fs.existsSync(f)) todo.push(i);
  }
  if (todo.length) log(`generating ${todo.length} photos in ${dir} …`);
  let next = 0;
  await Promise.all(Array.from({ length: os.availableParallelism() }, async () => {
    while (next < todo.length) {
      const i = todo[next++]!;
      const tmp = files[i]! + '.tmp.jpg';
      await realisticPhoto(tmp, i + 1, typeof scale === 'number' ? scale : scale(i + 1));
      fs.renameSync(tmp, files[i]!);
    }
  }));
  return { dir, files, bytes: files.reduce((a, f) => a + fs.statSync(f).size, 0) };
}

/** A tree of `count` paths, hard links to `sources` (distinct paths, the content of a few files). */
export function linkTree(dir: string, sources: string[], count: number): Corpus {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = path.join(dir, `d${String(Math.floor(i / 500)).padStart(4, '0')}`, `IMG_${String(i).padStart(6, '0')}.jpg`);
    files.push(f);
    if (fs.existsSync(f)) continue;
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.linkSync(sources[i % sources.length]!, f);
  }
  return { dir, files, bytes: files.reduce((a, f) => a + fs.statSync(f).size, 0) };
}
