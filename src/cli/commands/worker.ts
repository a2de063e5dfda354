import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openWorker } from '../../app.js';
import { parseQueues } from '../../queue/lumina-worker.js';
import { UserError } from '../../util/errors.js';
import { configOf, wantsJson } from '../context.js';
import { onShutdown } from '../shutdown.js';

const positive = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(v);
};

const whole = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

interface WorkerFlags {
  concurrency: number;
  queues?: string;
  lockMs: number;
  graceS: number;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run queued work (scan shards) on this host until stopped; needs REDIS_URL and a shared PostgreSQL')
    .option('--concurrency <n>', 'shards in flight at once on this host', positive, 2)
    .option('--queues <list>', 'comma-separated queues to take work from (discover, ingest, finalize, dedupe, search, embed; default all)')
    .option('--lock-ms <n>', 'how long a shard of a lost worker stays locked before another takes it', positive, 30_000)
    .option('--grace-s <n>', 'on SIGTERM, seconds running shards may go on before they are handed back', whole, 20)
    .action(async (opts: WorkerFlags, cmd: Command) => {
      const config = configOf(cmd);
      if (!config.redisUrl) throw new UserError('a worker needs Redis: set REDIS_URL (or --redis-url, or REDIS_HOST)');
      if (config.database.kind !== 'postgres') {
        throw new UserError('a worker needs the PostgreSQL that the API uses: set DATABASE_URL (the embedded database cannot be shared)');
      }
      const queues = parseQueues(opts.queues);
      const { worker, close } = await openWorker({ ...config, redisUrl: config.redisUrl }, {
        concurrency: opts.concurrency,
        queues,
        lockMs: opts.lockMs,
        graceMs: opts.graceS * 1000,
      });
      worker.start();
      process.stderr.write(`lumina: worker ${worker.id} taking ${queues.join(', ')} (${config.workers} threads, ${opts.concurrency} shards at once)\n`);
      if (wantsJson(cmd)) process.stdout.write(JSON.stringify({ id: worker.id, queues, threads: config.workers, concurrency: opts.concurrency }) + '\n');
      await onShutdown(close);
      process.stderr.write(`lumina: worker ${worker.id} stopped\n`);
      process.exit(0);
    });
}
