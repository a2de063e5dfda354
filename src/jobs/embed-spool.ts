import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The size of the CNN-input spool (files `<xx>/<sha256>.webp` under the catalog's embed-input
 * folder), estimated without walking all of it: the files of 16 of the 256 prefix folders are
 * counted and scaled, their mean size taken from about 64 of them (a spool of fewer files is counted whole). SHA-256 spreads the files
 * evenly, so at 10^6 files the estimate is within a few percent, for about 60 000 names read.
 * Shards that start together share the estimate in flight.
 */
const SAMPLED = Array.from({ length: 16 }, (_, k) => (k * 16).toString(16).padStart(2, '0'));
const STATS = 64;
const inFlight = new Map<string, Promise<number>>();

export function spoolBytes(dir: string): Promise<number> {
  let bytes = inFlight.get(dir);
  if (!bytes) {
    bytes = estimate(dir).finally(() => inFlight.delete(dir));
    inFlight.set(dir, bytes);
  }
  return bytes;
}

const ALL = Array.from({ length: 256 }, (_, k) => k.toString(16).padStart(2, '0'));

async function estimate(dir: string): Promise<number> {
  const sampled = await measure(dir, SAMPLED);
  // A small spool is counted whole: a sample of a few files says little.
  if (sampled.files < 64) return (await measure(dir, ALL)).bytes;
  return Math.round(sampled.bytes * (ALL.length / SAMPLED.length));
}

async function measure(dir: string, prefixes: string[]): Promise<{ files: number; bytes: number }> {
  let files = 0;
  const sizes: number[] = [];
  for (const prefix of prefixes) {
    let names: string[];
    try {
      names = await fs.readdir(path.join(dir, prefix));
    } catch {
      continue; // not made yet
    }
    files += names.length;
    for (const name of names.slice(0, Math.ceil(STATS / prefixes.length))) {
      try {
        sizes.push((await fs.stat(path.join(dir, prefix, name))).size);
      } catch {
        /* consumed meanwhile by the embed stage */
      }
    }
  }
  const mean = sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0;
  return { files, bytes: files * mean };
}
