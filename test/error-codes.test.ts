import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { isRetryable } from '../src/model/file-errors.js';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

t.test('which failures a re-run retries is decided by the code, not the message', async (t) => {
  t.equal(isRetryable('unreadable', 'anything at all'), true, 'the surroundings were to blame');
  t.equal(isRetryable('decoder_missing', 'x'), true);
  t.equal(isRetryable('undecodable', 'cannot read file: said the message'), false, 'a message that reads like another code changes nothing');
  t.equal(isRetryable('truncated', 'x'), false);
  t.equal(isRetryable(null, 'written before codes existed'), true, 'rows from before codes are retried once');
});

t.test('each bad file carries a code beside its message; re-runs retry by code', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const root = tmpDir(t, 'lumina-codes-');
  const good = await writePhoto(path.join(root, 'good.jpg'), { seed: 1 });
  fs.writeFileSync(path.join(root, 'corrupt.jpg'), 'not a jpeg at all');
  fs.writeFileSync(path.join(root, 'empty.jpg'), '');
  fs.writeFileSync(path.join(root, 'cut.jpg'), fs.readFileSync(good).subarray(0, 2000));
  const first = await runCli(['ingest', root, '--catalog', 'Codes', '--json'], { env });
  t.equal(first.code, 0, first.stderr);
  const list = async () =>
    Object.fromEntries(
      (JSON.parse((await runCli(['assets', 'list', '--catalog', 'Codes', '--json'], { env })).stdout) as { path: string; error_code: string | null; error: string | null }[]).map((a) => [
        path.basename(a.path),
        [a.error_code, a.error],
      ]),
    );
  const codes = await list();
  t.same(codes['good.jpg'], [null, null]);
  t.equal(codes['corrupt.jpg']![0], 'undecodable', codes['corrupt.jpg']![1]!);
  t.equal(codes['empty.jpg']![0], 'empty');
  t.equal(codes['cut.jpg']![0], 'truncated', codes['cut.jpg']![1]!);

  // The messages are swapped so that each one reads like the other's code: the run goes by codes.
  const sql = postgres((config.database as { url: string }).url, { onnotice: () => {}, max: 1 });
  t.teardown(() => sql.end());
  const [{ schema_name: schema }] = await sql`select schema_name from public.catalogs where name = 'Codes'`;
  await sql`update ${sql(schema)}.assets set error_code = 'unreadable', error = 'not a decodable image' where path like '%/corrupt.jpg'`;
  await sql`update ${sql(schema)}.assets set error = 'cannot read file: EACCES' where path like '%/cut.jpg'`;
  const again = JSON.parse((await runCli(['ingest', root, '--catalog', 'Codes', '--json'], { env })).stdout);
  t.equal(again.assets_updated, 1, 'only the file whose code says "unreadable" is processed again');
  t.equal(again.assets_unchanged, 3);
  const after = await list();
  t.equal(after['corrupt.jpg']![0], 'undecodable', 'and it gets its real code back');
  t.equal(after['cut.jpg']![1], 'cannot read file: EACCES', 'the truncated file, whatever its message says, was left alone');
});
