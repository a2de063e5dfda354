import type { Redis } from 'ioredis';
import type { WorkerInfo } from '../jobs/executor.js';
import { keys } from './names.js';

const HEARTBEAT_MS = 5000;
/** A worker silent for this long is gone (killed, or its host lost). */
const EXPIRE_MS = 3 * HEARTBEAT_MS;

/** Worker hosts announce themselves with a heartbeat key that expires when they stop. */
export class WorkerRegistry {
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  #info: (() => WorkerInfo) | null = null;
  #soon: NodeJS.Timeout | null = null;

  start(info: () => WorkerInfo): void {
    this.#info = info;
    const beat = () => {
      const i = info();
      this.redis.set(keys.worker(this.prefix, i.id), JSON.stringify({ ...i, last_seen: new Date().toISOString() }), 'PX', EXPIRE_MS).catch(() => {});
    };
    beat();
    this.#timer = setInterval(beat, HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Something changed (a shard started or ended): announce it within 200 ms, not at the next beat. */
  touch(): void {
    if (this.#soon || !this.#info || !this.#timer) return;
    this.#soon = setTimeout(() => {
      this.#soon = null;
      if (!this.#info || !this.#timer) return;
      const i = this.#info();
      this.redis.set(keys.worker(this.prefix, i.id), JSON.stringify(i), 'PX', EXPIRE_MS).catch(() => {});
    }, 200);
    this.#soon.unref();
  }

  async stop(workerId: string): Promise<void> {
    if (this.#soon) clearTimeout(this.#soon);
    this.#soon = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.redis.del(keys.worker(this.prefix, workerId)).catch(() => {});
  }

  async list(): Promise<WorkerInfo[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', keys.workers(this.prefix), 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    if (!found.length) return [];
    const values = await this.redis.mget(...found);
    return values
      .filter((v): v is string => v !== null)
      .map((v) => JSON.parse(v) as WorkerInfo)
      .sort((a, b) => a.id.localeCompare(b.id));
  }
}
