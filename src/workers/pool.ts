import { Piscina } from 'piscina';
import type { FileTask, FileTaskResult } from './file-task.js';

/** The per-process thread pool: one thread per core unless told otherwise. */
export class FilePool {
  readonly #piscina: Piscina<FileTask, FileTaskResult>;
  readonly threads: number;

  constructor(threads: number) {
    this.threads = threads;
    this.#piscina = new Piscina({
      filename: new URL('./file-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
    });
  }

  run(task: FileTask): Promise<FileTaskResult> {
    // The preview bytes are moved, not copied.
    const transfer = task.pixels ? [task.pixels.buffer as ArrayBuffer] : undefined;
    return this.#piscina.run(task, transfer ? { transferList: transfer } : undefined);
  }

  async close(): Promise<void> {
    await this.#piscina.destroy();
  }
}
