import { Option, type Command } from 'commander';
import { ASSET_STATUSES, type AssetStatus } from '../../model/asset.js';
import { UserError } from '../../util/errors.js';
import { printJson, wantsJson, withApp } from '../context.js';

const count = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UserError(`${name} must be a whole number up to ${Number.MAX_SAFE_INTEGER}, got "${v}"`);
  return Number(v);
};

export function registerAssets(program: Command): void {
  const assets = program.command('assets').description('look at cataloged files');
  assets
    .command('list')
    .requiredOption('--catalog <name>', 'catalog name or id')
    .option('--limit <n>', 'at most this many', count('--limit'), 100)
    .option('--offset <n>', 'skip this many', count('--offset'), 0)
    .addOption(new Option('--status <status>', 'only assets in this status').choices(ASSET_STATUSES))
    .action(async (opts: { catalog: string; limit: number; offset: number; status?: AssetStatus }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const c = await services.catalogs.get(opts.catalog);
        const views = await services.assets.list(c, { limit: opts.limit, offset: opts.offset, status: opts.status });
        if (wantsJson(cmd)) return printJson(views);
        for (const a of views) {
          const what = a.error ? `ERROR ${a.error}` : `${a.width ?? '?'}×${a.height ?? '?'} ${a.taken_at ?? ''} ${[a.make, a.model].filter(Boolean).join(' ')}`;
          process.stdout.write(`${a.path}\t${a.status}\t${what}\n`);
        }
      });
    });
}
