import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Catalog } from '../model/catalog.js';
import type { Job } from '../model/job.js';
import type { JobExecutor } from '../jobs/executor.js';
import type { JobLedger } from '../jobs/ledger.js';
import { bullIds, QUEUE_NAMES, RETRYING, type DedupePlanPayload, type DiscoverPayload, type OrganizePayload, type QueueName } from './names.js';

/** The queues as a producer sees them: what the API and `lumina worker` enqueue into. */
export class QueueSet {
  readonly queues: Record<QueueName, Queue>;
  readonly flows: FlowProducer;

  constructor(connection: Redis, prefix: string) {
    this.queues = Object.fromEntries(QUEUE_NAMES.map((n) => [n, new Queue(n, { connection, prefix })])) as Record<QueueName, Queue>;
    this.flows = new FlowProducer({ connection, prefix });
  }

  /** Jobs waiting and running per queue, for /metrics and autoscaling. */
  async depths(): Promise<Record<QueueName, Record<string, number>>> {
    const entries = await Promise.all(
      QUEUE_NAMES.map(async (n) => [n, await this.queues[n].getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed')] as const),
    );
    return Object.fromEntries(entries) as Record<QueueName, Record<string, number>>;
  }

  async close(): Promise<void> {
    await Promise.all([...Object.values(this.queues).map((q) => q.close()), this.flows.close()]);
  }
}

/** Cluster mode: a scan becomes a discover job; workers on any host do the rest. */
export class ClusterExecutor implements JobExecutor {
  readonly mode = 'cluster' as const;
  readonly owner = null;

  constructor(
    private readonly queues: QueueSet,
    private readonly ledger: JobLedger,
  ) {}

  async submit(job: Job, _catalog: Catalog): Promise<void> {
    if (job.type === 'organize') {
      const payload: OrganizePayload = { job_id: job.id };
      await this.queues.queues.organize.add('organize', payload, { ...RETRYING, jobId: bullIds.organize(job.id) });
      return;
    }
    if (job.type === 'duplicates') {
      const payload: DedupePlanPayload = { job_id: job.id };
      await this.queues.queues.dedupe.add('plan', payload, { ...RETRYING, jobId: bullIds.dedupePlan(job.id) });
      return;
    }
    const payload: DiscoverPayload = { job_id: job.id };
    await this.queues.queues.discover.add('discover', payload, { ...RETRYING, jobId: bullIds.discover(job.id) });
  }

  /**
   * The flag stops every shard that starts from now on at once, and running shards within a
   * second; a discover job not yet taken is removed outright.
   */
  async cancel(jobId: string): Promise<void> {
    await this.ledger.cancel(jobId);
    await this.queues.queues.discover.remove(bullIds.discover(jobId)).catch(() => 0);
    await this.queues.queues.dedupe.remove(bullIds.dedupePlan(jobId)).catch(() => 0);
    await this.queues.queues.organize.remove(bullIds.organize(jobId)).catch(() => 0);
  }

  async close(): Promise<void> {}
}
