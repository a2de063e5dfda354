import { api, auth } from './api.svelte';
import type { Job, Progress } from './types';

/**
 * Jobs as the page knows them: loaded over REST, then kept current by the WebSocket's events.
 * After a reconnect the list is read again; a job's progress never moves backwards on the page
 * and a finished job never looks running again, whatever order the two sources answer in.
 */
export const live = $state({
  jobs: {} as Record<string, Job>,
  connection: 'offline' as 'offline' | 'connecting' | 'live' | 'reconnecting',
  /** Times the socket came back and the page resynced: shown, and read by the tests. */
  resyncs: 0,
});

const FINAL = new Set(['completed', 'failed', 'cancelled']);

interface JobEvent {
  type: 'job_progress' | 'job_completed' | 'job_failed' | 'subscribed' | 'unsubscribed' | 'error';
  job_id?: string;
  catalog_id?: string | null;
  job_type?: string;
  status?: Job['status'];
  progress?: Progress;
  result?: Record<string, unknown> | null;
  error?: unknown;
}

/**
 * Folds a job's newer state in; progress only moves forward while a job runs. What describes the
 * job (params, created_at) is always taken from the REST row: a job first heard of through an
 * event (its events can beat the answer to the POST that started it) has none of it yet.
 */
export function mergeJob(next: Job): void {
  const cur = live.jobs[next.id];
  if (!cur) {
    live.jobs[next.id] = next;
    return;
  }
  const described = { ...cur, ...next, params: Object.keys(next.params ?? {}).length ? next.params : cur.params, created_at: next.created_at ?? cur.created_at };
  if (FINAL.has(cur.status) && !FINAL.has(next.status)) {
    live.jobs[next.id] = { ...described, status: cur.status, progress: cur.progress, result: cur.result, error: cur.error, error_code: cur.error_code, started_at: cur.started_at ?? next.started_at, finished_at: cur.finished_at };
    return;
  }
  const progress = !FINAL.has(next.status) && next.progress.done < cur.progress.done ? cur.progress : next.progress;
  live.jobs[next.id] = { ...described, progress };
}

/** Newest first; a job known only from its events (no created_at yet) has just started. */
export function newestFirst(a: Job, b: Job): number {
  return (b.created_at ?? '9').localeCompare(a.created_at ?? '9');
}

/** The newest job that `keep` accepts. */
export function latestJob(keep: (j: Job) => boolean): Job | undefined {
  return Object.values(live.jobs).filter(keep).sort(newestFirst)[0];
}

function onEvent(e: JobEvent): void {
  if (!e.job_id || !e.status || !e.progress) return;
  const cur = live.jobs[e.job_id];
  const base: Job = cur ?? {
    id: e.job_id,
    catalog_id: e.catalog_id ?? null,
    type: e.job_type ?? 'job',
    status: e.status,
    params: {},
    progress: e.progress,
    result: null,
    error: null,
    error_code: null,
    created_at: null,
    started_at: null,
    finished_at: null,
  };
  mergeJob({
    ...base,
    status: e.status,
    progress: e.progress,
    result: e.type === 'job_completed' ? (e.result ?? null) : base.result,
    error: e.type === 'job_failed' ? String(e.error ?? '') : base.error,
    finished_at: FINAL.has(e.status) ? (base.finished_at ?? new Date().toISOString()) : base.finished_at,
  });
}

let socket: WebSocket | null = null;
let catalogs = new Set<string>();
let retry = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let everOpen = false;

/** Reads the newest jobs over REST (the state every event is folded into). */
export async function loadJobs(): Promise<void> {
  const page = await api<{ items: Job[] }>('/api/jobs', { query: { limit: 200 } });
  for (const j of page.items) mergeJob(j);
}

function subscribe(ids: Iterable<string>): void {
  if (socket?.readyState !== WebSocket.OPEN) return;
  for (const id of ids) socket.send(JSON.stringify({ type: 'subscribe', catalog_id: id }));
}

/** Keeps one socket open, subscribed to every catalog's jobs; reconnects with backoff. */
export function watchCatalogs(ids: string[]): void {
  const fresh = ids.filter((id) => !catalogs.has(id));
  for (const id of fresh) catalogs.add(id);
  if (!socket) connect();
  else subscribe(fresh);
}

function connect(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = auth.token ? `?token=${encodeURIComponent(auth.token)}` : '';
  live.connection = everOpen ? 'reconnecting' : 'connecting';
  const ws = new WebSocket(`${proto}//${location.host}/ws${q}`);
  socket = ws;
  ws.onopen = () => {
    retry = 0;
    live.connection = 'live';
    subscribe(catalogs);
    // Events sent while the socket was down are gone: the job state is read again.
    if (everOpen) {
      loadJobs().then(() => live.resyncs++).catch(() => {});
    }
    everOpen = true;
  };
  ws.onmessage = (m) => {
    try {
      onEvent(JSON.parse(String(m.data)) as JobEvent);
    } catch {
      /* not ours */
    }
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    live.connection = 'reconnecting';
    const delay = Math.min(10_000, 250 * 2 ** retry++);
    timer = setTimeout(connect, delay);
  };
}

/** A new token: the old socket (opened with the old one) is replaced. */
export function restartSocket(): void {
  const old = socket;
  socket = null;
  old?.close();
  if (catalogs.size) connect();
}
