import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { CLI, runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { BACKENDS, configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';
import { isThumbnailFile } from '../src/pipeline/pixels.js';

const FILES = 160;

function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && isThumbnailFile(e.name)) n++;
  return n;
}

/** Starts an ingest and SIGKILLs it once `killAfter` thumbnails exist: mid-job, shards half done. */
async function ingestAndKill(env: Record<string, string>, root: string, thumbs: string, killAfter: number): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [CLI, 'ingest', root, '--catalog', 'Crash', '--shard-size', '25', '--workers', '2'], { env, stdio: 'ignore', detached: true });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const started = Date.now();
  while (child.exitCode === null && countFiles(thumbs) < killAfter && Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  // The whole process group, as a power cut would: ExifTool's perl children go with it.
  process.kill(-child.pid!, 'SIGKILL');
  return exited;
}

for (const backend of BACKENDS) {
  t.test(`SIGKILL mid-ingest on ${backend}, then a re-run finishes the job exactly once`, async (t) => {
    const config = await configFor(t, backend);
    const env = envFor(config);
    const root = tmpDir(t, 'lumina-crash-');
    for (let i = 0; i < FILES; i++) {
      await writePhoto(path.join(root, `d${i % 4}`, `IMG_${String(i).padStart(4, '0')}.jpg`), { seed: i + 1, width: 1600, height: 1200 });
    }
    const thumbs = path.join(config.dataDir, 'thumbnails');

    t.equal(await ingestAndKill(env, root, thumbs, 40), 'SIGKILL', 'first run killed');
    const killedAt = countFiles(thumbs);
    t.ok(killedAt > 0 && killedAt < FILES, `killed part way (${killedAt} of ${FILES} thumbnails)`);
    t.equal(await ingestAndKill(env, root, thumbs, killedAt + 30), 'SIGKILL', 'second run killed too');

    const rerun = await runCli(['ingest', root, '--catalog', 'Crash', '--json'], { env });
    t.equal(rerun.code, 0, rerun.stderr);
    const summary = JSON.parse(rerun.stdout);
    t.equal(summary.files_seen, FILES);
    t.equal(summary.errors, 0);
    t.equal(summary.assets_added + summary.assets_updated + summary.assets_unchanged, FILES);
    t.ok(summary.assets_unchanged > 0, `work done before the kills was kept (${summary.assets_unchanged} files)`);

    const list = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Crash', '--json', '--limit', '10000'], { env })).stdout) as { path: string; status: string; sha256: string; thumbnail: string }[];
    t.equal(list.length, FILES, 'one row per file');
    t.equal(new Set(list.map((a) => a.path)).size, FILES, 'no duplicate rows');
    t.ok(list.every((a) => a.status === 'ok' && a.sha256 && a.thumbnail && fs.existsSync(a.thumbnail)), 'every file complete');
    t.equal(countFiles(thumbs), FILES, 'one thumbnail per picture');
    const leftovers = fs.readdirSync(thumbs, { recursive: true }).filter((f) => String(f).includes('.partial/'));
    t.same(leftovers, [], 'half-written thumbnails of the killed runs are cleared');

    if (backend === 'postgres') {
      const sql = postgres((config.database as { url: string }).url, { onnotice: () => {}, max: 1 });
      const jobs = await sql`select status, error from public.jobs order by created_at`;
      await sql.end();
      t.same(jobs.map((j) => j.status), ['failed', 'failed', 'completed'], 'interrupted jobs are closed, the last one completed');
      t.match(jobs[0]!.error, /interrupted before it finished; resumed by job/);
    }
  });
}

t.test('a pool thread whose thumbnail folders were cleared between runs makes them again', async (t) => {
  const { default: processFile } = await import('../src/workers/file-worker.js');
  const { SharedResults } = await import('../src/workers/shared-results.js');
  const { PARTIAL_DIR } = await import('../src/workers/file-task.js');
  const root = tmpDir(t, 'lumina-thumbs-');
  const thumbs = path.join(root, 'thumbnails');
  const results = new SharedResults(2);
  const task = async (slot: number, seed: number) => {
    const file = await writePhoto(path.join(root, `p${seed}.jpg`), { seed, width: 400, height: 300 });
    return processFile({ results: results.buffer, slot, path: file, size: fs.statSync(file).size, type: 'image', decodeFile: true, thumbnailDir: thumbs, maxPixels: 1e8 });
  };
  const first = await task(0, 1);
  t.ok(first.thumbnailKey && fs.existsSync(path.join(thumbs, first.thumbnailKey)), 'first thumbnail written');
  // What the runner does as each scan starts, and a catalog's thumbnails deleted, in one.
  fs.rmSync(thumbs, { recursive: true, force: true });
  const second = await task(1, 2);
  t.notOk(second.pixelError, 'no error');
  t.ok(second.thumbnailKey && fs.existsSync(path.join(thumbs, second.thumbnailKey)), 'second thumbnail written after its folders were made again');
  t.same(fs.readdirSync(path.join(thumbs, PARTIAL_DIR)), [], 'nothing half-written left');
});
