import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { OPTIONS } from '../src/config/config.js';
import { runCli } from './helpers/cli.js';

// The layering rules, checked over the source so that a shortcut fails here rather than in review.
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir = SRC): { file: string; text: string }[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .map((file) => ({ file: path.relative(SRC, file), text: fs.readFileSync(file, 'utf8') }));
}

t.test('transports import no value from the database layer', async (t) => {
  const offenders = sources()
    .filter((s) => /^(api|cli)\//.test(s.file))
    .flatMap((s) => s.text.split('\n').filter((l) => /^import (?!type )[^;]*from '(\.\.\/)+db\//.test(l)).map((l) => `${s.file}: ${l}`));
  t.same(offenders, [], 'src/api and src/cli reach the database only through services');
});

t.test('only src/config reads the environment', async (t) => {
  const readers = sources().filter((s) => s.text.includes('process.env')).map((s) => s.file);
  t.same(readers, ['config/config.ts']);
});

t.test('SQL stays in src/db, and unsafe() only for DDL', async (t) => {
  const all = sources();
  t.same(all.filter((s) => /\bunsafe\s*[<(]/.test(s.text)).map((s) => s.file).sort(), ['db/catalogs.ts', 'db/migrate.ts']);
  const sqlOutside = all.filter((s) => !s.file.startsWith('db/') && /\b(sql|tx)`\s*(select|insert|update|delete)\b/i.test(s.text)).map((s) => s.file);
  t.same(sqlOutside, [], 'no query text outside src/db');
});

t.test('every setting is declared with its help, and the CLI shows every flag', async (t) => {
  const help = (await runCli(['--help'])).stdout;
  for (const [key, o] of Object.entries(OPTIONS) as [string, { flag?: string; env?: string; help: string }][]) {
    t.ok(o.help.length > 10, `${key} has a line of help`);
    t.ok(o.flag || o.env, `${key} comes from a flag or a variable`);
    if (o.flag) t.ok(help.includes(o.flag.split(' ')[0]!), `${o.flag} is in lumina --help`);
    else t.ok(help.includes(o.env!), `${o.env} is in the environment section of lumina --help`);
  }
});
