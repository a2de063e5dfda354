import fs from 'node:fs/promises';
import path from 'node:path';
import type { LuminaConfig } from '../config/config.js';
import { legacyEmbedInputDir, thumbnailDir, type Catalog } from '../model/catalog.js';
import type { Sql } from '../db/database.js';
import { pendingContents, writeEmbeddings } from '../db/embeddings.js';
import { cnnInput, EMBED_SIZE } from '../pipeline/pixels.js';
import { EmbedPool } from './embed-pool.js';
import { DEFAULT_MODEL } from './model.js';

interface Pending {
  sha: string;
  ids: number[];
  thumbnailKey: string | null;
}

export interface EmbedSummary {
  embedded: number;
  /** Pictures whose thumbnail could not be read: no embedding. */
  failed: number;
  backend: string | null;
  model: string;
}

/**
 * The embed stage: every picture of a catalog without an embedding of the current model gets one.
 * Its input is cut from the picture's 256 px thumbnail inside its plain border (`cnnInput`): the
 * original is never opened again. Copies share one embedding run (keyed by content). Batches go
 * to a pool of model threads.
 */
export class EmbedService {
  #pool: EmbedPool | null = null;
  backend: string | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly config: LuminaConfig,
    private readonly threads = config.workers,
  ) {}

  get modelId(): string {
    return this.config.modelDir ? `dir:${this.config.modelDir}` : DEFAULT_MODEL;
  }

  /** Contents (one per SHA-256) that still need an embedding, at most `limit`. */
  async pending(catalog: Catalog, shas?: string[], limit = 10_000_000): Promise<Pending[]> {
    const rows = await pendingContents(this.sql, catalog.schema_name, this.modelId, shas ?? null, limit);
    return rows.map((r) => ({ sha: r.sha256.toString('hex'), ids: r.ids.map(Number), thumbnailKey: r.thumbnail_key }));
  }

  async embedPending(catalog: Catalog, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; shas?: string[] } = {}): Promise<EmbedSummary> {
    const { signal, onProgress } = opts;
    const todo = await this.pending(catalog, opts.shas);
    const summary: EmbedSummary = { embedded: 0, failed: 0, backend: null, model: this.modelId };
    const batch = this.config.embedBatch;
    const pool = this.#ensurePool();
    let done = 0;
    const batches: Pending[][] = [];
    for (let i = 0; i < todo.length; i += batch) batches.push(todo.slice(i, i + batch));
    // As many batches in flight as threads, plus one being read from disk.
    let next = 0;
    const lane = async () => {
      while (next < batches.length && !signal?.aborted) {
        const items = batches[next++]!;
        const inputs = await Promise.all(items.map((p) => this.#input(catalog, p)));
        const ok = items.filter((_, k) => inputs[k]);
        summary.failed += items.length - ok.length;
        if (ok.length) {
          const bytes = EMBED_SIZE * EMBED_SIZE * 3;
          const input = new Uint8Array(ok.length * bytes);
          let k = 0;
          for (const got of inputs) if (got) input.set(got, bytes * k++);
          const result = await pool.embed(input, ok.length);
          if (this.backend !== result.backend) process.stderr.write(`lumina: embeddings on the TensorFlow.js ${result.backend} backend (${result.model})\n`);
          summary.backend = this.backend = result.backend;
          summary.model = result.model;
          const rows = ok.flatMap((p, j) => p.ids.map((assetId) => ({ assetId, vector: result.vectors.slice(j * result.dim, (j + 1) * result.dim) })));
          await writeEmbeddings(this.sql, catalog.schema_name, result.model, rows);
          summary.embedded += ok.length;
        }
        done += items.length;
        onProgress?.(done, todo.length);
      }
    };
    await Promise.all(Array.from({ length: pool.threads }, lane));
    // Nothing reads the CNN inputs an earlier version spooled at ingest any more.
    await fs.rm(legacyEmbedInputDir(this.config.dataDir, catalog.id), { recursive: true, force: true });
    return summary;
  }

  async #input(catalog: Catalog, p: Pending): Promise<Buffer | null> {
    if (!p.thumbnailKey) return null;
    try {
      return await cnnInput(path.join(thumbnailDir(this.config.dataDir, catalog.id), p.thumbnailKey));
    } catch {
      return null;
    }
  }

  #ensurePool(): EmbedPool {
    this.#pool ??= new EmbedPool({ threads: this.threads, modelDir: this.config.modelDir, backend: this.config.embedBackend });
    return this.#pool;
  }

  async close(): Promise<void> {
    await this.#pool?.close();
    this.#pool = null;
  }
}
