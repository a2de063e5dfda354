import { createVectorIndex, nativeFaiss } from './faiss.js';
import { packHashes, popcount32 } from './hamming-index.js';
import { burstGroups, exactGroups, formatPairGroups, nearGroups, representatives, withDamageNote, type ComputedGroup, type DedupeAsset, type NearPair } from './groups.js';
import type { PairList } from './join-pool.js';
import { cosine } from '../embed/vectors.js';

/**
 * Detection as plain functions: what the join searches over, its pairs as asset pairs, the pairs
 * the CNN proposes, and confirmation plus grouping. The duplicates job calls them.
 */

/** The thresholds detection needs (a duplicates job's params carry them). */
export interface DetectParams {
  /** Largest sign-pHash distance (of 64 bits) for a near duplicate. */
  threshold: number;
  /** Smallest CNN cosine similarity that confirms a candidate where both have embeddings. */
  similarity: number;
  embeddings: 'auto' | 'on' | 'off';
}

/** What the search runs over: one asset per content, with pixels; numbered by position. */
export interface SearchInput {
  reps: DedupeAsset[];
  hashes: Uint32Array;
}

export function searchInput(assets: DedupeAsset[]): SearchInput {
  const reps = representatives(assets).sort((a, b) => a.id - b.id);
  return { reps, hashes: packHashes(reps.map((r) => r.hash!)) };
}

/**
 * The join's numbered pairs as asset pairs (a < b), the smallest distance kept per pair; on a tie
 * the untouched orientation, which the CNN can still check.
 */
export function pairsOf(list: PairList, reps: DedupeAsset[]): NearPair[] {
  const best = new Map<string, NearPair>();
  for (let k = 0; k < list.length; k++) {
    let a = reps[list.i[k]!]!.id;
    let b = reps[list.j[k]!]!.id;
    if (a > b) [a, b] = [b, a];
    const key = `${a},${b}`;
    const had = best.get(key);
    const d = list.distance[k]!;
    if (!had || d < had.distance || (d === had.distance && list.orientation[k] === 0 && had.orientation !== 0)) best.set(key, { a, b, distance: d, orientation: list.orientation[k]!, similarity: null });
  }
  return [...best.values()];
}

/**
 * Confirms candidates by CNN similarity where both sides have an embedding (and requires it
 * when embeddings are 'on'), then forms every kind of group.
 */
export function detect(
  assets: DedupeAsset[],
  pairs: NearPair[],
  embeddings: Map<number, Float32Array>,
  params: DetectParams,
): { groups: ComputedGroup[]; confirmed: number; rejected: number } {
  let rejected = 0;
  const confirmed: NearPair[] = [];
  const sure = Math.floor(params.threshold / 2);
  for (const p of pairs) {
    const ea = params.embeddings === 'off' ? undefined : embeddings.get(p.a);
    const eb = params.embeddings === 'off' ? undefined : embeddings.get(p.b);
    // A CNN sees a turned picture as another picture: turned matches rest on their exact hash.
    if (p.orientation !== 0) {
      confirmed.push(p);
      continue;
    }
    if (ea && eb) {
      const similarity = cosine(ea, eb);
      // Close hashes stand on their own; the CNN decides the borderline ones.
      if (p.distance <= sure && params.embeddings !== 'on') {
        confirmed.push({ ...p, similarity: Math.round(similarity * 10000) / 10000 });
        continue;
      }
      if (similarity < params.similarity) {
        rejected++;
        continue;
      }
      confirmed.push({ ...p, similarity: Math.round(similarity * 10000) / 10000 });
    } else if (params.embeddings !== 'on') {
      confirmed.push(p);
    } else {
      rejected++;
    }
  }
  const byId = new Map(assets.map((a) => [a.id, a]));
  const exact = exactGroups(assets);
  const bursts = burstGroups(assets);
  const formats = formatPairGroups(assets);
  const near = nearGroups(byId, confirmed, [...bursts, ...formats]);
  return { groups: withDamageNote([...exact, ...near, ...bursts, ...formats], byId), confirmed: confirmed.length, rejected };
}

/**
 * Above this many pictures, embedding retrieval is skipped (the CNN still confirms the hash's
 * candidates): every embedding is held in memory (5 KB each), and the search is exact, n² dot
 * products: 5 s for 20 000 through FAISS on OpenBLAS, minutes on the reference BLAS or in JS.
 */
export const retrievalLimit = () => (nativeFaiss() ? 20_000 : 3_000);
/**
 * Cosine similarity at which the CNN alone proposes a pair, however far apart its hashes: heavy
 * crops and small rotations move a pHash well past any threshold, and no hash gate was found to
 * buy precision on the real-photo corpus (bench quality: 0.990 with none, 0.991 at 6 bits past the
 * threshold, while recall rose from 0.41 to 0.45); at 0.90 look-alikes start to join.
 */
export const RETRIEVAL_SIMILARITY = 0.95;

/** Neighbours per picture the CNN may propose: near-identical clusters larger than this are the hash's to find. */
const RETRIEVAL_NEIGHBOURS = 32;

/**
 * Pairs the hash missed that the CNN finds near-identical (a crop moves a pHash more than a
 * recompression does): each picture's nearest embeddings by inner product, through FAISS's exact
 * flat index where the addon is built (a BLAS matrix product: 20 000 pictures in 5 s with
 * OpenBLAS), kept above RETRIEVAL_SIMILARITY.
 */
export function embeddingPairs(reps: DedupeAsset[], embeddings: Map<number, Float32Array>, known: NearPair[]): { pairs: NearPair[]; engine: string } {
  const withVectors = reps.filter((r) => embeddings.has(r.id) && r.hash !== null);
  if (withVectors.length < 2) return { pairs: [], engine: 'none' };
  const dim = embeddings.get(withVectors[0]!.id)!.length;
  const data = new Float32Array(withVectors.length * dim);
  withVectors.forEach((r, k) => data.set(embeddings.get(r.id)!, k * dim));
  const index = createVectorIndex(dim, 'flat');
  index.add(data);
  const k = Math.min(RETRIEVAL_NEIGHBOURS + 1, withVectors.length);
  const res = index.search(data, k);
  const have = new Set(known.map((p) => `${p.a},${p.b}`));
  const out: NearPair[] = [];
  for (let q = 0; q < withVectors.length; q++) {
    for (let r = q * k; r < (q + 1) * k; r++) {
      const other = res.labels[r]!;
      // Nearest-neighbour lists are not symmetric: either side may be the one that lists the pair.
      if (other === q || other < 0 || res.distances[r]! < RETRIEVAL_SIMILARITY) continue;
      const x = withVectors[q]!;
      const y = withVectors[other]!;
      const [a, b] = x.id < y.id ? [x.id, y.id] : [y.id, x.id];
      if (have.has(`${a},${b}`)) continue;
      have.add(`${a},${b}`);
      out.push({ a, b, distance: popcount64(x.hash! ^ y.hash!), orientation: 0, similarity: null });
    }
  }
  return { pairs: out, engine: `${nativeFaiss() ? 'faiss' : 'js'} flat, ${k - 1} nearest` };
}

function popcount64(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return popcount32(Number(u >> 32n)) + popcount32(Number(u & 0xffffffffn));
}

