/**
 * Multi-index hashing (Norouzi et al.) for 64-bit perceptual hashes: each hash is cut into four
 * 16-bit chunks, and two hashes within distance r agree within floor(r/4) bits on at least one
 * chunk (pigeonhole). So a query probes, per chunk, the buckets of every value that close to its
 * own chunk and checks only what it finds there: far below n² for a self-join.
 *
 * Every array is a typed array over a SharedArrayBuffer, so the threads of a pool can share one
 * index and each search a slice of the queries. Memory: 8 bytes of hash plus 16 of bucket ids per
 * asset, plus 1 MiB of bucket offsets.
 */
export interface HammingIndex {
  n: number;
  /** hi, lo 32-bit halves of hash i at [2i], [2i + 1]. */
  hashes: Uint32Array;
  /** Per chunk: where each of the 65 536 buckets starts in `ids` (65 537 entries). */
  offsets: Uint32Array[];
  /** Per chunk: hash numbers grouped by bucket. */
  ids: Uint32Array[];
}

const CHUNKS = 4;
const BUCKETS = 1 << 16;

function shared<T extends Uint32Array>(length: number): T {
  return new Uint32Array(new SharedArrayBuffer(Math.max(4, length * 4))) as T;
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function chunkOf(hi: number, lo: number, c: number): number {
  return c === 0 ? hi >>> 16 : c === 1 ? hi & 0xffff : c === 2 ? lo >>> 16 : lo & 0xffff;
}

/** Hashes (signed int8 as stored, or unsigned) into the hi/lo layout, in shared memory. */
export function packHashes(values: ArrayLike<bigint>): Uint32Array {
  const out = shared<Uint32Array>(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = BigInt.asUintN(64, values[i]!);
    out[2 * i] = Number(v >> 32n);
    out[2 * i + 1] = Number(v & 0xffffffffn);
  }
  return out;
}

/** Builds the chunk tables by counting sort: O(n) time, no per-bucket objects. */
export function buildIndex(hashes: Uint32Array): HammingIndex {
  const n = hashes.length >> 1;
  const offsets: Uint32Array[] = [];
  const ids: Uint32Array[] = [];
  for (let c = 0; c < CHUNKS; c++) {
    const off = shared<Uint32Array>(BUCKETS + 1);
    for (let i = 0; i < n; i++) off[chunkOf(hashes[2 * i]!, hashes[2 * i + 1]!, c) + 1]!++;
    for (let b = 0; b < BUCKETS; b++) off[b + 1]! += off[b]!;
    const fill = off.slice(0, BUCKETS);
    const list = shared<Uint32Array>(n);
    for (let i = 0; i < n; i++) list[fill[chunkOf(hashes[2 * i]!, hashes[2 * i + 1]!, c)]!++] = i;
    offsets.push(off);
    ids.push(list);
  }
  return { n, hashes, offsets, ids };
}

const maskCache = new Map<number, Uint16Array>();
/** Every 16-bit mask with at most `s` bits set. */
function masksUpTo(s: number): Uint16Array {
  let m = maskCache.get(s);
  if (!m) {
    const list: number[] = [];
    for (let x = 0; x < BUCKETS; x++) if (popcount32(x) <= s) list.push(x);
    maskCache.set(s, (m = Uint16Array.from(list)));
  }
  return m;
}

export function distance(h: Uint32Array, i: number, hi: number, lo: number): number {
  return popcount32((h[2 * i]! ^ hi) >>> 0) + popcount32((h[2 * i + 1]! ^ lo) >>> 0);
}

/**
 * Calls `found(j, d)` once for every indexed hash j within `radius` of (hi, lo). A hash is
 * reported from the first chunk on which it is close enough, so never twice.
 */
export function searchRadius(index: HammingIndex, hi: number, lo: number, radius: number, found: (j: number, d: number) => void): void {
  const s = Math.floor(radius / CHUNKS);
  const masks = masksUpTo(s);
  const { hashes } = index;
  const q = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
  for (let c = 0; c < CHUNKS; c++) {
    const off = index.offsets[c]!;
    const list = index.ids[c]!;
    const qc = q[c]!;
    for (let m = 0; m < masks.length; m++) {
      const bucket = qc ^ masks[m]!;
      for (let k = off[bucket]!, end = off[bucket + 1]!; k < end; k++) {
        const j = list[k]!;
        const jhi = hashes[2 * j]!;
        const jlo = hashes[2 * j + 1]!;
        // Already reported through an earlier chunk?
        let earlier = false;
        for (let e = 0; e < c && !earlier; e++) earlier = popcount32(chunkOf(jhi, jlo, e) ^ q[e]!) <= s;
        if (earlier) continue;
        const d = popcount32((jhi ^ hi) >>> 0) + popcount32((jlo ^ lo) >>> 0);
        if (d <= radius) found(j, d);
      }
    }
  }
}

/** Pairs (i < j) within `radius`, for the queries i in [from, to): one thread's slice of a self-join. */
export function selfJoinSlice(index: HammingIndex, radius: number, from: number, to: number, found: (i: number, j: number, d: number) => void): void {
  const h = index.hashes;
  for (let i = from; i < to; i++) {
    searchRadius(index, h[2 * i]!, h[2 * i + 1]!, radius, (j, d) => {
      if (j > i) found(i, j, d);
    });
  }
}
