import type { Command } from 'commander';
import { countAssets } from '../../db/assets.js';
import { createCatalog, deleteCatalog, getCatalog, listCatalogs, type Catalog } from '../../db/catalogs.js';
import { printJson, withDatabase, type GlobalOptions } from '../context.js';

const catalogView = (c: Catalog) => ({
  id: c.id,
  name: c.name,
  source_directories: c.source_directories,
  organized_directory: c.organized_directory,
  created_at: c.created_at.toISOString(),
  updated_at: c.updated_at.toISOString(),
});

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('create, list, show and delete catalogs');

  catalog
    .command('create')
    .argument('<name>')
    .argument('[dir...]', 'source directories')
    .option('--no-embeddings', 'leave no CNN input at ingest (saves 147 KB of disk a picture until `dupes` embeds it); duplicates then rest on hashes')
    .action(async (name: string, dirs: string[], o: { embeddings: boolean }, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions>();
      await withDatabase(flags, async ({ sql }) => {
        const c = await createCatalog(sql, { name, sourceDirectories: dirs, settings: o.embeddings ? {} : { embeddings: 'off' } });
        flags.json ? printJson(catalogView(c)) : process.stdout.write(`created catalog ${c.name} (${c.id})\n`);
      });
    });

  catalog.command('list').action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalOptions>();
    await withDatabase(flags, async ({ sql }) => {
      const all = await listCatalogs(sql);
      if (flags.json) return printJson(all.map(catalogView));
      if (!all.length) process.stdout.write('no catalogs yet (lumina ingest DIR creates one)\n');
      for (const c of all) process.stdout.write(`${c.name}\t${c.id}\t${c.source_directories.join(', ')}\n`);
    });
  });

  catalog
    .command('show')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions>();
      await withDatabase(flags, async ({ sql }) => {
        const c = await getCatalog(sql, name);
        const view = { ...catalogView(c), assets: await countAssets(sql, c.schema_name) };
        if (flags.json) return printJson(view);
        process.stdout.write(
          `${c.name} (${c.id})\n  sources: ${c.source_directories.join(', ') || '-'}\n` +
            `  assets: ${Object.entries(view.assets).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}\n`,
        );
      });
    });

  catalog
    .command('delete')
    .argument('<name>')
    .description('delete the catalog, its database schema and thumbnails (never the photos)')
    .action(async (name: string, _o, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions>();
      await withDatabase(flags, async ({ sql }, config) => {
        const c = await getCatalog(sql, name);
        await deleteCatalog(sql, c, config.dataDir);
        flags.json ? printJson({ deleted: c.id, name: c.name }) : process.stdout.write(`deleted catalog ${c.name}\n`);
      });
    });
}
