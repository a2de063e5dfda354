import type { Catalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { applyReviewActions, countStaleFingerprints, loadDedupeAssets, storedGroups } from '../db/duplicates.js';
import { loadEmbeddings } from '../db/embeddings.js';
import { finishJob, secondsSinceStart, type Job, type JobProgress } from '../db/jobs.js';
import { createVectorIndex, nativeFaiss } from '../dedupe/faiss.js';
import { packHashes, popcount32 } from '../dedupe/hamming-index.js';
import { burstGroups, exactGroups, formatPairGroups, nearGroups, representatives, type ComputedGroup, type DedupeAsset, type NearPair } from '../dedupe/groups.js';
import type { PairList } from '../dedupe/join-pool.js';
import { mergeWithStored } from '../dedupe/review.js';
import type { EmbedSummary } from '../embed/embed-service.js';
import { cosine } from '../embed/vectors.js';

/**
 * The steps of a duplicates job as plain functions, called alike by the in-process runner and by
 * the queue processors: load → search (sliced over threads or workers) → finalize.
 */
export interface DuplicatesParams {
  /** Largest sign-pHash distance (of 64 bits) for a near duplicate. */
  threshold: number;
  /** Largest distance for a rotated or mirrored copy (the turned hash is exact, so it can be small). */
  turned_threshold: number;
  /** Smallest CNN cosine similarity that confirms a candidate where both have embeddings. */
  similarity: number;
  embeddings: 'auto' | 'on' | 'off';
  runner: 'local' | 'cluster';
}

/** Tuned on the variant corpus of test/dedupe-quality.test.ts (see README: Duplicates). */
export const DEFAULT_THRESHOLD = 10;
export const DEFAULT_TURNED_THRESHOLD = 3;
export const DEFAULT_SIMILARITY = 0.7;

export function duplicatesParams(p: Partial<DuplicatesParams>, runner: 'local' | 'cluster'): DuplicatesParams {
  const threshold = p.threshold ?? DEFAULT_THRESHOLD;
  return {
    threshold,
    turned_threshold: Math.min(threshold, p.turned_threshold ?? DEFAULT_TURNED_THRESHOLD),
    similarity: p.similarity ?? DEFAULT_SIMILARITY,
    embeddings: p.embeddings ?? 'auto',
    runner,
  };
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

export interface DuplicatesSummary {
  catalog: { id: string; name: string };
  job_id: string;
  assets: number;
  searched: number;
  candidate_pairs: number;
  /** Pairs the CNN found alike whose hashes lie just beyond the threshold. */
  proposed_by_embeddings: number;
  embedding_retrieval: string;
  confirmed_pairs: number;
  rejected_by_similarity: number;
  embeddings_used: number;
  embed: EmbedSummary | null;
  /** Pictures fingerprinted by an older Lumina: near search sees them after the next scan. */
  stale_fingerprints: number;
  groups: Record<'exact' | 'near' | 'burst' | 'format_pair', number>;
  duration_s: number;
}

/**
 * Confirms candidates by CNN similarity where both sides have an embedding (and requires it
 * when embeddings are 'on'), then forms every kind of group.
 */
export function detect(
  assets: DedupeAsset[],
  pairs: NearPair[],
  embeddings: Map<number, Float32Array>,
  params: DuplicatesParams,
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
  return { groups: [...exact, ...near, ...bursts, ...formats], confirmed: confirmed.length, rejected };
}

/**
 * Above this many pictures, embedding retrieval is skipped (the CNN still confirms the hash's
 * candidates): every embedding is held in memory (5 KB each), and the search is exact, n² dot
 * products: 5 s for 20 000 through FAISS on OpenBLAS, minutes on the reference BLAS or in JS.
 */
export const retrievalLimit = () => (nativeFaiss() ? 20_000 : 3_000);
/** Cosine similarity at which the CNN alone proposes a pair... */
export const RETRIEVAL_SIMILARITY = 0.95;
/** ...provided its hashes are at most this many bits beyond the threshold. */
export const RETRIEVAL_EXTRA_BITS = 6;

/** Neighbours per picture the CNN may propose: near-identical clusters larger than this are the hash's to find. */
const RETRIEVAL_NEIGHBOURS = 32;

/**
 * Pairs the hash missed that the CNN finds near-identical (a crop moves a pHash more than a
 * recompression does): each picture's nearest embeddings by inner product, through FAISS's exact
 * flat index where the addon is built (a BLAS matrix product: 20 000 pictures in 5 s with
 * OpenBLAS), kept above RETRIEVAL_SIMILARITY and only where the hashes are still within
 * RETRIEVAL_EXTRA_BITS of the threshold.
 */
export function embeddingPairs(reps: DedupeAsset[], embeddings: Map<number, Float32Array>, params: DuplicatesParams, known: NearPair[]): { pairs: NearPair[]; engine: string } {
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
  const gate = params.threshold + RETRIEVAL_EXTRA_BITS;
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
      const distance = popcount64(x.hash! ^ y.hash!);
      if (distance > gate) continue;
      out.push({ a, b, distance, orientation: 0, similarity: null });
    }
  }
  return { pairs: out, engine: `${nativeFaiss() ? 'faiss' : 'js'} flat, ${k - 1} nearest` };
}

