import type { Command } from 'commander';
import type { Catalog } from '../../model/catalog.js';
import { printJson, wantsJson, withApp } from '../context.js';

/** The CLI's --json shape of a catalog (the API's carries its settings too). */
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
    .argument('<name>', 'a name (not a UUID: ids and names never mix)')
    .argument('[dir...]', 'source directories')
    .option('--no-embeddings', 'leave no CNN input at ingest (saves 147 KB of disk a picture until `dupes` embeds it); duplicates then rest on hashes')
    .option('--follow-external-links', 'follow symbolic links that lead outside the source directories (by default they are reported and skipped)')
    .action(async (name: string, dirs: string[], o: { embeddings: boolean; followExternalLinks?: boolean }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const settings = { ...(o.embeddings ? {} : { embeddings: 'off' }), ...(o.followExternalLinks ? { follow_external_links: true } : {}) };
        const c = await services.catalogs.create({ name, sourceDirectories: dirs, settings }, 'resolve');
        wantsJson(cmd) ? printJson(catalogView(c)) : process.stdout.write(`created catalog ${c.name} (${c.id})\n`);
      });
    });

  catalog.command('list').action(async (_o, cmd: Command) => {
    await withApp(cmd, async ({ services }) => {
      const all = await services.catalogs.list();
      if (wantsJson(cmd)) return printJson(all.map(catalogView));
      if (!all.length) process.stdout.write('no catalogs yet (lumina ingest DIR creates one)\n');
      for (const c of all) process.stdout.write(`${c.name}\t${c.id}\t${c.source_directories.join(', ')}\n`);
    });
  });

  catalog
    .command('show')
    .argument('<name>', 'catalog name or id')
    .action(async (name: string, _o, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const c = await services.catalogs.get(name);
        const view = { ...catalogView(c), assets: await services.catalogs.counts(c) };
        if (wantsJson(cmd)) return printJson(view);
        process.stdout.write(
          `${c.name} (${c.id})\n  sources: ${c.source_directories.join(', ') || '-'}\n` +
            `  assets: ${Object.entries(view.assets).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}\n`,
        );
      });
    });

  catalog
    .command('delete')
    .argument('<name>', 'catalog name or id')
    .description('cancel its jobs, then delete the catalog, its database schema and thumbnails (never the photos)')
    .action(async (name: string, _o, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const c = await services.catalogs.delete(name);
        wantsJson(cmd) ? printJson({ deleted: c.id, name: c.name }) : process.stdout.write(`deleted catalog ${c.name}\n`);
      });
    });
}
