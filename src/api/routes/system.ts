import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import type { Reply } from '../http.js';
import { route } from '../router.js';
import { Health, Worker } from '../schemas.js';

export interface ServerStats {
  requests: Record<string, number>;
  wsConnections: number;
  wsPublished: number;
  wsDelivered: number;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition (format 0.0.4). */
async function metricsText(deps: ApiDeps, stats: ServerStats): Promise<string> {
  const [workers, depths, jobRows] = await Promise.all([
    deps.workers().catch(() => []),
    deps.queueDepths().catch(() => ({})),
    deps.services.jobs.countsByStatus().catch(() => []),
  ]);
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  const health = deps.health.report;
  const up: [Record<string, string>, number][] = [[{ service: 'database' }, health.database.ok ? 1 : 0]];
  if (health.redis.configured) up.push([{ service: 'redis' }, health.redis.ok ? 1 : 0]);
  metric('lumina_up', 'gauge', 'Whether the database and Redis (cluster mode) answer (1) or not (0).', up);
  metric('lumina_queue_jobs', 'gauge', 'BullMQ jobs per queue and state.', Object.entries(depths).flatMap(([q, s]) => Object.entries(s).map(([state, n]) => [{ queue: q, state }, n] as [Record<string, string>, number])));
  metric('lumina_workers', 'gauge', 'Worker processes with a live heartbeat.', [[{}, workers.length]]);
  metric('lumina_worker_files_per_second', 'gauge', 'Files per second per worker over the last minute.', workers.map((w) => [{ worker: w.id, host: w.host }, w.files_per_s]));
  metric('lumina_files_per_second', 'gauge', 'Files per second over all workers.', [[{}, Math.round(workers.reduce((n, w) => n + w.files_per_s, 0) * 10) / 10]]);
  metric('lumina_jobs', 'gauge', 'Jobs by status.', jobRows.map((r) => [{ status: r.status }, Number(r.n)]));
  metric('lumina_file_errors_total', 'counter', 'Files that ended with an error, over all jobs.', [[{}, jobRows.reduce((n, r) => n + Number(r.failed), 0)]]);
  metric('lumina_http_requests_total', 'counter', 'HTTP requests served, by status class.', Object.entries(stats.requests).map(([c, n]) => [{ code: c }, n]));
  metric('lumina_ws_connections', 'gauge', 'Open WebSocket connections.', [[{}, stats.wsConnections]]);
  metric('lumina_ws_events_published_total', 'counter', 'Job events fanned out.', [[{}, stats.wsPublished]]);
  metric('lumina_ws_deliveries_total', 'counter', 'Event messages handed to subscribers.', [[{}, stats.wsDelivered]]);
  return lines.join('\n') + '\n';
}

export function systemRoutes(deps: ApiDeps, stats: () => ServerStats, openapi: () => string) {
  return [
    route({
      method: 'GET',
      path: '/health',
      summary: 'Whether the database and Redis answer (checked every second); 503 names the one that is down',
      tag: 'system',
      access: 'read',
      responses: { 200: Health, 503: Health },
      handler(): Reply {
        return { status: deps.health.report.status === 'ok' ? 200 : 503, raw: deps.health.json, contentType: 'application/json' };
      },
    }),
    route({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics: queue depths, files/s, errors, workers, HTTP and WebSocket counters',
      tag: 'system',
      access: 'read',
      responses: { 200: 'text/plain' },
      async handler() {
        return { raw: await metricsText(deps, stats()), contentType: 'text/plain; version=0.0.4' };
      },
    }),
    route({
      method: 'GET',
      path: '/api/openapi.json',
      summary: 'This API described as OpenAPI 3.1',
      tag: 'system',
      access: 'read',
      responses: { 200: 'application/json' },
      handler() {
        return { raw: openapi(), contentType: 'application/json' };
      },
    }),
    route({
      method: 'GET',
      path: '/api/workers',
      summary: 'Worker processes with a live heartbeat: host, pid, cores, files/s',
      tag: 'system',
      access: 'read',
      responses: { 200: Type.Array(Type.Ref(Worker)) },
      async handler() {
        return { body: await deps.workers() };
      },
    }),
  ];
}
