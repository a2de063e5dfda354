import type { Command } from 'commander';
import { resolveConfig } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { migrate } from '../../db/migrate.js';
import { printJson, type GlobalOptions } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (also done on every start)')
    .action(async (_o, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions>();
      const db = await openDatabase(resolveConfig(flags), { migrate: false });
      try {
        const { applied } = await migrate(db.sql);
        if (flags.json) printJson({ applied });
        else process.stdout.write(applied.length ? applied.map((a) => `applied ${a}\n`).join('') : 'database is up to date\n');
      } finally {
        await db.close();
      }
    });
}
