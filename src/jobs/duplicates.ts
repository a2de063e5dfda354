import { analyzeGroups, clearCandidates, countDedupeAssets, countStaleFingerprints, forEachLink, forEachSearchCandidate, loadDedupeAssets, loadDedupeAssetsByIds, lockDetection, maxLinkableId, readCandidates, writeCandidates, writeDetection } from '../db/duplicates.js';
import type { Sql } from '../db/database.js';
import { loadEmbeddings } from '../db/embeddings.js';
import { finishJob, whileRunning } from '../db/jobs.js';
import { withReconnect } from '../db/retry.js';
import { detect, embeddingPairs, pairsOf, retrievalLimit, SearchInputBuilder, withLocalFeatures, type SearchInput } from '../dedupe/detect.js';
import type { PairTable } from '../dedupe/pair-table.js';
import { Components, partition } from '../dedupe/components.js';
import { representatives, type ComputedGroup, type DedupeAsset, type NearPair } from '../dedupe/groups.js';
import { buildIndex, joinSlices, type HammingIndex, type JoinSlice } from '../dedupe/hamming-index.js';
import type { JoinPool } from '../dedupe/join-pool.js';
import { mergeWithStored } from '../dedupe/review.js';
import type { EmbedService, EmbedSummary } from '../embed/embed-service.js';
import { thumbnailDir, type Catalog } from '../model/catalog.js';
import { secondsSinceStart, type Job, type JobProgress, type JobRunner } from '../model/job.js';
import { messageOf } from '../util/errors.js';
import { emptyVerifySummary, PairVerifier, type VerifySummary } from './verify-pairs.js';

/**
 * The duplicates job, one module for both runners: plan (load the hashes, cut the search into
 * slices and the pending embeddings into batches, count the work), parts (a search slice, an
 * embed batch), finalize (confirm, group, merge with the stored review state, write, close).
 * The in-process runner runs the parts itself; the queue runs them as BullMQ jobs.
 */

/** What public.jobs.params holds for a duplicates job. */
export interface DuplicatesParams {
  /** Largest sign-pHash distance (of 64 bits) for a near duplicate. */
  threshold: number;
  /** Largest distance for a rotated or mirrored copy (the turned hash is exact, so it can be small). */
  turned_threshold: number;
  /** Smallest CNN cosine similarity that confirms a candidate where both have embeddings. */
  similarity: number;
  embeddings: 'auto' | 'on' | 'off';
  runner: JobRunner;
}

/** Tuned on the variant corpus of test/dedupe-quality.test.ts (see README: Duplicates). */
export const DEFAULT_THRESHOLD = 10;
export const DEFAULT_TURNED_THRESHOLD = 3;
export const DEFAULT_SIMILARITY = 0.7;

export function duplicatesParams(p: Partial<DuplicatesParams>, runner: JobRunner): DuplicatesParams {
  const threshold = p.threshold ?? DEFAULT_THRESHOLD;
  return {
    threshold,
    turned_threshold: Math.min(threshold, p.turned_threshold ?? DEFAULT_TURNED_THRESHOLD),
    similarity: p.similarity ?? DEFAULT_SIMILARITY,
    embeddings: p.embeddings ?? 'auto',
    runner,
  };
}

/** The advisory lock under which a catalog's groups are read, merged and written. */
export const duplicatesLockKey = (catalogId: string) => `lumina.duplicates.${catalogId}`;

/**
 * Above this many pictures, the CNN's proposals are not verified by local features (they are taken
 * as before, down to cosine 0.95): a check costs about 20 ms on one core and a picture gets about
 * seven, so 5 000 pictures take some 10 minutes, twice their embedding.
 */
export const VERIFY_LIMIT = 5_000;

/** Queries per search slice: big enough that loading the hash array is paid for, small enough to spread. */
const QUERIES_PER_SLICE = 100_000;
/** Contents per embed batch. */
const CONTENTS_PER_EMBED_BATCH = 256;

/** What a process needs to run duplicates parts. */
export interface DuplicatesWork {
  sql: Sql;
  /** Where the catalogs' thumbnails are (finalize verifies the CNN's proposals on them). */
  dataDir: string;
  joins(): JoinPool;
  embedder(): EmbedService;
  indexes: SearchIndexCache;
}

