import t from 'tap';
import { bruteForceJoin, buildIndex, bytesPerHash, chunkThresholds, joinSlice, joinSlices, packHashes, searchRadius, selfJoin, sortOrder } from '../src/dedupe/hamming-index.js';
import { orient } from '../src/dedupe/orientations.js';

/** A repeatable stream of random 64-bit values. */
function rng(seed: number) {
  let s = BigInt(seed) | 1n;
  return () => {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    return s & 0xffffffffffffffffn;
  };
}

/** Uniform hashes plus clusters of near copies (a few bits flipped, some equal), as photo collections have. */
function corpus(n: number, seed: number): bigint[] {
  const next = rng(seed);
  const out: bigint[] = [];
  while (out.length < n) {
    const base = next();
    out.push(base);
    const copies = Number(next() % 4n);
    for (let c = 0; c < copies && out.length < n; c++) {
      let v = base;
      const flips = Number(next() % 14n);
      for (let f = 0; f < flips; f++) v ^= 1n << (next() % 64n);
      out.push(v);
    }
  }
  return out;
}

const popcount = (v: bigint) => v.toString(2).split('').filter((c) => c === '1').length;
const key = (i: number, j: number) => (i < j ? `${i},${j}` : `${j},${i}`);

t.test('the generalized pigeonhole thresholds leave no pair out', async (t) => {
  for (let r = 0; r <= 16; r++) {
    const th = chunkThresholds(r);
    // Four chunks each one over their threshold add up to more than r.
    t.ok(th.reduce((a, b) => a + b + 1, 0) > r, `radius ${r}: ${th}`);
  }
});

t.test('self-join finds exactly the pairs brute force finds', async (t) => {
  const values = corpus(3000, 7);
  values.push(values[5]!, values[5]!); // equal hashes: every copy is its own pair
  const packed = packHashes(values);
  const index = buildIndex(packed);
  for (const radius of [0, 3, 6, 10, 12, 15]) {
    const brute = new Set<string>();
    bruteForceJoin(packed, radius, 0, values.length, (i, j) => brute.add(key(i, j)));
    const found: string[] = [];
    selfJoin(index, radius, (i, j, d) => {
      found.push(key(i, j));
      if (d !== popcount(values[i]! ^ values[j]!)) t.fail(`wrong distance for ${i},${j}`);
    });
    t.equal(found.length, new Set(found).size, `radius ${radius}: no pair twice`);
    t.same(new Set(found), brute, `radius ${radius}: ${brute.size} pairs, as brute force`);
  }
});

t.test('slices of the queries add up to the whole join', async (t) => {
  const values = corpus(2000, 11);
  const index = buildIndex(packHashes(values));
  const whole: string[] = [];
  selfJoin(index, 10, (i, j) => whole.push(key(i, j)));
  const parts: string[] = [];
  const slices = joinSlices(values.length, 13);
  t.ok(slices.length >= 13, `${slices.length} slices`);
  for (const slice of slices) joinSlice(index, 10, slice, (i, j) => parts.push(key(i, j)));
  t.same(parts.sort(), whole.sort());
  t.ok(whole.length > 100, `clusters give pairs (${whole.length})`);
});

t.test('turned queries find turned copies, each pair once per orientation', async (t) => {
  const values = corpus(1500, 3);
  const turned = values.slice(0, 200).map((v, k) => {
    const [hi, lo] = orient(Number(BigInt.asUintN(64, v) >> 32n), Number(BigInt.asUintN(64, v) & 0xffffffffn), 1 + (k % 7));
    return (BigInt(hi) << 32n) | BigInt(lo);
  });
  const all = [...values, ...turned];
  const packed = packHashes(all);
  const index = buildIndex(packed);
  const variants = [1, 2, 3, 4, 5, 6, 7].map((o) => ({ orientation: o, radius: 3, turn: (hi: number, lo: number) => orient(hi, lo, o) }));
  const seen = new Map<string, number>();
  selfJoin(index, 8, (i, j, d, o) => {
    const k = `${key(i, j)}/${o}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
    if (o > 0 && d > 3) t.fail('turned radius exceeded');
  }, variants);
  t.ok([...seen.values()].every((c) => c === 1), 'no pair reported twice for one orientation');
  for (let k = 0; k < 200; k++) {
    const o = 1 + (k % 7);
    const hit = [...seen.keys()].some((s) => s.startsWith(`${key(k, values.length + k)}/`) && (s.endsWith(`/${o}`) || s.endsWith(`/${[0, 1, 2, 3, 4, 6, 5, 7][o]}`)));
    if (!hit) t.fail(`copy ${k} turned by ${o} not found`);
  }
  t.pass('every turned copy found');
});

t.test('sort order, signed int8 hashes and the shared memory layout', async (t) => {
  const values = [-1n, 0n, 0x7fffffffffffffffn, -0x8000000000000000n, -2n];
  const packed = packHashes(values);
  t.ok(packed.buffer instanceof SharedArrayBuffer, 'shared between threads');
  t.same([...sortOrder(packed)], [1, 2, 3, 4, 0], 'unsigned order: 0, 2^63 - 1, 2^63, 2^64 - 2, 2^64 - 1');
  const index = buildIndex(packed);
  t.ok(index.sorted.buffer instanceof SharedArrayBuffer && index.rest32[1]!.buffer instanceof SharedArrayBuffer);
  const hits: [number, number][] = [];
  searchRadius(index, 0xffffffff, 0xffffffff, 1, -1, (p, d) => hits.push([index.order[p]!, d]));
  t.same(hits.sort(), [[0, 0], [2, 1], [4, 1]], '-1 is all ones; the largest int8 and -2 are one bit away');
  const big = buildIndex(packHashes(corpus(200_000, 5)));
  t.ok(bytesPerHash(big) < 36, `${bytesPerHash(big).toFixed(1)} bytes per hash at 2·10^5, 1 MiB of it fixed`);
});
