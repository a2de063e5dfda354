import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { listAssets } from '../../db/assets.js';
import { getCatalog, thumbnailDir } from '../../db/catalogs.js';
import { assetView } from '../../views/asset.js';
import { printJson, withDatabase, type GlobalOptions } from '../context.js';

const count = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

export function registerAssets(program: Command): void {
  const assets = program.command('assets').description('look at cataloged files');
  assets
    .command('list')
    .requiredOption('--catalog <name>', 'catalog name or id')
    .option('--limit <n>', 'at most this many', count, 100)
    .option('--offset <n>', 'skip this many', count, 0)
    .action(async (opts: { catalog: string; limit: number; offset: number }, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions>();
      await withDatabase(flags, async ({ sql }, config) => {
        const c = await getCatalog(sql, opts.catalog);
        const rows = await listAssets(sql, c.schema_name, { limit: opts.limit, offset: opts.offset });
        const views = rows.map((r) => assetView(r, thumbnailDir(config.dataDir, c.id)));
        if (flags.json) return printJson(views);
        for (const a of views) {
          const what = a.error ? `ERROR ${a.error}` : `${a.width ?? '?'}×${a.height ?? '?'} ${a.taken_at ?? ''} ${[a.make, a.model].filter(Boolean).join(' ')}`;
          process.stdout.write(`${a.path}\t${a.status}\t${what}\n`);
        }
      });
    });
}
