/**
 * Multi-index hashing (Norouzi, Punjani, Fleet) over 64-bit perceptual hashes, with the
 * generalized pigeonhole bound: the hash is cut into four 16-bit chunks c with thresholds t_c,
 * sum t_c = r - 3, so two hashes within distance r are within t_c on at least one chunk. A query
 * probes, per chunk, the bucket of every value within t_c of its own chunk and checks what it finds
 * there: a few thousand entries at 10^6 hashes instead of 10^6.
 *
 * Layout, chosen so the scans are sequential and the memory small:
 *  - the hashes sorted by value (8 bytes each); chunk 0's buckets are ranges of this array;
 *  - for chunks 1 to 3, each hash's other 48 bits (a 32-bit and a 16-bit word, 6 bytes) grouped by
 *    the chunk's value, so a candidate's distance is two popcounts on adjacent memory. The position
 *    of a match is found again by binary search in the sorted hashes (matches are rare);
 *  - the sort order (4 bytes), to report the caller's numbering;
 *  - 4 × 65 537 bucket offsets (1 MiB, whatever n).
 * That is 30 bytes per hash plus 1 MiB. Every array sits on a SharedArrayBuffer, so the threads of
 * a pool share one index and each searches a slice of the queries.
 */
export interface HammingIndex {
  n: number;
  /** Sorted hashes: hi, lo 32-bit halves of the p-th smallest at [2p], [2p + 1]. */
  sorted: Uint32Array;
  /** The caller's number of the p-th smallest hash. */
  order: Uint32Array;
  /** Per chunk: where each of the 65 536 buckets starts (chunk 0: in `sorted`, else in the rest arrays). */
  offsets: Uint32Array[];
  /** Chunks 1..3 (index 0 unused): the 32-bit rest of each entry. */
  rest32: Uint32Array[];
  /** Chunks 1..3 (index 0 unused): the 16-bit rest of each entry. */
  rest16: Uint16Array[];
}

const BUCKETS = 1 << 16;

function sharedU32(length: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(Math.max(4, length * 4)));
}
function sharedU16(length: number): Uint16Array {
  return new Uint16Array(new SharedArrayBuffer(Math.max(4, length * 2)));
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function popcount16(x: number): number {
  x -= (x >>> 1) & 0x5555;
  x = (x & 0x3333) + ((x >>> 2) & 0x3333);
  x = (x + (x >>> 4)) & 0x0f0f;
  return (x + (x >>> 8)) & 0x1f;
}

/** Room for n hashes in the hi/lo layout, in shared memory (the join threads read it in place). */
export const sharedHashes = (n: number): Uint32Array => sharedU32(n * 2);

/** Hashes (signed int8 as stored, or unsigned) into the hi/lo layout, in shared memory. */
export function packHashes(values: ArrayLike<bigint>): Uint32Array {
  const out = sharedHashes(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = BigInt.asUintN(64, values[i]!);
    out[2 * i] = Number(v >> 32n);
    out[2 * i + 1] = Number(v & 0xffffffffn);
  }
  return out;
}

/** The order that sorts the hashes by unsigned value: LSD radix sort, four 16-bit passes. */
export function sortOrder(hashes: Uint32Array): Uint32Array {
  const n = hashes.length >> 1;
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const count = new Uint32Array(BUCKETS + 1);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? 1 : 0; // lo first
    const shift = pass % 2 === 0 ? 0 : 16;
    count.fill(0);
    for (let i = 0; i < n; i++) count[((hashes[2 * i + word]! >>> shift) & 0xffff) + 1]!++;
    for (let b = 0; b < BUCKETS; b++) count[b + 1]! += count[b]!;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      next[count[(hashes[2 * i + word]! >>> shift) & 0xffff]!++] = i;
    }
    [order, next] = [next, order];
  }
  return order;
}

function chunk(hi: number, lo: number, c: number): number {
  return c === 0 ? hi >>> 16 : c === 1 ? hi & 0xffff : c === 2 ? lo >>> 16 : lo & 0xffff;
}
/** The 32-bit word of a hash's other chunks, as the chunk-c table keeps it. */
function rest32Of(hi: number, lo: number, c: number): number {
  return c === 1 ? lo >>> 0 : hi >>> 0;
}
function rest16Of(hi: number, lo: number, c: number): number {
  return c === 1 ? hi >>> 16 : c === 2 ? lo & 0xffff : lo >>> 16;
}
/** The hash again from chunk c's value and its rest words. */
function rebuild(c: number, value: number, r32: number, r16: number): [number, number] {
  if (c === 1) return [((r16 << 16) | value) >>> 0, r32];
  if (c === 2) return [r32, ((value << 16) | r16) >>> 0];
  return [r32, ((r16 << 16) | value) >>> 0];
}