/**
 * Up to this many assets, finalize loads the whole catalog; above it, the assets that can be in a
 * group, a batch of whole components at a time (groupableBatches), so memory follows the batch,
 * not the catalog's size nor the duplicates found.
 */
export const WHOLE_CATALOG_LIMIT = 200_000;
/** Assets per batch of components above WHOLE_CATALOG_LIMIT. */
export const COMPONENT_BATCH = 200_000;
/** Rows per batch from the database to the search arrays. */
const HASH_BATCH = 10_000;

interface LoadedHashes {
  input: SearchInput;
  index: HammingIndex;
}

/**
 * The search's input straight from the database, a batch of rows at a time: pictures whose content
 * has no other copy go in as they come (id and hash), and of the others each content's
 * representative, the copies arriving together.
 */
export async function loadSearchInput(sql: Sql, schema: string, batch = HASH_BATCH): Promise<SearchInput> {
  const builder = new SearchInputBuilder();
  const copies = new ContentRuns((run) => builder.add(representatives(run)));
  await forEachSearchCandidate(sql, schema, batch, (rows) => builder.addHashes(rows.map((r) => ({ id: r.id, hash: r.phash_sign }))), (assets) => copies.add(assets));
  copies.end();
  return builder.finish();
}

/**
 * Each content's copies together, from assets given in SHA-256 order a batch at a time (a content
 * can straddle two batches); an asset without a checksum is a content of its own.
 */
class ContentRuns {
  #copies: DedupeAsset[] = [];

  constructor(private readonly onRun: (copies: DedupeAsset[]) => void) {}

