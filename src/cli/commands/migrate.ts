import type { Command } from 'commander';
import { migrateDatabase } from '../../app.js';
import { configOf, printJson, wantsJson } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (also done on every start)')
    .action(async (_o, cmd: Command) => {
      const applied = await migrateDatabase(configOf(cmd));
      if (wantsJson(cmd)) printJson({ applied });
      else process.stdout.write(applied.length ? applied.map((a) => `applied ${a}\n`).join('') : 'database is up to date\n');
    });
}
