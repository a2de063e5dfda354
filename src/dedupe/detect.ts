import { createVectorIndex, nativeFaiss } from './faiss.js';
import { popcount32, sharedHashes } from './hamming-index.js';
import { burstGroups, exactGroups, formatPairGroups, nearGroups, representatives, withDamageNote, type ComputedGroup, type DedupeAsset, type NearPair } from './groups.js';
import type { PairList } from './join-pool.js';
import { PairTable } from './pair-table.js';
import { cosine } from '../embed/vectors.js';
import type { Verdict } from './local-features.js';

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

/**
 * What the search runs over: one picture per content, numbered by position in id order, as two
 * flat arrays (no per-asset objects: a catalog of 10^7 holds 16 bytes a picture here).
 */
export interface SearchInput {
  /** Asset id of each searched picture, ascending. */
  ids: Float64Array;
  /** Its sign pHash in the hi/lo layout of packHashes, in shared memory for the join threads. */
  hashes: Uint32Array;
}

export function searchInput(assets: DedupeAsset[]): SearchInput {
  const builder = new SearchInputBuilder();
  builder.add(representatives(assets));
  return builder.finish();
}

/**
 * Builds a SearchInput from representatives given in any order, a batch at a time: ids and hashes
 * go into growing typed arrays, and finish() puts them in id order.
 */
export class SearchInputBuilder {
  #ids = new Float64Array(1024);
  #hi = new Uint32Array(1024);
  #lo = new Uint32Array(1024);
  #n = 0;

  add(reps: DedupeAsset[]): void {
    this.addHashes(reps.map((r) => ({ id: r.id, hash: r.hash! })));
  }

