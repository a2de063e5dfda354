import { createVectorIndex, nativeFaiss } from './faiss.js';
import { packHashes, popcount32 } from './hamming-index.js';
import { burstGroups, exactGroups, formatPairGroups, nearGroups, representatives, withDamageNote, type ComputedGroup, type DedupeAsset, type NearPair } from './groups.js';
import type { PairList } from './join-pool.js';
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

