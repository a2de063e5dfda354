import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from './cli.js';

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
