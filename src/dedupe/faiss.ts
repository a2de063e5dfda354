import fs from 'node:fs';
import { createRequire } from 'node:module';
import { popcount32 } from './hamming-index.js';

/**
 * Vector and hash indexes behind one interface: Lumina's FAISS binding (native/) where it was
 * built, otherwise a JavaScript implementation over SharedArrayBuffer with the same results
 * (exact search; 'ivf' and 'hnsw' fall back to exact flat search, which they approximate).
 */
export interface RangeResult {
  /** Results of query q are [lims[q], lims[q + 1]). */
  lims: Float64Array;
  labels: Float64Array;
  distances: Float32Array | Int32Array;
}
export interface KnnResult {
  labels: Float64Array;
  distances: Float32Array | Int32Array;
}

/** Inner product over L2-normalized embeddings (= cosine similarity). */
export interface VectorIndex {
  readonly ntotal: number;
  readonly dim: number;
  train(x: Float32Array): void;
  add(x: Float32Array): void;
  search(q: Float32Array, k: number): KnnResult;
  /** Every vector with inner product above `radius`. */
  rangeSearch(q: Float32Array, radius: number): RangeResult;
  save(file: string): void;
}

/** Hamming distance over packed codes (8 bytes for a 64-bit hash). */
export interface HashIndex {
  readonly ntotal: number;
  add(codes: Uint8Array): void;
  search(q: Uint8Array, k: number): KnnResult;
  /** Every code at Hamming distance below `radius` (strictly, as FAISS defines it). */
  rangeSearch(q: Uint8Array, radius: number): RangeResult;
  save(file: string): void;
}

export type VectorKind = 'flat' | 'ivf' | 'hnsw';
export type HashKind = 'flat' | 'multihash';

interface Binding {
  FloatIndex: { new (dim: number, kind: string, opts?: object): VectorIndex; load(file: string): VectorIndex };
  BinaryIndex: { new (bits: number, kind: string, opts?: object): HashIndex; load(file: string): HashIndex };
  setThreads(n: number): void;
  gpu: boolean;
}

let binding: Binding | null | undefined;
let loadError: string | null = null;

/** The native binding, or null (with the reason in faissStatus()) when it was not built. */
export function nativeFaiss(): Binding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('../../../native/build/Release/lumina_faiss.node') as Binding;
    } catch (err) {
      binding = null;
      loadError = (err as Error).message.split('\n')[0]!;
    }
  }
  return binding;
}

export function faissStatus(): { native: boolean; gpu: boolean; error: string | null } {
  const b = nativeFaiss();
  return { native: Boolean(b), gpu: Boolean(b?.gpu), error: loadError };
}

export type Engine = 'native' | 'js';

function engineOf(want: Engine | 'auto'): Engine {
  if (want === 'js') return 'js';
  if (nativeFaiss()) return 'native';
  if (want === 'native') throw new Error(`the FAISS addon is not built (${loadError}): run npm run build:native`);
  return 'js';
}

export function createVectorIndex(dim: number, kind: VectorKind = 'flat', opts: Record<string, number> = {}, engine: Engine | 'auto' = 'auto'): VectorIndex {
  return engineOf(engine) === 'native' ? new (nativeFaiss()!.FloatIndex)(dim, kind, opts) : new JsVectorIndex(dim);
}

export function createHashIndex(kind: HashKind = 'flat', opts: Record<string, number> = {}, engine: Engine | 'auto' = 'auto'): HashIndex {
  return engineOf(engine) === 'native' ? new (nativeFaiss()!.BinaryIndex)(64, kind, opts) : new JsHashIndex();
}

const MAGIC_VECTORS = 'LUMINA-VEC1';
const MAGIC_HASHES = 'LUMINA-HSH1';

export function loadVectorIndex(file: string): VectorIndex {
  const head = readHead(file);
  if (head === MAGIC_VECTORS) return JsVectorIndex.load(file);
  return engineOf('native') && nativeFaiss()!.FloatIndex.load(file);
}

export function loadHashIndex(file: string): HashIndex {
  const head = readHead(file);
  if (head === MAGIC_HASHES) return JsHashIndex.load(file);
  return engineOf('native') && nativeFaiss()!.BinaryIndex.load(file);
}

function readHead(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(11);
    fs.readSync(fd, b, 0, 11, 0);
    return b.toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Keeps query i's k best results sorted, best first: insertion into a short sorted list (k is
 * small). `better(a, b)`: a ranks before b.
 */
function keepBest(labels: Float64Array, values: Float32Array | Int32Array, k: number, i: number, j: number, v: number, better: (a: number, b: number) => boolean): void {
  let p = k - 1;
  if (!better(v, values[i * k + p]!)) return;
  while (p > 0 && better(v, values[i * k + p - 1]!)) {
    values[i * k + p] = values[i * k + p - 1]!;
    labels[i * k + p] = labels[i * k + p - 1]!;
    p--;
  }
  values[i * k + p] = v;
  labels[i * k + p] = j;
}

/** A range search's results in FAISS's layout: `scan(i, keep)` calls keep for each of query i's hits. */
function collectRange(nq: number, scan: (i: number, keep: (j: number, d: number) => void) => void): { lims: Float64Array; labels: Float64Array; distances: number[] } {
  const lims = new Float64Array(nq + 1);
  const labels: number[] = [];
  const distances: number[] = [];
  for (let i = 0; i < nq; i++) {
    scan(i, (j, d) => {
      labels.push(j);
      distances.push(d);
    });
    lims[i + 1] = labels.length;
  }
  return { lims, labels: Float64Array.from(labels), distances };
}

