import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { LocalEventBus, type EventBus, type JobEvent } from '../src/events/job-events.js';
import { MemoryLedger, type JobLedger } from '../src/jobs/ledger.js';
import { RedisEventBus } from '../src/queue/redis-event-bus.js';
import { RedisLedger } from '../src/queue/redis-ledger.js';
import { REDIS_URL, redisPrefix, waitFor } from './helpers/server.js';

// One conformance suite per contract, run against both implementations: what the in-process
// runner relies on must hold on Redis too, and the other way round.

const LEDGERS: [string, (t: Test) => JobLedger][] = [
  ['memory', () => new MemoryLedger()],
  [
    'redis',
    (t) => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
      t.teardown(() => redis.quit());
      return new RedisLedger(redis, redisPrefix(t));
    },
  ],
];

const BUSES: [string, (t: Test) => EventBus][] = [
  ['local', () => new LocalEventBus()],
  [
    'redis',
    (t) => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
      const bus = new RedisEventBus(redis, REDIS_URL, redisPrefix(t));
      t.teardown(async () => {
        await bus.close();
        await redis.quit();
      });
      return bus;
    },
  ],
];

const JOB = '11111111-2222-4333-8444-555555555555';

for (const [name, make] of LEDGERS) {
  t.test(`job ledger: ${name}`, async (t) => {
    const ledger = make(t);
    await ledger.begin(JOB, 100);
    let c = await ledger.record(JOB, 0, 10, 1);
    t.same([c.total, c.done, c.failed], [100, 10, 1], 'a shard counts its files');
    c = await ledger.record(JOB, 1, 5, 0);
    t.same([c.done, c.failed], [15, 1], 'shards add up');
    c = await ledger.record(JOB, 0, 4, 0);
    t.same([c.done, c.failed], [15, 1], 'a retried shard starting again from 0 never counts twice or goes back');
    c = await ledger.record(JOB, 0, 12, 2);
    t.same([c.done, c.failed], [17, 2], 'and counts again once it passes what it had reported');
    t.ok(c.startedAt > 0 && c.startedAt <= Date.now(), 'the rate is measured from begin');

    t.equal(await ledger.isCancelled(JOB), false);
    await ledger.cancel(JOB);
    t.equal(await ledger.isCancelled(JOB), true, 'the cancel flag is seen');
    t.equal(await ledger.isCancelled('99999999-2222-4333-8444-555555555555'), false, 'only by its own job');

    await ledger.forget(JOB);
    t.equal(await ledger.isCancelled(JOB), true, 'forget keeps the cancel flag: late parts still see it');
    await ledger.begin(JOB, 3);
    c = await ledger.record(JOB, 0, 1, 0);
    t.same([c.total, c.done], [3, 1], 'but drops the counts');
  });
}

for (const [name, make] of BUSES) {
  t.test(`event bus: ${name}`, async (t) => {
    const bus = make(t);
    const a: JobEvent[] = [];
    const b: JobEvent[] = [];
    const offA = bus.subscribe((e) => a.push(e));
    bus.subscribe((e) => b.push(e));
    // A Redis subscription is live once its connection has subscribed: publish until heard.
    const progress = (done: number): JobEvent => ({
      type: 'job_progress', job_id: JOB, catalog_id: null, job_type: 'scan', status: 'running',
      progress: { done, total: 10, failed: 0, rate: 1, eta_s: 9, stage: 'ingest' },
    });
    await waitFor('the first event', async () => {
      bus.publish(progress(1));
      await new Promise((r) => setTimeout(r, 50));
      return a.length > 0;
    });
    const before = a.length;
    bus.publish(progress(2));
    bus.publish({ type: 'job_completed', job_id: JOB, catalog_id: null, job_type: 'scan', status: 'completed', progress: progress(10).progress, result: { files: 10 } });
    await waitFor('both listeners', async () => a.length >= before + 2 && b.length >= before + 2);
    t.same(a.slice(before).map((e) => e.type), ['job_progress', 'job_completed'], 'events arrive in order');
    t.same(a.at(-1), b.at(-1), 'every listener gets the same event');
    t.same((a.at(-1) as { result: unknown }).result, { files: 10 }, 'with its fields intact');

    offA();
    const seenA = a.length;
    bus.publish(progress(3));
    await waitFor('the remaining listener', async () => b.some((e) => e.type === 'job_progress' && e.progress.done === 3));
    t.equal(a.length, seenA, 'an unsubscribed listener hears nothing more');
    await bus.close();
    const seenB = b.length;
    bus.publish(progress(4));
    await new Promise((r) => setTimeout(r, 150));
    t.equal(b.length, seenB, 'a closed bus delivers nothing');
  });
}
