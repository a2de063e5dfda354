import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { JobEvent } from '../events/job-events.js';
import { eventForJob } from '../events/job-events.js';
import type { Services } from '../app.js';
import { messageOf, UserError } from '../util/errors.js';

export interface SocketData {
  principal: string;
  /** The token the socket was opened with: it is closed when that token is revoked. */
  tokenHash: string | null;
  topics: Set<string>;
  closed: boolean;
  /** The client's messages are handled one after another. */
  chain: Promise<void>;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAX_TOPICS = 1000;
export const jobTopic = (id: string) => `job:${id.toLowerCase()}`;
export const catalogTopic = (id: string) => `catalog:${id.toLowerCase()}`;

/**
 * Fans job events out to WebSocket subscribers through uWS topics (the fan-out runs in C++).
 * Progress is coalesced per job to one message per `intervalMs` and never goes backwards;
 * completion and failure go out at once, after the job's last pending progress.
 */
export class EventFanout {
  readonly #pending = new Map<string, JobEvent>();
  readonly #lastDone = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  delivered = 0;
  published = 0;

  constructor(
    private readonly app: TemplatedApp,
    intervalMs = 100,
  ) {
    this.#timer = setInterval(() => this.flush(), intervalMs);
    this.#timer.unref();
  }

  onEvent(event: JobEvent): void {
    if (event.type === 'job_progress') {
      const last = this.#lastDone.get(event.job_id) ?? -1;
      if (event.progress.done < last) return;
      this.#lastDone.delete(event.job_id); // re-inserted last: the map stays in order of recent use
      this.#lastDone.set(event.job_id, event.progress.done);
      // A job whose end was never announced (its API instance restarted) is forgotten eventually.
      if (this.#lastDone.size > 100_000) this.#lastDone.delete(this.#lastDone.keys().next().value!);
      this.#pending.set(event.job_id, event);
      return;
    }
    this.#flushJob(event.job_id);
    this.#lastDone.delete(event.job_id);
    this.#send(event);
  }

  flush(): void {
    for (const id of [...this.#pending.keys()]) this.#flushJob(id);
  }

  #flushJob(id: string): void {
    const e = this.#pending.get(id);
    if (!e) return;
    this.#pending.delete(id);
    this.#send(e);
  }

  #send(event: JobEvent): void {
    const text = JSON.stringify(event);
    this.published++;
    const topics = [jobTopic(event.job_id)];
    if (event.catalog_id) topics.push(catalogTopic(event.catalog_id));
    for (const t of topics) {
      const n = this.app.numSubscribers(t);
      if (n === 0) continue;
      this.app.publish(t, text, false);
      this.delivered += n;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function reply(ws: WebSocket<SocketData>, value: unknown): void {
  ws.send(JSON.stringify(value), false);
}

/** A client's message: subscribe / unsubscribe to a job or a catalog. */
export async function handleClientMessage(ws: WebSocket<SocketData>, raw: ArrayBuffer, services: Pick<Services, 'jobs' | 'catalogs'>, isOpen: () => boolean): Promise<void> {
  let msg: { type?: unknown; job_id?: unknown; catalog_id?: unknown };
  try {
    msg = JSON.parse(Buffer.from(raw).toString('utf8'));
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new Error('not an object');
  } catch {
    return reply(ws, { type: 'error', error: { code: 'invalid_message', message: 'messages are JSON objects' } });
  }
  const type = msg.type;
  if (type !== 'subscribe' && type !== 'unsubscribe') {
    return reply(ws, { type: 'error', error: { code: 'invalid_message', message: 'type must be "subscribe" or "unsubscribe"' } });
  }
  const jobId = typeof msg.job_id === 'string' ? msg.job_id : undefined;
  const catalogId = typeof msg.catalog_id === 'string' ? msg.catalog_id : undefined;
  const extra = Object.keys(msg).filter((k) => !['type', 'job_id', 'catalog_id'].includes(k));
  if ((jobId === undefined) === (catalogId === undefined) || extra.length) {
    return reply(ws, { type: 'error', error: { code: 'invalid_message', message: 'give exactly one of job_id or catalog_id (and nothing else)' } });
  }
  const id = (jobId ?? catalogId)!;
  if (!UUID.test(id)) return reply(ws, { type: 'error', error: { code: 'invalid_message', message: `not an id: "${id.slice(0, 60)}"` } });
  const topic = jobId ? jobTopic(id) : catalogTopic(id);
  const data = ws.getUserData();
  if (type === 'unsubscribe') {
    ws.unsubscribe(topic);
    data.topics.delete(topic);
    return reply(ws, { type: 'unsubscribed', ...(jobId ? { job_id: jobId } : { catalog_id: catalogId }) });
  }
  if (data.topics.size >= MAX_TOPICS) return reply(ws, { type: 'error', error: { code: 'too_many_subscriptions', message: `at most ${MAX_TOPICS} per connection` } });

  // The current state first, so a job that finished before the subscription is not waited on forever.
  let current: JobEvent | null = null;
  try {
    if (jobId) current = eventForJob(await services.jobs.get(jobId));
    else await services.catalogs.get(id);
  } catch (err) {
    if (!isOpen()) return;
    const code = err instanceof UserError && err.kind === 'not_found' ? 'not_found' : 'error';
    return reply(ws, { type: 'error', error: { code, message: messageOf(err) } });
  }
  if (!isOpen()) return;
  ws.cork(() => {
    ws.subscribe(topic);
    data.topics.add(topic);
    reply(ws, { type: 'subscribed', ...(jobId ? { job_id: jobId } : { catalog_id: catalogId }) });
    if (current) reply(ws, current);
  });
}