  /** Ids and hashes (signed as stored, or unsigned) straight from rows, without assets made of them. */
  addHashes(rows: { id: number | bigint; hash: bigint }[]): void {
    if (this.#n + rows.length > this.#ids.length) {
      const size = Math.max(this.#n + rows.length, this.#ids.length * 2);
      const grow = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
        const b = make(size);
        b.set(a.subarray(0, this.#n));
        return b;
      };
      this.#ids = grow(this.#ids, (n) => new Float64Array(n));
      this.#hi = grow(this.#hi, (n) => new Uint32Array(n));
      this.#lo = grow(this.#lo, (n) => new Uint32Array(n));
    }
    for (const r of rows) {
      const v = BigInt.asUintN(64, r.hash);
      this.#ids[this.#n] = Number(r.id);
      this.#hi[this.#n] = Number(v >> 32n);
      this.#lo[this.#n] = Number(v & 0xffffffffn);
      this.#n++;
    }
  }

  finish(): SearchInput {
    const n = this.#n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const ids = this.#ids;
    order.sort((x, y) => ids[x]! - ids[y]!);
    const out: SearchInput = { ids: new Float64Array(n), hashes: sharedHashes(n) };
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      out.ids[k] = ids[i]!;
      out.hashes[2 * k] = this.#hi[i]!;
      out.hashes[2 * k + 1] = this.#lo[i]!;
    }
    return out;
  }
}

/** The join's numbered pairs as asset pairs (a < b), each pair once (PairTable.unique). */
export function pairsOf(list: PairList, ids: Float64Array): PairTable {
  const pairs = new PairTable(list.length);
  for (let k = 0; k < list.length; k++) {
    const x = ids[list.i[k]!]!;
    const y = ids[list.j[k]!]!;
    pairs.push(Math.min(x, y), Math.max(x, y), list.distance[k]!, list.orientation[k]!);
  }
  return pairs.unique();
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
    // Local features aligned the two pictures pixel for pixel: nothing left for the CNN to say.
    if (p.orientation !== 0 || p.verified) {
      confirmed.push(p);
      continue;
    }
    if (ea && eb) {
      const similarity = cosine(ea, eb);
      // Close hashes stand on their own; the CNN decides the borderline ones.
      if (p.distance <= sure && params.embeddings !== 'on') {
        confirmed.push({ ...p, similarity: similarity4(similarity) });
        continue;
      }
      if (similarity < params.similarity) {
        rejected++;
        continue;
      }
      confirmed.push({ ...p, similarity: similarity4(similarity) });
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
 * Below RETRIEVAL_SIMILARITY, down to this, a picture's nearest embeddings are candidates that only
 * local features can confirm (geometric verification): a 75 % crop off-centre or a portrait cut of
 * a landscape falls to a cosine of 0.55-0.7 with MobileNetV2, where unrelated pictures of one
 * place crowd in too.
 */
export const VERIFY_SIMILARITY = 0.6;
/** Of those, the nearest this many per picture (in either direction): each costs a feature match. */
const VERIFY_NEIGHBOURS = 8;

export interface EmbeddingProposals {
  /** Pairs the CNN finds near-identical (cosine ≥ RETRIEVAL_SIMILARITY); local features may still veto. */
  pairs: NearPair[];
  /** Nearer than VERIFY_SIMILARITY but not near-identical: duplicates only if local features confirm. */
  candidates: NearPair[];
  engine: string;
}

/**
 * Pairs the hash missed that the CNN finds alike (a crop moves a pHash more than a recompression
 * does): each picture's nearest embeddings by inner product, through FAISS's exact flat index where
 * the addon is built (a BLAS matrix product: 20 000 pictures in 5 s with OpenBLAS).
 */
export function embeddingPairs(reps: DedupeAsset[], embeddings: Map<number, Float32Array>, known: NearPair[]): EmbeddingProposals {
  const withVectors = reps.filter((r) => embeddings.has(r.id) && r.hash !== null);
  if (withVectors.length < 2) return { pairs: [], candidates: [], engine: 'none' };
  const dim = embeddings.get(withVectors[0]!.id)!.length;
  const data = new Float32Array(withVectors.length * dim);
  withVectors.forEach((r, k) => data.set(embeddings.get(r.id)!, k * dim));
  const index = createVectorIndex(dim, 'flat');
  index.add(data);
  const k = Math.min(RETRIEVAL_NEIGHBOURS + 1, withVectors.length);
  const res = index.search(data, k);
  const have = new Set(known.map((p) => `${p.a},${p.b}`));
  const pairs: NearPair[] = [];
  const candidates: NearPair[] = [];
  for (let q = 0; q < withVectors.length; q++) {
    let listed = 0;
    for (let r = q * k; r < (q + 1) * k; r++) {
      const other = res.labels[r]!;
      const cos = res.distances[r]!;
      if (other === q || other < 0 || cos < VERIFY_SIMILARITY) continue;
      // Nearest-neighbour lists are not symmetric: either side may be the one that lists the pair.
      const near = cos >= RETRIEVAL_SIMILARITY;
      if (!near && ++listed > VERIFY_NEIGHBOURS) continue;
      const x = withVectors[q]!;
      const y = withVectors[other]!;
      const [a, b] = x.id < y.id ? [x.id, y.id] : [y.id, x.id];
      if (have.has(`${a},${b}`)) continue;
      have.add(`${a},${b}`);
      (near ? pairs : candidates).push({ a, b, distance: popcount64(x.hash! ^ y.hash!), orientation: 0, similarity: similarity4(cos) });
    }
  }
  return { pairs, candidates, engine: `${nativeFaiss() ? 'faiss' : 'js'} flat, ${k - 1} nearest` };
}

/** Verdicts of local features on pairs, in order (src/jobs/verify-pairs.ts reads the pictures). */
export type VerifyPairs = (pairs: Pick<NearPair, 'a' | 'b'>[]) => Promise<Verdict[]>;

/**
 * What geometric verification makes of the pairs, before grouping:
 *  - a borderline hash pair (past half the threshold) or a near-identical CNN pair is dropped when
 *    local features show two different pictures (a stereo pair: same hash, same CNN, parallax);
 *  - a merely similar CNN candidate joins when they show one picture edited;
 *  - then, since a group is its keeper's star, a picture whose verified match landed in another
 *    group is checked against that group's keeper, which it may reach directly.
 */
export async function withLocalFeatures(
  assets: DedupeAsset[],
  pairs: NearPair[],
  proposals: EmbeddingProposals,
  embeddings: Map<number, Float32Array>,
  params: DetectParams,
  verify: VerifyPairs,
): Promise<NearPair[]> {
  const sure = Math.floor(params.threshold / 2);
  const isBorderline = (p: NearPair) => p.orientation === 0 && p.distance > sure;
  const borderline = pairs.filter(isBorderline);
  const settled = pairs.filter((p) => !isBorderline(p));
  const checked = [...borderline, ...proposals.pairs, ...proposals.candidates];
  const verdicts = await verify(checked);
  const out = [...settled];
  checked.forEach((p, k) => {
    const v = verdicts[k]!;
    if (v === 'same') out.push({ ...p, verified: true });
    else if (v === 'unknown' && k < borderline.length + proposals.pairs.length) out.push(p);
  });
  // Second chance: against the keeper of the group a picture's match was put in.
  const byId = new Map(assets.map((a) => [a.id, a]));
  const keeperOf = new Map<number, number>();
  for (const g of detect(assets, out, embeddings, params).groups) if (g.kind === 'near' || g.kind === 'exact') for (const m of g.members) keeperOf.set(m.assetId, g.keeperId);
  const have = new Set(out.map((p) => `${p.a},${p.b}`));
  const again: NearPair[] = [];
  const offer = (keeper: number | undefined, other: number) => {
    if (keeper === undefined || keeper === other) return;
    const [a, b] = keeper < other ? [keeper, other] : [other, keeper];
    if (have.has(`${a},${b}`)) return;
    have.add(`${a},${b}`);
    const [x, y] = [byId.get(a), byId.get(b)];
    if (!x?.hash || !y?.hash) return;
    const ea = embeddings.get(a);
    const eb = embeddings.get(b);
    again.push({ a, b, distance: popcount64(x.hash ^ y.hash), orientation: 0, similarity: ea && eb ? similarity4(cosine(ea, eb)) : null });
  };
  for (const p of checked) {
    if (keeperOf.get(p.a) === keeperOf.get(p.b) && keeperOf.has(p.a)) continue;
    offer(keeperOf.get(p.b), p.a);
    offer(keeperOf.get(p.a), p.b);
  }
  const second = await verify(again);
  again.forEach((p, k) => second[k] === 'same' && out.push({ ...p, verified: true }));
  return out;
}

/** Similarities are stored and shown to four decimals. */
const similarity4 = (x: number) => Math.round(x * 10000) / 10000;

function popcount64(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return popcount32(Number(u >> 32n)) + popcount32(Number(u & 0xffffffffn));
}