/** Whether the chunk-c entry (value, r32, r16) is ≤ (hi, lo), without building it. */
function notAbove(c: number, value: number, r32: number, r16: number, hi: number, lo: number): boolean {
  if (c === 1) {
    const h = ((r16 << 16) | value) >>> 0;
    return h < hi || (h === hi && r32 <= lo);
  }
  if (r32 !== hi) return r32 < hi;
  return (c === 2 ? ((value << 16) | r16) >>> 0 : ((r16 << 16) | value) >>> 0) <= lo;
}

/** Builds the index by counting sorts: O(n), no per-bucket objects. `hashes` may be in any order. */
export function buildIndex(hashes: Uint32Array): HammingIndex {
  const n = hashes.length >> 1;
  const order = sortOrder(hashes);
  const sorted = sharedU32(2 * n);
  for (let p = 0; p < n; p++) {
    sorted[2 * p] = hashes[2 * order[p]!]!;
    sorted[2 * p + 1] = hashes[2 * order[p]! + 1]!;
  }
  const sharedOrder = sharedU32(n);
  sharedOrder.set(order);
  const offsets: Uint32Array[] = [];
  const rest32: Uint32Array[] = [new Uint32Array(0)];
  const rest16: Uint16Array[] = [new Uint16Array(0)];
  for (let c = 0; c < 4; c++) {
    const off = sharedU32(BUCKETS + 1);
    for (let p = 0; p < n; p++) off[chunk(sorted[2 * p]!, sorted[2 * p + 1]!, c) + 1]!++;
    for (let b = 0; b < BUCKETS; b++) off[b + 1]! += off[b]!;
    offsets.push(off);
    if (c === 0) continue;
    const fill = off.slice(0, BUCKETS);
    const r32 = sharedU32(n);
    const r16 = sharedU16(n);
    for (let p = 0; p < n; p++) {
      const hi = sorted[2 * p]!;
      const lo = sorted[2 * p + 1]!;
      const at = fill[chunk(hi, lo, c)]!++;
      r32[at] = rest32Of(hi, lo, c);
      r16[at] = rest16Of(hi, lo, c);
    }
    rest32.push(r32);
    rest16.push(r16);
  }
  return { n, sorted, order: sharedOrder, offsets, rest32, rest16 };
}

/** Bytes the index holds per hash, fixed tables included. */
export function bytesPerHash(index: HammingIndex): number {
  let bytes = index.sorted.byteLength + index.order.byteLength;
  for (const a of [...index.offsets, ...index.rest32, ...index.rest16]) bytes += a.byteLength;
  return bytes / Math.max(1, index.n);
}

/** Per-chunk thresholds with sum r - 3: the generalized pigeonhole bound (largest first). */
export function chunkThresholds(radius: number): number[] {
  const total = radius - 3;
  if (total < 0) return [0, 0, 0, 0];
  return [0, 1, 2, 3].map((c) => Math.floor(total / 4) + (c < total % 4 ? 1 : 0));
}

const maskCache = new Map<number, Uint16Array>();
/** Every 16-bit mask with at most `s` bits set. */
function masksUpTo(s: number): Uint16Array {
  let cached = maskCache.get(s);
  if (!cached) {
    const list: number[] = [];
    for (let x = 0; x < BUCKETS; x++) if (popcount16(x) <= s) list.push(x);
    maskCache.set(s, (cached = Uint16Array.from(list)));
  }
  return cached;
}

/** First position whose hash is ≥ (hi, lo). */
function lowerBound(sorted: Uint32Array, n: number, hi: number, lo: number): number {
  let a = 0;
  let b = n;
  while (a < b) {
    const m = (a + b) >>> 1;
    const mh = sorted[2 * m]!;
    if (mh < hi || (mh === hi && sorted[2 * m + 1]! < lo)) a = m + 1;
    else b = m;
  }
  return a;
}

/**
 * Calls `found(p, d)` once for every position p of the sorted hashes within `radius` of (hi, lo),
 * with p > `after` (a self-join passes the query's own position, so each pair is met once).
 */
