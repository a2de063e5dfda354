import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { benchPrefix, haveWrk, REDIS, startLumina, throwawayDatabase } from './services.js';

/**
 * `npm run bench -- api [--duration S] [--connections N] [--subscribers N]`
 *
 * Against `lumina serve` in cluster mode (a throw-away database and key prefix on the machine's
 * PostgreSQL and Redis): requests/s for GET /health and GET /api/jobs/:id under wrk (autocannon
 * when wrk is not installed), then WebSocket deliveries/s to N subscribers of one catalog while
 * job events pour in through Redis pub/sub, as workers send them.
 */
const log = (s: string) => process.stderr.write(s + '\n');
const r1 = (x: number) => Math.round(x * 10) / 10;

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

async function load(url: string, seconds: number, connections: number): Promise<{ rps: number; tool: string; non2xx: number }> {
  if (haveWrk()) {
    const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    return { rps, tool: 'wrk', non2xx };
  }
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon') as (o: object) => Promise<{ requests: { average: number }; non2xx: number }>;
  const res = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return { rps: res.requests.average, tool: 'autocannon', non2xx: res.non2xx };
}

/** Child phase: N WebSocket clients subscribed to one catalog, counting what arrives. */
export async function wsClients(argv: string[]): Promise<void> {
  const { url, n, catalog } = JSON.parse(argv[0]!) as { url: string; n: number; catalog: string };
  let received = 0;
  let closed = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('message', () => received++);
    ws.on('close', () => closed++);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', catalog_id: catalog }));
    sockets.push(ws);
  }
  // Wait for every "subscribed" answer before saying ready.
  while (received < n) await new Promise((r) => setTimeout(r, 10));
  process.stdout.write('ready\n');
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    for (const cmd of line.split('\n').filter(Boolean)) {
      if (cmd === 'mark') process.stdout.write(JSON.stringify({ received, closed, at: performance.now() }) + '\n');
      if (cmd === 'exit') {
        for (const s of sockets) s.terminate();
        process.exit(0);
      }
    }
  });
}

export async function benchApi(argv: string[]): Promise<void> {
  const seconds = arg(argv, 'duration', 10);
  const connections = arg(argv, 'connections', 64);
  const subscribers = arg(argv, 'subscribers', 1000);
  const db = await throwawayDatabase();
  const keys = benchPrefix();
  const env = { DATABASE_URL: db.url, REDIS_URL: REDIS, LUMINA_QUEUE_PREFIX: keys.prefix, LUMINA_DATA_DIR: os.tmpdir() };
  const serve = await startLumina(['serve', '--port', '0'], env, /serving http:\/\/\S+:(\d+)/);
  const base = `http://127.0.0.1:${serve.match[1]}`;
  try {
    log(`lumina API benchmark on ${os.cpus()[0]?.model ?? 'cpu'} ×${os.availableParallelism()} (server: one process, one thread)`);
    const catalog = await (await fetch(`${base}/api/catalogs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', source_directories: ['/nonexistent'] }) })).json() as { id: string };
    // No worker runs: the job stays queued, and its state is what the event stream keeps current.
    const job = await (await fetch(`${base}/api/jobs/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ catalog_id: catalog.id }) })).json() as { id: string };

    log(`GET /health for ${seconds} s, ${connections} connections …`);
    const health = await load(`${base}/health`, seconds, connections);
    log(`GET /api/jobs/:id for ${seconds} s …`);
    const status = await load(`${base}/api/jobs/${job.id}`, seconds, connections);

    log(`WebSocket: ${subscribers} subscribers of one catalog …`);
    const ws = await wsDeliveries(serve.match[1]!, catalog.id, keys.prefix, subscribers, Math.min(seconds, 8));

    const out = {
      health_rps: r1(health.rps),
      job_status_rps: r1(status.rps),
      load_tool: health.tool,
      non_2xx: health.non2xx + status.non2xx,
      ws: ws,
    };
    const row = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(40)} ${v}\n`);
    process.stdout.write(`\nlumina API benchmark (${health.tool}, ${connections} connections, ${seconds} s each)\n`);
    row('GET /health (target 50 000 req/s)', `${out.health_rps} req/s (${r1(out.health_rps / 50_000)}× target)`);
    row('GET /api/jobs/:id (target 30 000 req/s)', `${out.job_status_rps} req/s (${r1(out.job_status_rps / 30_000)}× target)`);
    row(`WebSocket deliveries, ${subscribers} subscribers`, `${ws.best_deliveries_per_s} /s sustained (target 200 000/s; ${r1(ws.best_deliveries_per_s / 200_000)}× target)`);
    for (const s of ws.steps) row(`  offered ${s.offered_per_s}/s`, `received ${s.received_per_s}/s, closed sockets ${s.closed}`);
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await serve.stop();
    await keys.clean();
    await db.drop();
  }
}

/**
 * Events go into Redis as workers publish them; each is for a different job of one catalog, so
 * per-job coalescing passes them all and every subscriber gets every one. The offered rate
 * doubles until what arrives falls short of what was offered.
 */
async function wsDeliveries(port: string, catalogId: string, prefix: string, n: number, seconds: number) {
  const clients = spawn(process.execPath, [process.argv[1]!, 'ws-clients', JSON.stringify({ url: `ws://127.0.0.1:${port}/ws`, n, catalog: catalogId })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  clients.stdout!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const nextLine = async () => {
    while (!lines.length) await new Promise((r) => setTimeout(r, 5));
    return lines.shift()!;
  };
  await nextLine(); // ready
  const redis = new Redis(REDIS);
  const channel = `${prefix}:events`;
  const steps: { offered_per_s: number; received_per_s: number; closed: number }[] = [];
  let best = 0;
  let jobSeq = 0;
  for (let eventsPerS = 50; eventsPerS <= 3200; eventsPerS *= 2) {
    clients.stdin!.write('mark\n');
    const before = JSON.parse(await nextLine());
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * eventsPerS) - sent;
      if (due > 0) {
        const p = redis.pipeline();
        for (let i = 0; i < due; i++) {
          const id = `00000000-0000-4000-8000-${String(jobSeq++ % 1e12).padStart(12, '0')}`;
          p.publish(channel, JSON.stringify({ type: 'job_progress', job_id: id, catalog_id: catalogId, job_type: 'scan', status: 'running', progress: { done: 1, total: 100, failed: 0, rate: 10, eta_s: 9, stage: 'ingest' } }));
        }
        await p.exec();
        sent += due;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 500)); // let the last flush arrive
    clients.stdin!.write('mark\n');
    const after = JSON.parse(await nextLine());
    const got = after.received - before.received;
    const rate = Math.round(got / seconds);
    steps.push({ offered_per_s: eventsPerS * n, received_per_s: rate, closed: after.closed });
    log(`  offered ${eventsPerS * n}/s → received ${rate}/s (${after.closed} closed)`);
    if (after.closed > 0 || got < 0.95 * sent * n) break;
    best = rate;
  }
  clients.stdin!.write('exit\n');
  redis.disconnect();
  return { subscribers: n, best_deliveries_per_s: best, steps };
}