  add(assets: DedupeAsset[]): void {
    for (const a of assets) {
      if (!a.sha256) {
        this.onRun([a]);
        continue;
      }
      if (this.#copies.length && this.#copies[0]!.sha256 !== a.sha256) this.end();
      this.#copies.push(a);
    }
  }

  /** The last content. */
  end(): void {
    if (this.#copies.length) this.onRun(this.#copies);
    this.#copies = [];
  }
}

/** The parts of one job that land on one process share one load of the hashes and one index. */
export class SearchIndexCache {
  readonly #entries = new Map<string, Promise<LoadedHashes>>();

  constructor(
    private readonly sql: Sql,
    /** Jobs kept at once: a worker may hold slices of two jobs. */
    private readonly size = 2,
  ) {}

  get(jobId: string, catalog: Catalog): Promise<LoadedHashes> {
    let got = this.#entries.get(jobId);
    if (!got) {
      got = loadSearchInput(this.sql, catalog.schema_name).then((input) => ({ input, index: buildIndex(input.hashes) }));
      // A failed load is not kept: the retry loads again.
      got.catch(() => this.#entries.delete(jobId));
      this.#entries.set(jobId, got);
      while (this.#entries.size > this.size) this.#entries.delete(this.#entries.keys().next().value!);
    }
    return got;
  }

  forget(jobId: string): void {
    this.#entries.delete(jobId);
  }
}

export interface DuplicatesPlan {
  /** Pictures searched (one per content). */
  n: number;
  /** Four chunk passes over the n queries, cut so that several hosts can share them. */
  slices: JoinSlice[];
  /** Contents (SHA-256 hex) still to embed, in batches. */
  embedBatches: string[][];
  /** Units of progress: queries searched (four passes over n) plus contents embedded. */
  total: number;
}

/** Step 1: load the hashes, cut the search into slices and the pending embeddings into batches. */
export async function planDuplicates(work: DuplicatesWork, job: Pick<Job, 'id'>, catalog: Catalog, params: DuplicatesParams): Promise<DuplicatesPlan> {
  const { input } = await work.indexes.get(job.id, catalog);
  const n = input.ids.length;
  const slices = joinSlices(n, 4 * Math.max(1, Math.ceil(n / QUERIES_PER_SLICE)));
  const pending = params.embeddings === 'off' ? [] : await work.embedder().pending(catalog);
  const embedBatches: string[][] = [];
  for (let i = 0; i < pending.length; i += CONTENTS_PER_EMBED_BATCH) embedBatches.push(pending.slice(i, i + CONTENTS_PER_EMBED_BATCH).map((p) => p.sha));
  return { n, slices, embedBatches, total: 4 * n + pending.length };
}

/** Queries a slice covers, in progress units. */
export const sliceSize = (slice: JoinSlice) => slice.to - slice.from;

/**
 * Step 2a: one search slice, spread over this host's threads. A slice planned over a different
 * set of hashes is refused: the catalog changed under the job.
 */
export async function searchPart(work: DuplicatesWork, job: Pick<Job, 'id'>, catalog: Catalog, params: DuplicatesParams, slice: JoinSlice, n: number): Promise<PairTable> {
  const { input, index } = await work.indexes.get(job.id, catalog);
  if (index.n !== n) throw new Error(`the catalog changed while duplicates were being searched (${n} hashes planned, ${index.n} now): run the job again`);
  const pool = work.joins();
  const per = Math.max(1, Math.ceil(sliceSize(slice) / (pool.threads * 4)));
  const pieces: JoinSlice[] = [];
  for (let from = slice.from; from < slice.to; from += per) pieces.push({ chunk: slice.chunk, from, to: Math.min(slice.to, from + per) });
  const list = await pool.join(index, { radius: params.threshold, turnedRadius: params.turned_threshold }, pieces);
  return pairsOf(list, input.ids);
}

/** Step 2a on the queue: a slice's pairs wait in the catalog's candidates table for finalize. */
export async function searchPartToCandidates(work: DuplicatesWork, job: Pick<Job, 'id'>, catalog: Catalog, params: DuplicatesParams, slice: JoinSlice, n: number): Promise<number> {
  const pairs = await searchPart(work, job, catalog, params, slice, n);
  await writeCandidates(work.sql, catalog.schema_name, job.id, pairs);
  return pairs.length;
}

export interface EmbedPartOptions {
  /** Only these contents (a queued batch); all pending when omitted. */
  shas?: string[];
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Where a note goes when 'auto' carries on without embeddings. */
  log?: (line: string) => void;
}

/**
 * Step 2b: embeddings for pending contents. With 'auto', a failure to make them leaves the
 * pairs to the hashes alone (null); with 'on' it fails the job, since CNN confirmation was asked for.
 */
export async function embedPart(work: DuplicatesWork, catalog: Catalog, params: DuplicatesParams, options: EmbedPartOptions = {}): Promise<EmbedSummary | null> {
  if (params.embeddings === 'off') return null;
  try {
    return await work.embedder().embedPending(catalog, options);
  } catch (err) {
    if (params.embeddings === 'on') throw new Error(`embeddings were required (--embeddings on) but could not be made: ${messageOf(err)}`);
    options.log?.(`no embeddings this run (${messageOf(err)}); duplicates are found by their hashes alone`);
    return null;
  }
}

export interface DuplicatesSummary {
  catalog: { id: string; name: string };
  job_id: string;
  assets: number;
  searched: number;
  candidate_pairs: number;
  /** Pairs the CNN found alike that the hash missed (after geometric verification, where it ran). */
  proposed_by_embeddings: number;
  embedding_retrieval: string;
  /** What local features decided of the CNN's proposals; null where they were not asked. */
  geometric_verification: VerifySummary | null;
  confirmed_pairs: number;
  rejected_by_similarity: number;
  embeddings_used: number;
  embed: EmbedSummary | null;
  /** Pictures fingerprinted by an older Lumina: near search sees them after the next scan. */
  stale_fingerprints: number;
  groups: Record<'exact' | 'near' | 'burst' | 'format_pair', number>;
  duration_s: number;
}

export interface FinalizeDuplicatesInput {
  catalog: Catalog;
  job: Job;
  params: DuplicatesParams;
  /** Every candidate pair the search parts found (a pair found by several is kept once). */
  pairs: PairTable;
  searched: number;
  /** What the embed stage did in this process (embedded runs); cluster workers log their own. */
  embed?: EmbedSummary | null;
  /** The catalog's thumbnail folder: the CNN's proposals are verified by local features on them. */
  thumbnails?: string;
  /** WHOLE_CATALOG_LIMIT and COMPONENT_BATCH unless given (tests make them small). */
  batching?: { wholeCatalogLimit: number; componentBatch: number };
}

/** What a detection pass counted, for the job's summary. */
interface Tally {
  confirmed: number;
  rejected: number;
  embeddingsUsed: number;
  groups: DuplicatesSummary['groups'];
}

function tally(groups: ComputedGroup[], confirmed: number, rejected: number, embeddingsUsed: number): Tally {
  const count = (k: ComputedGroup['kind']) => groups.filter((g) => g.kind === k).length;
  return { confirmed, rejected, embeddingsUsed, groups: { exact: count('exact'), near: count('near'), burst: count('burst'), format_pair: count('format_pair') } };
}

function addTally(into: Tally, t: Tally): void {
  into.confirmed += t.confirmed;
  into.rejected += t.rejected;
  into.embeddingsUsed += t.embeddingsUsed;
  for (const k of Object.keys(into.groups) as (keyof Tally['groups'])[]) into.groups[k] += t.groups[k];
}

/**
 * Step 3: confirm, group, merge with the stored review state and write, all in one transaction
 * that holds the job's row and the catalog's duplicates lock, closing the job in it too. A job that is no
 * longer running under its owner (cancelled, taken over) writes nothing; null then. A catalog up to
 * WHOLE_CATALOG_LIMIT is grouped whole (with embedding retrieval and local features where asked);
 * a larger one a batch of whole components at a time, each written before the next is read.
 */
export async function finalizeDuplicates(sql: Sql, input: FinalizeDuplicatesInput): Promise<{ summary: DuplicatesSummary; job: Job | null }> {
  const { catalog, job, params } = input;
  // The hash passes find some pairs more than once: each is kept once.
  const pairs = input.pairs.unique();
  const schema = catalog.schema_name;
  const total = await countDedupeAssets(sql, schema);
  const { wholeCatalogLimit, componentBatch } = input.batching ?? { wholeCatalogLimit: WHOLE_CATALOG_LIMIT, componentBatch: COMPONENT_BATCH };
  // Embedding retrieval compares every picture with every other: it needs them all.
  const whole = total <= wholeCatalogLimit || (params.embeddings !== 'off' && input.searched <= retrievalLimit());
  const detected = whole ? await detectWhole(sql, input, pairs) : null;
  const stale = await countStaleFingerprints(sql, schema);
  const lockKey = duplicatesLockKey(catalog.id);
  let summary!: DuplicatesSummary;
  // One transaction, so after a lost connection it is sent again whole.
  const finished = await withReconnect(() =>
    whileRunning(sql, job.id, job.owner, async (tx) => {
      let counted: Tally;
      if (detected) {
        await writeDetection(tx, schema, lockKey, job.id, (stored) => mergeWithStored(stored, detected.groups));
        counted = detected.tally;
      } else {
        // Under the lock before the stored groups are read: they link components too.
        await lockDetection(tx, lockKey);
        counted = tally([], 0, 0, 0);
        for await (const batch of groupableBatches(tx, schema, pairs, componentBatch)) {
          const embeddings = params.embeddings === 'off' ? new Map<number, Float32Array>() : await loadEmbeddings(tx, schema, pairEndIds(batch.pairs));
          const { groups, confirmed, rejected } = detect(batch.assets, batch.pairs, embeddings, params);
          await writeDetection(tx, schema, lockKey, job.id, (stored) => mergeWithStored(stored, groups), batch.ids);
          addTally(counted, tally(groups, confirmed, rejected, embeddings.size));
        }
      }
      summary = {
        catalog: { id: catalog.id, name: catalog.name },
        job_id: job.id,
        assets: total,
        searched: input.searched,
        candidate_pairs: pairs.length,
        proposed_by_embeddings: detected?.proposed ?? 0,
        embedding_retrieval: detected?.retrieval ?? (params.embeddings === 'off' ? 'off' : `skipped above ${retrievalLimit()} pictures`),
        geometric_verification: detected?.verification ?? null,
        confirmed_pairs: counted.confirmed,
        rejected_by_similarity: counted.rejected,
        embeddings_used: counted.embeddingsUsed,
        embed: input.embed ?? null,
        stale_fingerprints: stale,
        groups: counted.groups,
        duration_s: Math.round(secondsSinceStart(job) * 1000) / 1000,
      };
      const progress: JobProgress = { done: input.searched, total: input.searched, failed: 0, rate: 0, eta_s: 0, stage: 'done' };
      // In the transaction, which counts its own rows: after it, the job is no longer this process's to hold.
      await analyzeGroups(tx, schema);
      return finishJob(tx, job.id, 'completed', { result: summary as unknown as Record<string, unknown>, progress });
    }),
  );
  return { summary, job: finished };
}

/** The whole catalog in memory: embedding retrieval, local features where asked, then every group. */
async function detectWhole(sql: Sql, input: FinalizeDuplicatesInput, table: PairTable) {
  const { params } = input;
  // At most WHOLE_CATALOG_LIMIT pictures' pairs (or retrievalLimit()'s): objects are affordable.
  const pairs = table.toArray();
  const schema = input.catalog.schema_name;
  const assets = await loadDedupeAssets(sql, schema);
  let embeddings = new Map<number, Float32Array>();
  let all = pairs;
  let proposed = 0;
  let retrieval = 'off';
  let verification: VerifySummary | null = null;
  if (params.embeddings !== 'off') {
    const reps = representatives(assets);
    if (reps.length <= retrievalLimit()) {
      embeddings = await loadEmbeddings(sql, schema, reps.map((r) => r.id));
      const found = embeddingPairs(reps, embeddings, pairs);
      retrieval = found.engine;
      if (input.thumbnails && reps.length > VERIFY_LIMIT) {
        all = [...pairs, ...found.pairs];
        verification = emptyVerifySummary(`above ${VERIFY_LIMIT} pictures`);
      } else if (input.thumbnails) {
        const verifier = await PairVerifier.open(sql, schema, input.thumbnails);
        try {
          all = await withLocalFeatures(assets, pairs, found, embeddings, params, (p) => verifier.verify(p));
        } finally {
          verifier.close();
        }
        verification = verifier.summary;
      } else {
        all = [...pairs, ...found.pairs];
      }
      const searched = new Set(pairs.map((p) => `${p.a},${p.b}`));
      proposed = all.filter((p) => !searched.has(`${p.a},${p.b}`)).length;
    } else {
      embeddings = await loadEmbeddings(sql, schema, table.endIds());
      retrieval = `skipped above ${retrievalLimit()} pictures`;
    }
  }
  const { groups, confirmed, rejected } = detect(assets, all, embeddings, params);
  return { groups, tally: tally(groups, confirmed, rejected, embeddings.size), proposed, retrieval, verification };
}

/** A batch of whole components: its assets (usable ones, in id order), the pairs among them, every id it covers. */
export interface GroupableBatch {
  assets: DedupeAsset[];
  pairs: NearPair[];
  ids: Int32Array;
}

/**
 * The assets that can be in a group, for catalogs too large to hold whole, a batch of whole
 * components at a time (dedupe/components.ts): what links them is read first (forEachLink) into
 * arrays indexed by id, then each batch's assets are read by id. The rules in dedupe/groups.ts
 * give the same groups batch by batch as over the whole catalog.
 */
export async function* groupableBatches(sql: Sql, schema: string, pairs: PairTable, perBatch: number, batch = HASH_BATCH): AsyncGenerator<GroupableBatch> {
  const components = new Components(await maxLinkableId(sql, schema));
  for (let k = 0; k < pairs.length; k++) components.linkPair(pairs.a[k]!, pairs.b[k]!);
  await forEachLink(sql, schema, batch, (runs) => {
    for (const run of runs) components.link(run);
  });
  const batches = components.batches(perBatch);
  const pairsOfBatch = partition(pairs.length, batches.count, (k) => batches.batchOf(pairs.a[k]!));
  for (let b = 0; b < batches.count; b++) {
    const ids = batches.ids(b);
    yield { assets: await loadDedupeAssetsByIds(sql, schema, ids), pairs: pairs.pick(pairsOfBatch[b]!), ids };
  }
}

/** The asset ids at either end of the pairs, each once. */
function pairEndIds(pairs: NearPair[]): number[] {
  return [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
}

/** Step 3 on the queue: the pairs come from the candidates table, which is cleared afterwards. */
export async function finalizeFromCandidates(work: DuplicatesWork, input: Omit<FinalizeDuplicatesInput, 'pairs'>): Promise<Job | null> {
  const pairs = await readCandidates(work.sql, input.catalog.schema_name, input.job.id);
  const { job } = await finalizeDuplicates(work.sql, { ...input, pairs, thumbnails: thumbnailDir(work.dataDir, input.catalog.id) });
  await closeDuplicates(work, input.catalog, input.job.id);
  return job;
}

/** What a job leaves behind once it has ended (finished, cancelled or gone): candidates, its cached index. */
export async function closeDuplicates(work: DuplicatesWork, catalog: Catalog | null, jobId: string): Promise<void> {
  if (catalog) await clearCandidates(work.sql, catalog.schema_name, jobId);
  work.indexes.forget(jobId);
}
