import type { Redis } from 'ioredis';
import { messageOf } from '../util/errors.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  mode: 'embedded' | 'cluster';
  database: { ok: boolean; error?: string };
  redis: { ok: boolean; configured: boolean; error?: string };
}

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

/**
 * Checks the database and Redis in the background once a second, so GET /health answers from
 * memory (load balancers poll it hard) and still says within a second which service is down.
 */
export class HealthProbe {
  #report: HealthReport;
  #json = '';
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pingDatabase: () => Promise<void>,
    private readonly redis: Redis | null,
  ) {
    this.#report = { status: 'ok', mode: redis ? 'cluster' : 'embedded', database: { ok: true }, redis: { ok: true, configured: !!redis } };
    this.#json = JSON.stringify(this.#report);
  }

  async start(intervalMs = 1000): Promise<void> {
    await this.check();
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  async check(): Promise<HealthReport> {
    const [db, redis] = await Promise.all([
      withTimeout(this.pingDatabase(), 2000).then(
        () => ({ ok: true }),
        (err) => ({ ok: false, error: messageOf(err) }),
      ),
      this.redis
        ? withTimeout(this.redis.ping(), 2000).then(
            () => ({ ok: true, configured: true }),
            (err) => ({ ok: false, configured: true, error: messageOf(err) }),
          )
        : Promise.resolve({ ok: true, configured: false }),
    ]);
    this.#report = { status: db.ok && redis.ok ? 'ok' : 'degraded', mode: this.#report.mode, database: db, redis };
    this.#json = JSON.stringify(this.#report);
    return this.#report;
  }

  get report(): HealthReport {
    return this.#report;
  }

  get json(): string {
    return this.#json;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
