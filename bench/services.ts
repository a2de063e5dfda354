import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { deleteKeys } from '../src/queue/redis.js';

/** The services of the machine (as the tests use them): a throw-away database and key prefix per run. */
export const PG_ADMIN = process.env.LUMINA_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS = process.env.LUMINA_BENCH_REDIS ?? 'redis://127.0.0.1:6379/0';
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export async function throwawayDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `lumina_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(PG_ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = '/' + name;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(PG_ADMIN, { onnotice: () => {}, max: 1 });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export function benchPrefix(): { prefix: string; clean(): Promise<void> } {
  const prefix = `lumina-bench-${randomBytes(4).toString('hex')}`;
  return {
    prefix,
    async clean() {
      const r = new Redis(REDIS, { maxRetriesPerRequest: 1 });
      await deleteKeys(r, prefix).catch(() => 0);
      r.disconnect();
    },
  };
}

export interface Started {
  proc: ChildProcess;
  match: RegExpMatchArray;
  stop(): Promise<void>;
}

/** Starts `lumina ARGS` and waits for its ready line on stderr. */
export function startLumina(args: string[], env: Record<string, string>, ready: RegExp): Promise<Started> {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      err += d;
      const m = err.match(ready);
      if (m) resolve({ proc, match: m, stop: () => stopGroup(proc) });
    });
    proc.on('exit', () => reject(new Error(`lumina ${args.join(' ')} exited: ${err}`)));
  });
}

export function stopGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    process.kill(-proc.pid!, 'SIGTERM');
  } catch {
    return Promise.resolve();
  }
  const hard = setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 30_000);
  return gone.finally(() => clearTimeout(hard));
}

export function haveWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk prints its version and exits 1.
    return (err as { status?: number }).status === 1;
  }
}
