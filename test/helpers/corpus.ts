import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface PhotoOptions {
  width?: number;
  height?: number;
  seed?: number;
  make?: string;
  model?: string;
  dateTimeOriginal?: string;
  offset?: string;
  orientation?: number;
  format?: 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'avif' | 'heif';
  quality?: number;
}

/** A picture with structure (shapes on a gradient), so perceptual hashes have something to see. */
export function scene(width: number, height: number, seed: number): Buffer {
  const r = (n: number) => Math.abs(Math.sin(seed * 9301 + n * 49297)) ;
  const shapes = Array.from({ length: 6 }, (_, i) => {
    const cx = Math.round(r(i) * width);
    const cy = Math.round(r(i + 10) * height);
    const rad = Math.round((0.08 + r(i + 20) * 0.2) * Math.min(width, height));
    const hue = Math.round(r(i + 30) * 360);
    return i % 2
      ? `<circle cx="${cx}" cy="${cy}" r="${rad}" fill="hsl(${hue},70%,50%)"/>`
      : `<rect x="${cx - rad}" y="${cy - rad / 2}" width="${rad * 2}" height="${rad}" fill="hsl(${hue},60%,40%)"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${Math.round(r(99) * 360)},50%,80%)"/>
    <stop offset="1" stop-color="hsl(${Math.round(r(98) * 360)},50%,20%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>${shapes}</svg>`;
  return Buffer.from(svg);
}

export async function writePhoto(file: string, o: PhotoOptions = {}): Promise<string> {
  const width = o.width ?? 640;
  const height = o.height ?? 480;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let img = sharp(scene(width, height, o.seed ?? 1));
  const exif: Record<string, Record<string, string>> = {};
  if (o.make || o.model) exif.IFD0 = { ...(o.make ? { Make: o.make } : {}), ...(o.model ? { Model: o.model } : {}) };
  if (o.dateTimeOriginal) exif.IFD2 = { DateTimeOriginal: o.dateTimeOriginal, ...(o.offset ? { OffsetTimeOriginal: o.offset } : {}) };
  if (Object.keys(exif).length) img = img.withExif(exif);
  if (o.orientation) img = img.withMetadata({ orientation: o.orientation });
  const format = o.format ?? 'jpeg';
  if (format === 'heif') img = img.heif({ compression: 'av1', quality: 60 });
  else img = img.toFormat(format, o.quality ? { quality: o.quality } : {});
  await img.toFile(file);
  return file;
}

/**
 * The smallest MP4 ExifTool reads as a video: an ftyp box and a movie header (mvhd) carrying the
 * creation time and duration. No frames, so ffmpeg has nothing to decode.
 */
export function writeMinimalMp4(file: string, created: Date, durationS: number): void {
  const box = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + body.length, 0);
    head.write(type, 4, 'latin1');
    return Buffer.concat([head, body]);
  };
  const secsSince1904 = Math.floor(created.getTime() / 1000) + 2082844800;
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(0, 0); // version 0, flags
  mvhd.writeUInt32BE(secsSince1904, 4); // creation time
  mvhd.writeUInt32BE(secsSince1904, 8); // modification time
  mvhd.writeUInt32BE(1000, 12); // timescale
  mvhd.writeUInt32BE(Math.round(durationS * 1000), 16); // duration
  mvhd.writeUInt32BE(0x00010000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 24); // volume 1.0
  const matrix = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];
  matrix.forEach((v, i) => mvhd.writeUInt32BE(v, 36 + i * 4));
  mvhd.writeUInt32BE(2, 96); // next track id
  const ftyp = Buffer.concat([Buffer.from('isom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2mp41')]);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([box('ftyp', ftyp), box('moov', box('mvhd', mvhd))]));
}

/**
 * A decompression bomb: a valid PNG a few tens of kilobytes long that claims 20000×20000 pixels
 * (400 MP of 1-bit gray, all zero, deflated).
 */
export async function writePngBomb(file: string, side = 20000): Promise<void> {
  const zlib = await import('node:zlib');
  const rowBytes = 1 + Math.ceil(side / 8);
  const deflate = zlib.createDeflate({ level: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => deflate.on('end', r));
  const row = Buffer.alloc(rowBytes);
  for (let y = 0; y < side; y++) deflate.write(row);
  deflate.end();
  await done;
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  fs.writeFileSync(
    file,
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(chunks)), chunk('IEND', Buffer.alloc(0))]),
  );
}
