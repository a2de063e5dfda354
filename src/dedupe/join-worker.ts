import { joinSlice, type HammingIndex, type JoinSlice } from './hamming-index.js';
import { turnedQueries } from './orientations.js';

export interface JoinTask {
  index: HammingIndex;
  radius: number;
  /** Radius for the 7 turned queries; negative: none. */
  turnedRadius: number;
  slice: JoinSlice;
}

/**
 * One slice of a self-join in a pool thread. The index arrives as views of SharedArrayBuffers, so
 * every thread searches the same memory; only the pairs found travel back, as one transferred
 * buffer of (i, j, distance | orientation << 8) triples.
 */
export default function runJoinTask(task: JoinTask): Uint32Array {
  let out = new Uint32Array(3 * 1024);
  let n = 0;
  joinSlice(
    task.index,
    task.radius,
    task.slice,
    (i, j, d, o) => {
      if (n + 3 > out.length) {
        const grown = new Uint32Array(out.length * 2);
        grown.set(out);
        out = grown;
      }
      out[n++] = i;
      out[n++] = j;
      out[n++] = d | (o << 8);
    },
    turnedQueries(task.turnedRadius),
  );
  return out.slice(0, n);
}
