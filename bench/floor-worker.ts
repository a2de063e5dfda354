import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { THUMBNAIL_SIZE } from '../src/pipeline/pixels.js';

sharp.concurrency(1);
sharp.cache(false);

/** One stage alone, for the benchmark's floor: the same work the pipeline does, nothing else. */
export default async function floorTask({ stage, file }: { stage: 'sha256' | 'decode'; file: string }): Promise<number> {
  if (stage === 'sha256') {
    const bytes = await fs.readFile(file);
    createHash('sha256').update(bytes).digest();
    return bytes.length;
  }
  const out = await sharp(file, { sequentialRead: true }).rotate().resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' }).raw().toBuffer();
  return out.length;
}
