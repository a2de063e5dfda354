import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/**
 * `npm run bench -- startup [--runs 5] [--cli PATH]`
 *
 * How long the embedded database takes to start, as a newcomer sees it: `lumina catalog list
 * --json` on a fresh data directory (first start) and on the same one again (later start), timed
 * from spawning the process to the first byte of its answer (the database is up, migrated and has
 * answered one query) and to its exit; then the whole of a `lumina ingest` of two small JPEGs, on
 * a fresh data directory and again. Medians of `--runs` runs. `--cli` times another build's
 * dist/src/cli/main.js (an older checkout, for a before/after on one machine).
 */
const log = (s: string) => process.stderr.write(s + '\n');
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `node ARGS`: milliseconds from spawn to the first byte on stdout, and to exit. */
function timeNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ answerMs: number; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let answerMs = NaN;
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.once('data', () => (answerMs = performance.now() - start));
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
      else resolve({ answerMs, exitMs: performance.now() - start });
    });
  });
}

export async function benchStartup(argv: string[]): Promise<void> {
  const runs = Number(arg(argv, 'runs', '5'));
  const cli = path.resolve(arg(argv, 'cli', CLI));
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-startup-'));
  // The embedded database, whatever this shell has configured.
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'DATABASE_URL' || k.startsWith('POSTGRES_') || k.startsWith('REDIS_') || k === 'NODE_OPTIONS') delete env[k];
  try {
    const pictures = path.join(base, 'pictures');
    fs.mkdirSync(pictures);
    for (const [i, color] of [{ r: 200, g: 40, b: 40 }, { r: 40, g: 60, b: 200 }].entries()) {
      await sharp({ create: { width: 640, height: 480, channels: 3, background: color } }).jpeg().toFile(path.join(pictures, `IMG_${i}.jpg`));
    }
    const bare: number[] = [];
    const first = { answer: [] as number[], exit: [] as number[] };
    const later = { answer: [] as number[], exit: [] as number[] };
    const ingestFirst: number[] = [];
    const ingestLater: number[] = [];
    for (let run = 0; run < runs; run++) {
      bare.push((await timeNode(['-e', '0'], env)).exitMs);
      const dataDir = path.join(base, `data-${run}`);
      const list = ['--data-dir', dataDir, '--json', 'catalog', 'list'];
      const f = await timeNode([cli, ...list], env);
      first.answer.push(f.answerMs);
      first.exit.push(f.exitMs);
      for (let again = 0; again < 2; again++) {
        const l = await timeNode([cli, ...list], env);
        later.answer.push(l.answerMs);
        later.exit.push(l.exitMs);
      }
      const ingestDir = path.join(base, `ingest-${run}`);
      ingestFirst.push((await timeNode([cli, '--data-dir', ingestDir, '--json', 'ingest', pictures], env)).exitMs);
      ingestLater.push((await timeNode([cli, '--data-dir', ingestDir, '--json', 'ingest', pictures], env)).exitMs);
      log(`run ${run + 1}/${runs}: first ${s2(f.answerMs)}, later ${s2(later.answer.at(-1)!)}, ingest ${s2(ingestFirst.at(-1)!)} / ${s2(ingestLater.at(-1)!)}`);
    }
    const rows: [string, string][] = [
      ['node itself (`node -e 0`)', s2(median(bare))],
      ['first start: spawn to the first answer of `catalog list`', s2(median(first.answer))],
      ['first start: the whole command', s2(median(first.exit))],
      ['later start: spawn to the first answer', s2(median(later.answer))],
      ['later start: the whole command', s2(median(later.exit))],
      ['`ingest` of 2 JPEGs, fresh data directory: the whole command', s2(median(ingestFirst))],
      ['`ingest` of the same 2 JPEGs again: the whole command', s2(median(ingestLater))],
    ];
    process.stdout.write(`startup (${cli}), medians of ${runs} runs on ${os.availableParallelism()} cores:\n`);
    for (const [what, value] of rows) process.stdout.write(`  ${what.padEnd(64)} ${value}\n`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