export function searchRadius(index: HammingIndex, hi: number, lo: number, radius: number, after: number, found: (p: number, d: number) => void): void {
  if (radius < 0) return;
  const { sorted, n } = index;
  const t = chunkThresholds(radius);
  const q0 = hi >>> 16;
  const q1 = hi & 0xffff;
  const q2 = lo >>> 16;
  const q3 = lo & 0xffff;
  // Chunk 0: its buckets are ranges of the sorted hashes themselves.
  {
    const off = index.offsets[0]!;
    const masks = masksUpTo(t[0]!);
    for (let k = 0; k < masks.length; k++) {
      const bucket = q0 ^ masks[k]!;
      for (let p = Math.max(off[bucket]!, after + 1), end = off[bucket + 1]!; p < end; p++) {
        const d = popcount32((sorted[2 * p]! ^ hi) >>> 0) + popcount32((sorted[2 * p + 1]! ^ lo) >>> 0);
        if (d <= radius) found(p, d);
      }
    }
  }
  const q = [q0, q1, q2, q3];
  for (let c = 1; c < 4; c++) {
    const off = index.offsets[c]!;
    const r32 = index.rest32[c]!;
    const r16 = index.rest16[c]!;
    const qr32 = rest32Of(hi, lo, c);
    const qr16 = rest16Of(hi, lo, c);
    const masks = masksUpTo(t[c]!);
    const qc = q[c]!;
    for (let k = 0; k < masks.length; k++) {
      const mask = masks[k]!;
      const bucket = qc ^ mask;
      const base = popcount16(mask);
      for (let e = off[bucket]!, end = off[bucket + 1]!; e < end; e++) {
        const a = r32[e]!;
        const b = r16[e]!;
        const d = base + popcount32((a ^ qr32) >>> 0) + popcount16(b ^ qr16);
        if (d > radius) continue;
        // Equal hashes sit side by side in a bucket: the first stands for all of them.
        if (e > off[bucket]! && r32[e - 1] === a && r16[e - 1] === b) continue;
        // Met through an earlier chunk already? (its chunk values are in the rest words)
        const [jhi, jlo] = rebuild(c, bucket, a, b);
        let earlier = false;
        for (let e2 = 0; e2 < c && !earlier; e2++) earlier = popcount16(chunk(jhi, jlo, e2) ^ q[e2]!) <= t[e2]!;
        if (earlier) continue;
        for (let p = lowerBound(sorted, n, jhi, jlo); p < n && sorted[2 * p] === jhi && sorted[2 * p + 1] === jlo; p++) if (p > after) found(p, d);
      }
    }
  }
}

/** One pair of a join: the caller's numbers of both hashes, their distance, the orientation used. */
export type PairSink = (i: number, j: number, d: number, orientation: number) => void;

/** A query turned by one of the 8 orientations, searched at its own (smaller) radius. */
export interface TurnedQuery {
  orientation: number;
  radius: number;
  turn: (hi: number, lo: number) => [number, number];
}

/**
 * One unit of a self-join: chunk `chunk`'s pass over its table entries [from, to). The four passes
 * over all entries make the whole join; each pair of distinct hashes is reported once, by the
 * smaller hash, in the first chunk where it is within that chunk's threshold. Walking a pass in
 * table order means consecutive queries share the chunk value, so the buckets they probe are
 * already in cache: this, not the arithmetic, is what makes the join fast.
 */
export interface JoinSlice {
  chunk: number;
  from: number;
  to: number;
}

/** Cuts the whole self-join into about `parts` slices of equal size. */
export function joinSlices(n: number, parts: number): JoinSlice[] {
  const per = Math.max(1, Math.ceil(n / Math.max(1, Math.ceil(parts / 4))));
  const out: JoinSlice[] = [];
  for (let chunk = 0; chunk < 4; chunk++) for (let from = 0; from < n; from += per) out.push({ chunk, from, to: Math.min(n, from + per) });
  return out;
}

function equalRun(sorted: Uint32Array, n: number, hi: number, lo: number): [number, number] {
  const a = lowerBound(sorted, n, hi, lo);
  let b = a;
  while (b < n && sorted[2 * b] === hi && sorted[2 * b + 1] === lo) b++;
  return [a, b];
}

/**
 * Runs one slice of the self-join at `radius`; in chunk 0's pass, also the turned queries.
 * Pairs of equal hashes are found in chunk 0's pass (distance 0 there), never later.
 */
