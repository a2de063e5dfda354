import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import type { Sql } from './database.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { publicMigrations } from './migrations/public.js';
import { fittingTemplate, manifestOf, readManifest, TEMPLATE_DIR, type Migration } from './template.js';

/**
 * Writes the embedded database's template (template.ts): initdb, then the given public
 * migrations, in a folder beside `templateDir` renamed into place once complete. Run by
 * `npm run build` (`node dist/src/db/build-template.js`); a template that already holds every
 * migration of this build is kept as it is.
 */
export async function writeTemplate(templateDir: string, migrations: readonly Migration[] = publicMigrations): Promise<'written' | 'current'> {
  if (fittingTemplate(templateDir, migrations) && readManifest(templateDir)?.migrations.length === migrations.length) return 'current';
  const building = `${templateDir.replace(/\/$/, '')}.build-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  try {
    const embedded = await startEmbeddedPostgres(building, { template: null });
    try {
      const sql = postgres({ path: embedded.socketPath, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} }) as unknown as Sql;
      try {
        await migrate(sql, { publicMigrations: migrations });
      } finally {
        await sql.end({ timeout: 5 });
      }
    } finally {
      await embedded.stop();
    }
    // Only the database goes in: the lock and the socket went with stop().
    for (const entry of fs.readdirSync(building)) if (entry !== 'pgdata') fs.rmSync(path.join(building, entry), { recursive: true, force: true });
    fs.writeFileSync(path.join(building, 'manifest.json'), JSON.stringify(manifestOf(migrations), null, 2) + '\n');
    // Readable by every user of a shared install: it holds no data, and each copy is made private.
    openUp(building);
    const old = `${building}.old`;
    if (fs.existsSync(templateDir)) fs.renameSync(templateDir, old);
    fs.renameSync(building, templateDir);
    fs.rmSync(old, { recursive: true, force: true });
    return 'written';
  } finally {
    fs.rmSync(building, { recursive: true, force: true });
  }
}

function openUp(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    fs.chmodSync(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outcome = await writeTemplate(process.argv[2] ?? TEMPLATE_DIR);
  process.stdout.write(`embedded database template ${outcome === 'written' ? 'written to' : 'up to date in'} ${process.argv[2] ?? TEMPLATE_DIR}\n`);
}
