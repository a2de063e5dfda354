import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describeFsError } from '../pipeline/discover.js';
import { analyzePixels, PixelError } from '../pipeline/pixels.js';
import { hashBounded, ReadError, readBounded } from '../pipeline/safe-read.js';
import { messageOf } from '../util/errors.js';
import type { FileTask, FileTaskResult } from './file-task.js';
import { JpegWarningHelper } from './jpeg-warning.js';
import { SharedResults } from './shared-results.js';
import { PARTIAL_DIR } from './file-task.js';

// Each pool thread is one core's worth of work: libvips must not start its own thread pool on top.
sharp.concurrency(1);
sharp.cache(false);

/** Files up to this size are read whole (hashed and decoded from one read); larger ones are streamed. */
const WHOLE_READ_LIMIT = 256 * 1024 * 1024;

const jpegWarnings = new JpegWarningHelper();

export default async function processFile(task: FileTask): Promise<FileTaskResult> {
  const results = new SharedResults(task.results);
  const t0 = performance.now();
  let bytes: Buffer | null = null;
  try {
    // Bounded reads: the file may have become a FIFO, a device link or a much larger file since discovery.
    if (task.decodeFile && task.size <= WHOLE_READ_LIMIT) {
      bytes = await readBounded(task.path, task.size);
      results.setSha256(task.slot, createHash('sha256').update(bytes).digest());
    } else {
      results.setSha256(task.slot, await hashBounded(task.path, task.size));
    }
  } catch (err) {
    return { readError: err instanceof ReadError ? err.fileError : { code: 'unreadable', message: `cannot read file: ${describeFsError(err)}` } };
  } finally {
    results.addTiming(task.slot, 'read_hash', performance.now() - t0);
  }

  const source = task.pixels ? Buffer.from(task.pixels.buffer, task.pixels.byteOffset, task.pixels.byteLength) : bytes;
  if (!source) return {};
  try {
    const px = await analyzePixels(source, task.maxPixels, { jpegWarning: jpegWarnings.warningOf });
    results.setPixels(task.slot, px);
    results.addTiming(task.slot, 'decode', px.timings.decode);
    results.addTiming(task.slot, 'fingerprint', px.timings.fingerprint);
    const t = performance.now();
    const thumbnailKey = await writeKeyed(task.thumbnailDir, results.sha256Of(task.slot)!.toString('hex'), px.thumbnailExt, px.thumbnail);
    results.addTiming(task.slot, 'thumbnail', px.timings.thumbnail + performance.now() - t);
    results.markThumbnail(task.slot);
    return px.damage ? { thumbnailKey, damage: px.damage } : { thumbnailKey };
  } catch (err) {
    return { pixelError: err instanceof PixelError ? { code: err.code, message: err.message } : { code: 'undecodable', message: `cannot decode image: ${messageOf(err)}` } };
  }
}

/** A file keyed by content (copies share one), written whole or not at all; returns its key. */
async function writeKeyed(dir: string, shaHex: string, ext: string, bytes: Buffer): Promise<string> {
  const key = `${shaHex.slice(0, 2)}/${shaHex}.${ext}`;
  const target = path.join(dir, key);
  try {
    await fs.access(target);
    return key;
  } catch {
    /* not there yet */
  }
  // Half-written files land in one folder that each run clears, never beside finished ones.
  const partial = path.join(dir, PARTIAL_DIR);
  const tmp = path.join(partial, `${shaHex}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  const write = async () => {
    await madeDir(path.dirname(target));
    await madeDir(partial);
    // Private to the data directory's owner, as everything in it.
    await fs.writeFile(tmp, bytes, { mode: 0o600 });
    await fs.rename(tmp, target);
  };
  try {
    await write();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // A folder made earlier is gone (the partial folder is cleared as each run starts): again, once.
    made.delete(partial);
    made.delete(path.dirname(target));
    await fs.rm(tmp, { force: true });
    await write();
  }
  return key;
}

/**
 * Folders this thread has made (at most the 256 prefix folders and the partial folder of each
 * catalog it writes to): two mkdir calls a file fewer. A folder removed meanwhile (the partial
 * folder at the start of a run, a deleted catalog) fails the write with ENOENT: writeKeyed then
 * makes it again.
 */
const made = new Set<string>();
async function madeDir(dir: string): Promise<void> {
  if (made.has(dir)) return;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (made.size > 4096) made.clear();
  made.add(dir);
}
