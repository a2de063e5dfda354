import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { deleteKeys } from '../../src/queue/redis.js';
import { CLI } from './cli.js';

/** The Redis the machine runs; tests keep to a key prefix of their own. */
export const REDIS_URL = process.env.LUMINA_TEST_REDIS ?? 'redis://127.0.0.1:6379/0';

/** A key prefix for this test, its keys deleted when it ends. */
export function redisPrefix(t: Test, url = REDIS_URL): string {
  const prefix = `lumina-test-${randomBytes(5).toString('hex')}`;
  t.teardown(async () => {
    const r = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await r.connect();
      await deleteKeys(r, prefix);
    } catch {
      /* a test that stopped its own Redis has nothing to clean */
    } finally {
      r.disconnect();
    }
  });
  return prefix;
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  /** Sends the signal to the whole process group (ExifTool's children too) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `lumina ARGS` and waits until its stderr matches `ready`. */
export async function startLumina(t: Test, env: Record<string, string>, args: string[], ready: RegExp, prefix: string[] = []): Promise<Proc & { match: RegExpMatchArray }> {
  const [cmd, ...pre] = prefix.length ? prefix : [process.execPath];
  const argv = prefix.length ? [...pre, process.execPath, CLI, ...args] : [CLI, ...args];
  const proc = spawn(cmd!, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(-proc.pid!, signal);
      } catch {
        /* gone */
      }
    }
    return exited;
  };
  t.teardown(() => stop('SIGKILL').then(() => undefined));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lumina ${args.join(' ')} did not start: ${out}`)), 60_000);
    const check = () => {
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    proc.stderr!.on('data', check);
    proc.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`lumina ${args.join(' ')} exited before it was ready: ${out}`));
    });
  });
  return { proc, output: () => out, stop, exited, match };
}

export async function startServe(t: Test, env: Record<string, string>, args: string[] = []) {
  const p = await startLumina(t, env, ['serve', '--port', '0', ...args], /serving http:\/\/(\S+):(\d+)/);
  const port = Number(p.match[2]);
  return { ...p, port, url: `http://127.0.0.1:${port}` };
}

export function startWorker(t: Test, env: Record<string, string>, args: string[] = [], prefix: string[] = []) {
  return startLumina(t, env, ['worker', ...args], /worker \S+ taking/, prefix);
}

export interface ApiResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One HTTP request; the body is sent as JSON unless `raw` is given. */
export async function api(
  base: string,
  method: string,
  path: string,
  o: { body?: unknown; raw?: string | Buffer; token?: string; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | Buffer | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  // The server refuses a change that carries neither a JSON content type nor a token (a page on
  // another site could send it); an API client says it speaks JSON.
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && o.raw === undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(base + path, { method, headers, body });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls a job over the API until it reaches a final status. */
export function jobDone(base: string, jobId: string, token?: string, timeoutMs = 120_000) {
  return waitFor(
    `job ${jobId}`,
    async () => {
      const r = await api(base, 'GET', `/api/jobs/${jobId}`, { token });
      return ['completed', 'failed', 'cancelled'].includes(r.json?.status) ? r.json : null;
    },
    timeoutMs,
    150,
  );
}
