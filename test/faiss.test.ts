import path from 'node:path';
import t from 'tap';
import { createHashIndex, createVectorIndex, faissStatus, hashesToCodes, loadHashIndex, loadVectorIndex, type Engine } from '../src/dedupe/faiss.js';
import { bruteForceJoin } from '../src/dedupe/hamming-index.js';
import { l2normalize } from '../src/embed/vectors.js';
import { tmpDir } from './helpers/tmp.js';

// CI builds the addon and sets LUMINA_REQUIRE_FAISS=1, so a broken build fails here, not silently.
const status = faissStatus();
if (process.env.LUMINA_REQUIRE_FAISS === '1') t.ok(status.native, `the FAISS addon loads (${status.error ?? 'built'})`);
const engines: Engine[] = status.native ? ['native', 'js'] : ['js'];
t.comment(`FAISS engines under test: ${engines.join(', ')}${status.native ? '' : ` (addon not built: ${status.error})`}`);

function randomHashes(n: number, seed: number): Uint32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    // Clusters: every fourth hash is a copy of the previous one with 0-7 bits flipped.
    if (i % 4 && i > 0) {
      out[2 * i] = out[2 * i - 2]!;
      out[2 * i + 1] = out[2 * i - 1]!;
      for (let f = next() % 8; f > 0; f--) out[2 * i + (next() & 1)]! ^= 1 << (next() % 32);
    } else {
      out[2 * i] = next();
      out[2 * i + 1] = next();
    }
  }
  return out;
}

for (const engine of engines) {
  t.test(`${engine}: binary flat and multi-hash range search equal brute force; save and load`, async (t) => {
    const hashes = randomHashes(3000, 9);
    const codes = hashesToCodes(hashes);
    const brute = new Set<string>();
    bruteForceJoin(hashes, 8, 0, 3000, (i, j) => brute.add(`${i},${j}`));
    for (const kind of ['flat', 'multihash'] as const) {
      if (engine === 'js' && kind === 'multihash') continue; // the JS multi-index search is hamming-index.ts, tested on its own
      const index = createHashIndex(kind, { nhash: 4, b: 16 }, engine);
      index.add(codes);
      t.equal(index.ntotal, 3000);
      const r = index.rangeSearch(codes, 9); // strictly below 9 = within 8
      const found = new Set<string>();
      for (let q = 0; q < 3000; q++) for (let k = r.lims[q]!; k < r.lims[q + 1]!; k++) if (r.labels[k]! > q) found.add(`${q},${r.labels[k]}`);
      t.same(found, brute, `${kind}: ${brute.size} pairs within 8 bits`);
      const knn = index.search(codes.subarray(0, 80), 1);
      t.same([...knn.distances].slice(0, 10), Array(10).fill(0), 'each hash is its own nearest');
    }
    const dir = tmpDir(t);
    const flat = createHashIndex('flat', {}, engine);
    flat.add(codes);
    flat.save(path.join(dir, 'h.idx'));
    const back = loadHashIndex(path.join(dir, 'h.idx'));
    t.equal(back.ntotal, 3000, 'loaded');
    t.same([...back.search(codes.subarray(8, 16), 3).labels].slice(0, 1), [1]);
  });

  t.test(`${engine}: inner-product flat, IVF and HNSW over normalized vectors; save and load`, async (t) => {
    const dim = 32;
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 2 ** 32 - 0.5);
    const n = 2000;
    const data = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) data.set(l2normalize(Float32Array.from({ length: dim }, rnd)), i * dim);
    const queries = data.slice(0, 20 * dim);
    for (const kind of ['flat', 'ivf', 'hnsw'] as const) {
      const index = createVectorIndex(dim, kind, { nlist: 16, nprobe: 16, m: 16, efSearch: 128 }, engine);
      if (kind === 'ivf') index.train(data);
      index.add(data);
      const top = index.search(queries, 3);
      let self = 0;
      for (let q = 0; q < 20; q++) if (top.labels[q * 3] === q) self++;
      t.equal(self, 20, `${kind}: every vector finds itself first`);
      const r = index.rangeSearch(queries.subarray(0, dim), 0.5);
      t.ok([...r.labels].includes(0) && [...r.distances].every((d) => d > 0.5), `${kind}: range search above 0.5`);
    }
    const dir = tmpDir(t);
    const flat = createVectorIndex(dim, 'flat', {}, engine);
    flat.add(data);
    flat.save(path.join(dir, 'v.idx'));
    const back = loadVectorIndex(path.join(dir, 'v.idx'));
    t.equal(back.ntotal, n);
    t.equal(back.search(queries.subarray(dim * 5, dim * 6), 1).labels[0], 5);
  });
}

t.test('bad input is refused with a clear error', async (t) => {
  for (const engine of engines) {
    const v = createVectorIndex(8, 'flat', {}, engine);
    t.throws(() => v.add(new Float32Array(7)), /multiple of dim/);
    const h = createHashIndex('flat', {}, engine);
    t.throws(() => h.add(new Uint8Array(7)), /multiple of/);
  }
});
