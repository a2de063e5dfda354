#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { environmentHelp, resolveConfig } from '../config/config.js';
import { isServiceUnavailable } from '../services/errors.js';
import { UserError, messageOf } from '../util/errors.js';
import { addConfigOptions } from './context.js';
import { registerAssets } from './commands/assets.js';
import { registerCatalog } from './commands/catalog.js';
import { registerIngest } from './commands/ingest.js';
import { registerJobs } from './commands/jobs.js';
import { registerDupes } from './commands/dupes.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerToken } from './commands/token.js';
import { registerOrganize } from './commands/organize.js';
import { registerWorker } from './commands/worker.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

// `lumina … | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('lumina')
  .description('ingest, de-duplicate and organize very large photo and video archives')
  .version(pkg.version)
  .option('--json', 'print one JSON document on stdout (logs and progress go to stderr)')
  .addHelpText('after', `\nRead from the environment only (no global flag):\n${environmentHelp()}`)
  .showHelpAfterError('(lumina --help, or lumina COMMAND --help, lists the options)')
  .exitOverride();
addConfigOptions(program);

registerIngest(program);
registerDupes(program);
registerCatalog(program);
registerJobs(program);
registerAssets(program);
registerMigrate(program);
registerServe(program, pkg.version);
registerWorker(program);
registerToken(program);
registerOrganize(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof UserError) {
    process.stderr.write(`lumina: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (isServiceUnavailable(err)) {
    process.stderr.write(`lumina: the database or Redis is unavailable: ${messageOf(err)}\n`);
    process.exit(2);
  }
  process.stderr.write(`lumina: unexpected error: ${messageOf(err)}\n`);
  if (debugging() && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}

function debugging(): boolean {
  try {
    return resolveConfig({}).debug;
  } catch {
    return false;
  }
}
