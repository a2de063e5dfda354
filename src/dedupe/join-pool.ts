import os from 'node:os';
import { Piscina } from 'piscina';
import { joinSlices, type HammingIndex, type JoinSlice } from './hamming-index.js';
import type { JoinTask } from './join-worker.js';

export interface JoinParams {
  radius: number;
  turnedRadius: number;
}

/** Pairs of a join, as parallel arrays: caller's numbers i < j or i > j, distance, orientation. */
export interface PairList {
  i: Uint32Array;
  j: Uint32Array;
  distance: Uint8Array;
  orientation: Uint8Array;
  length: number;
}

/** The threads that search one shared index, each taking slices of the queries. */
export class JoinPool {
  readonly #piscina: Piscina<JoinTask, Uint32Array>;
  readonly threads: number;

  constructor(threads = os.availableParallelism()) {
    this.threads = Math.max(1, threads);
    this.#piscina = new Piscina({
      filename: new URL('./join-worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 10_000,
    });
  }

  /** Runs `slices` (all of the join when omitted) over the index and gathers the pairs. */
  async join(index: HammingIndex, params: JoinParams, slices?: JoinSlice[], onSlice?: (done: number, total: number) => void): Promise<PairList> {
    // Several slices per thread, so a slow one does not leave the others idle at the end.
    const work = slices ?? joinSlices(index.n, this.threads * 8);
    let done = 0;
    const parts = await Promise.all(
      work.map(async (slice) => {
        const out = await this.#piscina.run({ index, ...params, slice });
        onSlice?.(++done, work.length);
        return out;
      }),
    );
    return concatPairs(parts);
  }

  async close(): Promise<void> {
    await this.#piscina.destroy();
  }
}

export function concatPairs(parts: Uint32Array[]): PairList {
  const length = parts.reduce((a, p) => a + p.length / 3, 0);
  const list: PairList = { i: new Uint32Array(length), j: new Uint32Array(length), distance: new Uint8Array(length), orientation: new Uint8Array(length), length };
  let k = 0;
  for (const p of parts) {
    for (let x = 0; x < p.length; x += 3, k++) {
      list.i[k] = p[x]!;
      list.j[k] = p[x + 1]!;
      list.distance[k] = p[x + 2]! & 0xff;
      list.orientation[k] = p[x + 2]! >>> 8;
    }
  }
  return list;
}

