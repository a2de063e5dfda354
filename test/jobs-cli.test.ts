import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

t.test('lumina jobs: list, show and cancel from the command line', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  for (let i = 0; i < 3; i++) await writePhoto(path.join(root, `p${i}.jpg`), { seed: i + 1, width: 160, height: 120 });
  t.equal((await runCli(['ingest', root, '--catalog', 'Jobs'], { env })).code, 0);
  t.equal((await runCli(['dupes', '--catalog', 'Jobs', '--embeddings', 'off'], { env })).code, 0);

  const listed = JSON.parse((await runCli(['jobs', 'list', '--catalog', 'Jobs', '--json'], { env })).stdout);
  t.same(listed.map((j: { type: string; status: string }) => [j.type, j.status]), [['duplicates', 'completed'], ['scan', 'completed']], 'newest first');
  t.equal(JSON.parse((await runCli(['jobs', 'list', '--status', 'failed', '--json'], { env })).stdout).length, 0, 'filtered by status');
  const shown = JSON.parse((await runCli(['jobs', 'show', listed[1].id, '--json'], { env })).stdout);
  t.match(shown, { id: listed[1].id, type: 'scan', status: 'completed', error_code: null, progress: { done: 3, total: 3 } });

  const again = await runCli(['jobs', 'cancel', listed[1].id], { env });
  t.equal(again.code, 2, 'a finished job cannot be cancelled');
  t.match(again.stderr, /is already completed/);
  const unknown = await runCli(['jobs', 'cancel', 'not-an-id'], { env });
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /no job with id "not-an-id"/);
  const usage = await runCli(['jobs', 'list', '--status', 'sleeping'], { env });
  t.not(usage.code, 0, 'a usage error fails');
  t.match(usage.stderr, /must be one of queued, running/);
});
