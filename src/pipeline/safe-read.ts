import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import type { FileError, FileErrorCode } from '../model/file-errors.js';
import { describeFsError, specialKind } from './discover.js';

/**
 * Reading a file that may have changed since discovery: a FIFO put in its place must not block
 * the run, a link to /dev/zero must not fill memory, and a share that stops answering must not
 * hold a thread forever.
 */

/** A read that was refused or given up; the code says why. */
export class ReadError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReadError';
  }

  get fileError(): FileError {
    return { code: this.code, message: this.message };
  }
}

/** No progress for this long, and the read is given up (a hung network share). */
export const READ_STALL_MS = 60_000;
const CHUNK = 1 << 20;

/** What a file may have grown to since discovery before it is taken for another file. */
export const readLimit = (discoveredSize: number) => discoveredSize + Math.max(CHUNK, Math.ceil(discoveredSize / 10));

/** Whether a path is a regular file now, without opening it (a FIFO's open would block); null when it is. */
export async function notRegular(file: string): Promise<FileError | null> {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? null : { code: 'not_regular', message: `not a regular file any more (${kindOf(st)}): skipped` };
  } catch (err) {
    return { code: 'unreadable', message: `cannot read file: ${describeFsError(err)}` };
  }
}

function kindOf(st: Parameters<typeof specialKind>[0]): string {
  return specialKind(st) ?? (st.isDirectory() ? 'a folder' : 'not a file');
}

/** Opens without blocking (O_NONBLOCK: a FIFO answers at once) and insists on a regular file. */
async function openRegular(file: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ReadError('unreadable', `cannot read file: ${describeFsError(err)}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new ReadError('not_regular', `not a regular file any more (${kindOf(st)}): skipped`);
  }
  return fh;
}

async function stallGuard<T>(p: Promise<T>, file: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadError('read_timeout', `cannot read file: no data for ${READ_STALL_MS / 1000} s (a share that stopped answering?)`)), READ_STALL_MS);
  });
  try {
    return await Promise.race([p, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

const grewPast = (limit: number, discoveredSize: number) =>
  new ReadError('changed', `the file grew past ${limit} bytes since it was found at ${discoveredSize}: read it again on the next scan`);

/** Every chunk of a regular file, at most `readLimit(discoveredSize)` bytes, each within the stall limit. */
async function eachChunk(file: string, discoveredSize: number, use: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  const fh = await openRegular(file);
  try {
    const limit = readLimit(discoveredSize);
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await stallGuard(fh.read(buf, 0, CHUNK, null), file);
      if (bytesRead === 0) return;
      total += bytesRead;
      if (total > limit) throw grewPast(limit, discoveredSize);
      await use(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * The whole file, bounded as above. Read straight into one buffer of the size discovery saw (one
 * byte more, to see whether it grew), chunk by chunk under the stall limit: no chunks to gather
 * and copy again, and one allocation rather than five for a 4 MB photo.
 */
export async function readBounded(file: string, discoveredSize: number): Promise<Buffer> {
  const fh = await openRegular(file);
  try {
    const limit = readLimit(discoveredSize);
    let buf = Buffer.allocUnsafe(discoveredSize + 1);
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        // Grown since discovery: room for more, up to the limit (and one byte past it, to tell).
        const bigger = Buffer.allocUnsafe(Math.min(limit + 1, buf.length + CHUNK));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const { bytesRead } = await stallGuard(fh.read(buf, total, Math.min(CHUNK, buf.length - total), null), file);
      if (bytesRead === 0) return buf.subarray(0, total);
      total += bytesRead;
      if (total > limit) throw grewPast(limit, discoveredSize);
    }
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Every chunk of the file to `write`, in order, bounded as above; returns the SHA-256 of what was read. */
export async function copyBounded(file: string, discoveredSize: number, write: (chunk: Buffer) => Promise<void>): Promise<Buffer> {
  const hash = createHash('sha256');
  await eachChunk(file, discoveredSize, async (c) => {
    hash.update(c);
    await write(c);
  });
  return hash.digest();
}

/** The SHA-256 of the file, streamed, bounded as above. */
export async function hashBounded(file: string, discoveredSize: number): Promise<Buffer> {
  const hash = createHash('sha256');
  await eachChunk(file, discoveredSize, (c) => void hash.update(c));
  return hash.digest();
}