/** Growable storage on a SharedArrayBuffer, so threads could share it. */
class SharedGrowable<T extends Float32Array | Uint8Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (sab: SharedArrayBuffer, n: number) => T, private readonly bytes: number) {
    this.data = make(new SharedArrayBuffer(1024 * bytes), 1024);
  }
  push(x: T): void {
    if (this.length + x.length > this.data.length) {
      let cap = this.data.length * 2;
      while (cap < this.length + x.length) cap *= 2;
      const grown = this.make(new SharedArrayBuffer(cap * this.bytes), cap);
      grown.set(this.data.subarray(0, this.length) as never);
      this.data = grown;
    }
    this.data.set(x as never, this.length);
    this.length += x.length;
  }
}

class JsVectorIndex implements VectorIndex {
  readonly #store = new SharedGrowable<Float32Array>((s, n) => new Float32Array(s, 0, n), 4);
  constructor(readonly dim: number) {}
  get ntotal() {
    return this.#store.length / this.dim;
  }
  train(): void {}
  add(x: Float32Array): void {
    if (x.length % this.dim) throw new Error('vector length is not a multiple of dim');
    this.#store.push(x);
  }
  #dots(q: Float32Array, qi: number, visit: (j: number, ip: number) => void): void {
    const d = this.dim;
    const data = this.#store.data;
    for (let j = 0, n = this.ntotal; j < n; j++) {
      let ip = 0;
      for (let k = 0; k < d; k++) ip += q[qi * d + k]! * data[j * d + k]!;
      visit(j, ip);
    }
  }
  search(q: Float32Array, k: number): KnnResult {
    const nq = q.length / this.dim;
    const labels = new Float64Array(nq * k).fill(-1);
    const distances = new Float32Array(nq * k).fill(-Infinity);
    for (let i = 0; i < nq; i++) {
      this.#dots(q, i, (j, ip) => keepBest(labels, distances, k, i, j, ip, (a, b) => a > b));
    }
    return { labels, distances };
  }
  rangeSearch(q: Float32Array, radius: number): RangeResult {
    const r = collectRange(q.length / this.dim, (i, keep) => this.#dots(q, i, (j, ip) => ip > radius && keep(j, ip)));
    return { ...r, distances: Float32Array.from(r.distances) };
  }
  save(file: string): void {
    const head = Buffer.alloc(16);
    head.write(MAGIC_VECTORS, 0, 'latin1');
    head.writeUInt32LE(this.dim, 12);
    fs.writeFileSync(file, Buffer.concat([head, Buffer.from(this.#store.data.buffer, 0, this.#store.length * 4)]));
  }
  static load(file: string): JsVectorIndex {
    const b = fs.readFileSync(file);
    const index = new JsVectorIndex(b.readUInt32LE(12));
    index.add(new Float32Array(b.buffer.slice(b.byteOffset + 16, b.byteOffset + b.length)));
    return index;
  }
}

class JsHashIndex implements HashIndex {
  readonly #store = new SharedGrowable<Uint8Array>((s, n) => new Uint8Array(s, 0, n), 1);
  get ntotal() {
    return this.#store.length / 8;
  }
  add(codes: Uint8Array): void {
    if (codes.length % 8) throw new Error('code length is not a multiple of 8');
    this.#store.push(codes);
  }
  #distances(q: Uint8Array, qi: number, visit: (j: number, d: number) => void): void {
    const data = this.#store.data;
    const view = new DataView(data.buffer, data.byteOffset);
    const qv = new DataView(q.buffer, q.byteOffset);
    const qa = qv.getUint32(qi * 8, true);
    const qb = qv.getUint32(qi * 8 + 4, true);
    for (let j = 0, n = this.ntotal; j < n; j++) visit(j, popcount32((view.getUint32(j * 8, true) ^ qa) >>> 0) + popcount32((view.getUint32(j * 8 + 4, true) ^ qb) >>> 0));
  }
  search(q: Uint8Array, k: number): KnnResult {
    const nq = q.length / 8;
    const labels = new Float64Array(nq * k).fill(-1);
    const distances = new Int32Array(nq * k).fill(0x7fffffff);
    for (let i = 0; i < nq; i++) {
      this.#distances(q, i, (j, d) => keepBest(labels, distances, k, i, j, d, (a, b) => a < b));
    }
    return { labels, distances };
  }
  rangeSearch(q: Uint8Array, radius: number): RangeResult {
    const r = collectRange(q.length / 8, (i, keep) => this.#distances(q, i, (j, d) => d < radius && keep(j, d)));
    return { ...r, distances: Int32Array.from(r.distances) };
  }
  save(file: string): void {
    const head = Buffer.alloc(16);
    head.write(MAGIC_HASHES, 0, 'latin1');
    fs.writeFileSync(file, Buffer.concat([head, Buffer.from(this.#store.data.buffer, 0, this.#store.length)]));
  }
  static load(file: string): JsHashIndex {
    const index = new JsHashIndex();
    const b = fs.readFileSync(file);
    index.add(new Uint8Array(b.subarray(16)));
    return index;
  }
}

/** 64-bit hashes (hi/lo words) as FAISS binary codes: 8 bytes each, most significant byte first. */
export function hashesToCodes(hashes: Uint32Array): Uint8Array {
  const n = hashes.length >> 1;
  const out = new Uint8Array(n * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    view.setUint32(i * 8, hashes[2 * i]!, false);
    view.setUint32(i * 8 + 4, hashes[2 * i + 1]!, false);
  }
  return out;
}
