import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Sql } from '../db/database.js';
import { renewLeases } from '../db/jobs.js';
import type { Job } from '../model/job.js';
import { messageOf } from '../util/errors.js';

/**
 * Job ownership. A process that runs jobs itself names itself `host/pid/nonce` on each job row
 * and keeps the row's lease in the future; another process may take a job over only when its
 * owner is really gone: the lease has lapsed, or the owner was a process on this host that no
 * longer exists. Jobs the queue owns (cluster mode) have no owner and are recovered by BullMQ.
 */
export function newOwnerId(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

export function describeOwner(owner: string | null): string {
  if (!owner) return 'on the queue workers';
  const [host, pid] = owner.split('/');
  return `pid ${pid} on ${host}`;
}

/**
 * A process of this host that has exited: a fact, not a guess. `kill(pid, 0)` answers ESRCH for
 * a pid that is gone; a killed process its parent has not reaped yet (a zombie) still answers, so
 * its state in /proc is read too.
 */
function deadHere(owner: string): boolean {
  const [host, pid] = owner.split('/');
  if (host !== os.hostname() || !pid || !/^\d+$/.test(pid)) return false;
  if (Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    // /proc/PID/stat: "pid (comm) state …"; the name may hold spaces and parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

export interface OwnerCheck {
  /** This process's own id: its jobs are never "gone". */
  self: string;
  /** The database belongs to this process alone (embedded): any other owner has exited. */
  exclusive: boolean;
}

/** Whether an active job's owner is gone, so the job may be closed as interrupted or taken over. */
export function ownerIsGone(job: Pick<Job, 'owner' | 'params'> & { lapsed: boolean }, check: OwnerCheck): boolean {
  if (job.owner === check.self) return false;
  if (check.exclusive) return true;
  // Local jobs of versions before leases have no owner: nobody renews them.
  if (!job.owner) return (job.params as { runner?: string }).runner !== 'cluster';
  return job.lapsed || deadHere(job.owner);
}

export interface LeaseKeeperOptions {
  owner: string;
  leaseMs: number;
  /** A held job was ended or taken over by someone else, or its lease could not be renewed in time. */
  onLost(jobId: string, reason: string): void;
}

/**
 * Renews the leases of the jobs this process holds, three times per lease. A renewal that fails
 * (the database away) is retried on the next tick; when no renewal got through for a whole lease,
 * the jobs are reported lost, so work never goes on after another process could have taken it.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #renewing = false;

  constructor(
    private readonly sql: Sql,
    private readonly options: LeaseKeeperOptions,
  ) {
    this.#timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(options.leaseMs / 3)));
    this.#timer.unref();
  }

  get owner(): string {
    return this.options.owner;
  }

  hold(jobId: string): void {
    this.#held.set(jobId, Date.now());
  }

  release(jobId: string): void {
    this.#held.delete(jobId);
  }

  async renew(): Promise<void> {
    if (this.#renewing || !this.#held.size) return;
    this.#renewing = true;
    const ids = [...this.#held.keys()];
    try {
      const still = await renewLeases(this.sql, this.options.owner, ids, this.options.leaseMs);
      const now = Date.now();
      for (const id of ids) {
        if (!this.#held.has(id)) continue;
        if (still.has(id)) this.#held.set(id, now);
        else {
          this.#held.delete(id);
          this.options.onLost(id, 'the job was ended or taken over by another process');
        }
      }
    } catch (err) {
      const now = Date.now();
      for (const [id, renewedAt] of this.#held) {
        if (now - renewedAt < this.options.leaseMs) continue;
        this.#held.delete(id);
        this.options.onLost(id, `its lease could not be renewed for ${Math.round(this.options.leaseMs / 1000)} s: ${messageOf(err)}`);
      }
    } finally {
      this.#renewing = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#held.clear();
  }
}
