import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { runCli, type CliResult } from './cli.js';
import { writePhoto } from './corpus.js';
import { configFor, envFor, type Backend } from './postgres.js';
import { tmpDir } from './tmp.js';

/** Every file under `dir` with the SHA-256 of its bytes, by path relative to `dir`, sorted: what "byte-identical" compares. */
export function treeDigest(dir: string): [string, string][] {
  if (!fs.existsSync(dir)) return [];
  const out: [string, string][] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out.push([path.relative(dir, full), createHash('sha256').update(fs.readFileSync(full)).digest('hex')]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export interface ActionJson {
  seq: number;
  source: string;
  target: string | null;
  kind: string;
  unit: number;
  role: string;
  state: string;
  rollback_state: string | null;
  note: string | null;
  error: string | null;
  error_code: string | null;
  warning: string | null;
}

export async function organize(env: Record<string, string>, args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  return runCli(['organize', ...args], { env: { ...env, ...extra } });
}

/** `organize plan … --json`, asserted to succeed; the plan id and summary. */
export async function makePlan(env: Record<string, string>, args: string[], extra: Record<string, string> = {}): Promise<{ id: string; summary: Record<string, number>; raw: CliResult }> {
  const r = await organize(env, ['plan', ...args, '--json'], extra);
  if (r.code !== 0) throw new Error(`organize plan failed (${r.code}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { plan: { id: string }; summary: Record<string, number> };
  return { id: out.plan.id, summary: out.summary, raw: r };
}

export async function actionsOf(env: Record<string, string>, planId: string): Promise<{ plan: { status: string }; actions: ActionJson[] }> {
  const r = await organize(env, ['show', planId, '--json']);
  if (r.code !== 0) throw new Error(`organize show failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Files whose name marks them as an interrupted write. */
export function partialFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => path.basename(p).startsWith('.lumina-partial-'));
}

// The crash tests: SIGKILL at a named journal step (organize/failpoints.ts), then the same command again.
export const COPY_POINTS = ['before_writing', 'after_writing', 'partial_written', 'partial_synced', 'before_written', 'after_written', 'before_verified', 'after_verified', 'linked', 'before_committed', 'after_committed', 'before_done', 'after_done'];
export const MOVE_POINTS = ['before_verified', 'after_verified', 'linked', 'before_committed', 'after_committed', 'source_unlinked', 'before_source_removed', 'after_source_removed', 'before_done'];
export const ROLLBACK_POINTS = ['before_rollback_returning', 'after_rollback_returning', 'rollback_linked', 'rollback_unlinked'];

/** A small archive (three pictures and a sidecar) cataloged on PostgreSQL, for the crash tests. */
export async function crashCatalog(t: Test) {
  const root = path.join(tmpDir(t), 'archive');
  for (let i = 0; i < 3; i++) {
    const f = await writePhoto(path.join(root, `IMG_${i}.jpg`), { seed: i + 1, dateTimeOriginal: `2017:07:0${i + 1} 08:00:00` });
    if (i === 1) fs.writeFileSync(f + '.xmp', '<x:xmpmeta/>');
  }
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  t.equal((await runCli(['ingest', root, '--catalog', 'Crash'], { env })).code, 0);
  return { root, env, original: treeDigest(root) };
}

/** Killed at `point` (the second time it is reached, so one action is already through), then run again. */
export async function killAndResume(t: Test, env: Record<string, string>, command: 'apply' | 'rollback', id: string, point: string) {
  const killed = await organize(env, [command, id], { LUMINA_ORGANIZE_KILL_AT: `${point}:2` });
  t.equal(killed.signal, 'SIGKILL', `${command} killed at ${point}`);
  const resumed = await organize(env, [command, id, '--json']);
  t.equal(resumed.code, 0, `${command} after a kill at ${point} finishes: ${resumed.stderr}`);
  return JSON.parse(resumed.stdout);
}

export function expectLibrary(t: Test, dest: string, original: [string, string][], point: string) {
  t.same(treeDigest(dest).map(([p, h]) => [path.basename(p), h]).sort(), original.map(([p, h]) => [path.basename(p), h]).sort(), `${point}: each file once in the library, whole, no _1 copy`);
  t.same(partialFiles(dest), [], `${point}: no partial file left`);
}


/** An archive of `files` dated pictures (the first with a sidecar), ingested into catalog Lib. */
export async function organizeArchive(t: Test, backend: Backend, files = 6) {
  const root = path.join(tmpDir(t), 'archive');
  for (let i = 0; i < files; i++) {
    const f = await writePhoto(path.join(root, `d${i % 2}`, `IMG_${i}.jpg`), { seed: i + 1, dateTimeOriginal: `2018:0${1 + (i % 3)}:1${i} 12:00:00` });
    if (i === 0) fs.writeFileSync(f + '.xmp', '<x:xmpmeta/>');
  }
  const config = await configFor(t, backend);
  const env = envFor(config);
  const r = await runCli(['ingest', root, '--catalog', 'Lib', '--json'], { env });
  t.equal(r.code, 0, r.stderr);
  return { root, env, config };
}

