import t from 'tap';
import { buildIndex, distance, packHashes, selfJoinSlice, searchRadius } from '../src/dedupe/hamming-index.js';

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

/** Uniform hashes plus clusters of near copies (a few bits flipped), as real photo collections have. */
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

t.test('self-join finds exactly the pairs brute force finds', async (t) => {
  const values = corpus(3000, 7);
  const index = buildIndex(packHashes(values));
  for (const radius of [0, 3, 6, 10, 12]) {
    const brute = new Set<string>();
    for (let i = 0; i < values.length; i++) {
      for (let j = i + 1; j < values.length; j++) if (popcount(values[i]! ^ values[j]!) <= radius) brute.add(`${i},${j}`);
    }
    const found: string[] = [];
    selfJoinSlice(index, radius, 0, values.length, (i, j, d) => {
      found.push(`${i},${j}`);
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
  selfJoinSlice(index, 10, 0, values.length, (i, j) => whole.push(`${i},${j}`));
  const parts: string[] = [];
  for (let from = 0; from < values.length; from += 333) selfJoinSlice(index, 10, from, Math.min(values.length, from + 333), (i, j) => parts.push(`${i},${j}`));
  t.same(parts.sort(), whole.sort());
  t.ok(whole.length > 100, `clusters give pairs (${whole.length})`);
});

t.test('signed int8 hashes (as PostgreSQL stores them) and the shared memory layout', async (t) => {
  const values = [-1n, 0n, 0x7fffffffffffffffn, -0x8000000000000000n, -2n];
  const packed = packHashes(values);
  t.ok(packed.buffer instanceof SharedArrayBuffer, 'shared between threads');
  const index = buildIndex(packed);
  const hits: [number, number][] = [];
  searchRadius(index, 0xffffffff, 0xffffffff, 1, (j, d) => hits.push([j, d]));
  t.same(hits.sort(), [[0, 0], [2, 1], [4, 1]], '-1 is all ones; the largest int8 and -2 are one bit away');
  t.equal(distance(packed, 1, 0xffffffff, 0xffffffff), 64);
});