function popcount64(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  return popcount32(Number(u >> 32n)) + popcount32(Number(u & 0xffffffffn));
}

export interface FinalizeDuplicatesInput {
  catalog: Catalog;
  job: Job;
  params: DuplicatesParams;
  assets: DedupeAsset[];
  searched: number;
  pairs: NearPair[];
  /** What the embed stage did in this process (embedded runs); cluster workers log their own. */
  embed?: EmbedSummary | null;
}

/** Detects, merges with the stored review state, writes, and closes the job. */
export async function finalizeDuplicates(sql: Sql, input: FinalizeDuplicatesInput): Promise<{ summary: DuplicatesSummary; job: Job | null }> {
  const { catalog, job, params, assets, pairs } = input;
  const schema = catalog.schema_name;
  let embeddings = new Map<number, Float32Array>();
  let proposed: NearPair[] = [];
  let retrieval = 'off';
  if (params.embeddings !== 'off') {
    const reps = representatives(assets);
    if (reps.length <= retrievalLimit()) {
      embeddings = await loadEmbeddings(sql, schema, reps.map((r) => r.id));
      const found = embeddingPairs(reps, embeddings, params, pairs);
      proposed = found.pairs;
      retrieval = found.engine;
    } else {
      embeddings = await loadEmbeddings(sql, schema, [...new Set(pairs.flatMap((p) => [p.a, p.b]))]);
      retrieval = `skipped above ${retrievalLimit()} pictures`;
    }
  }
  const { groups, confirmed, rejected } = detect(assets, [...pairs, ...proposed], embeddings, params);
  await applyReviewActions(sql, schema, job.id, mergeWithStored(await storedGroups(sql, schema), groups));
  const count = (k: ComputedGroup['kind']) => groups.filter((g) => g.kind === k).length;
  const duration = secondsSinceStart(job);
  const summary: DuplicatesSummary = {
    catalog: { id: catalog.id, name: catalog.name },
    job_id: job.id,
    assets: assets.length,
    searched: input.searched,
    candidate_pairs: pairs.length,
    proposed_by_embeddings: proposed.length,
    embedding_retrieval: retrieval,
    confirmed_pairs: confirmed,
    rejected_by_similarity: rejected,
    embeddings_used: embeddings.size,
    embed: input.embed ?? null,
    stale_fingerprints: await countStaleFingerprints(sql, schema),
    groups: { exact: count('exact'), near: count('near'), burst: count('burst'), format_pair: count('format_pair') },
    duration_s: Math.round(duration * 1000) / 1000,
  };
  const progress: JobProgress = { done: input.searched, total: input.searched, failed: 0, rate: 0, eta_s: 0, stage: 'done' };
  const finished = await finishJob(sql, job.id, 'completed', { result: summary as unknown as Record<string, unknown>, progress });
  return { summary, job: finished };
}

export async function loadForDuplicates(sql: Sql, catalog: Catalog): Promise<DedupeAsset[]> {
  return loadDedupeAssets(sql, catalog.schema_name);
}