export function joinSlice(index: HammingIndex, radius: number, slice: JoinSlice, found: PairSink, turned: TurnedQuery[] = []): void {
  const { sorted, order, n } = index;
  const t = chunkThresholds(radius);
  const c = slice.chunk;
  if (c === 0) {
    const off = index.offsets[0]!;
    const masks = masksUpTo(t[0]!);
    for (let p = slice.from; p < slice.to; p++) {
      const hi = sorted[2 * p]!;
      const lo = sorted[2 * p + 1]!;
      const i = order[p]!;
      const q0 = hi >>> 16;
      for (let k = 0; k < masks.length; k++) {
        const bucket = q0 ^ masks[k]!;
        for (let r = Math.max(off[bucket]!, p + 1), end = off[bucket + 1]!; r < end; r++) {
          const d = popcount32((sorted[2 * r]! ^ hi) >>> 0) + popcount32((sorted[2 * r + 1]! ^ lo) >>> 0);
          if (d <= radius) found(i, order[r]!, d, 0);
        }
      }
      for (const v of turned) {
        const [thi, tlo] = v.turn(hi, lo);
        searchRadius(index, thi, tlo, v.radius, p, (r, d) => found(i, order[r]!, d, v.orientation));
      }
    }
    return;
  }
  const off = index.offsets[c]!;
  const r32 = index.rest32[c]!;
  const r16 = index.rest16[c]!;
  const masks = masksUpTo(t[c]!);
  const q = [0, 0, 0, 0];
  let bucketOfQuery = 0;
  for (let e = slice.from; e < slice.to; e++) {
    while (off[bucketOfQuery + 1]! <= e) bucketOfQuery++;
    const a = r32[e]!;
    const b = r16[e]!;
    // Equal hashes are one query: their pairs were all made in chunk 0's pass.
    if (e > off[bucketOfQuery]! && r32[e - 1] === a && r16[e - 1] === b) continue;
    const [hi, lo] = rebuild(c, bucketOfQuery, a, b);
    q[0] = hi >>> 16;
    q[1] = hi & 0xffff;
    q[2] = lo >>> 16;
    q[3] = lo & 0xffff;
    let queryRun: [number, number] | null = null;
    for (let k = 0; k < masks.length; k++) {
      const mask = masks[k]!;
      const bucket = bucketOfQuery ^ mask;
      const base = popcount16(mask);
      // Only larger hashes: the bucket is in hash order, so they are a suffix of it.
      let s = off[bucket]!;
      let end = off[bucket + 1]!;
      while (s < end) {
        const m = (s + end) >>> 1;
        if (notAbove(c, bucket, r32[m]!, r16[m]!, hi, lo)) s = m + 1;
        else end = m;
      }
      for (let x = s, stop = off[bucket + 1]!; x < stop; x++) {
        const ja = r32[x]!;
        const jb = r16[x]!;
        const d = base + popcount32((ja ^ a) >>> 0) + popcount16(jb ^ b);
        if (d > radius) continue;
        if (x > s && r32[x - 1] === ja && r16[x - 1] === jb) continue;
        const [jhi, jlo] = rebuild(c, bucket, ja, jb);
        let earlier = false;
        for (let e2 = 0; e2 < c && !earlier; e2++) earlier = popcount16(chunk(jhi, jlo, e2) ^ q[e2]!) <= t[e2]!;
        if (earlier) continue;
        queryRun ??= equalRun(sorted, n, hi, lo);
        const [ja0, jb0] = equalRun(sorted, n, jhi, jlo);
        for (let p = queryRun[0]; p < queryRun[1]; p++) for (let r = ja0; r < jb0; r++) found(order[p]!, order[r]!, d, 0);
      }
    }
  }
}

/** The whole self-join in this thread: every slice in turn. */
export function selfJoin(index: HammingIndex, radius: number, found: PairSink, turned: TurnedQuery[] = []): void {
  for (const slice of joinSlices(index.n, 4)) joinSlice(index, radius, slice, found, turned);
}

/** The same join by comparing every pair: the reference the index is tested and benchmarked against. */
export function bruteForceJoin(hashes: Uint32Array, radius: number, from: number, to: number, found: (i: number, j: number, d: number) => void): void {
  const n = hashes.length >> 1;
  for (let i = from; i < to; i++) {
    const hi = hashes[2 * i]!;
    const lo = hashes[2 * i + 1]!;
    for (let j = i + 1; j < n; j++) {
      const d = popcount32((hashes[2 * j]! ^ hi) >>> 0) + popcount32((hashes[2 * j + 1]! ^ lo) >>> 0);
      if (d <= radius) found(i, j, d);
    }
  }
}
