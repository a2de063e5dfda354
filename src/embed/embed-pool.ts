import { Piscina } from 'piscina';
import type { BackendName } from './backend.js';
import type { EmbedResult, EmbedTask } from './embed-worker.js';

export interface EmbedOptions {
  threads: number;
  modelDir?: string | null;
  layer?: string | null;
  backend?: BackendName | null;
}

/** Threads that each hold a model and run batches through it. */
export class EmbedPool {
  readonly #piscina: Piscina<EmbedTask, EmbedResult>;
  readonly threads: number;

  constructor(private readonly opts: EmbedOptions) {
    this.threads = Math.max(1, opts.threads);
    this.#piscina = new Piscina({
      filename: new URL('./embed-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: this.threads,
      idleTimeout: 60_000,
    });
  }

  /** One batch of count × size² × 3 RGB bytes; the input buffer is moved to the thread. */
  embed(input: Uint8Array, count: number): Promise<EmbedResult> {
    const task: EmbedTask = { input, count, modelDir: this.opts.modelDir ?? null, layer: this.opts.layer ?? null, backend: this.opts.backend ?? null };
    return this.#piscina.run(task, { transferList: [input.buffer as ArrayBuffer] });
  }

  async close(): Promise<void> {
    await this.#piscina.destroy();
  }
}
