#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UserError, messageOf } from '../util/errors.js';
import { registerAssets } from './commands/assets.js';
import { registerCatalog } from './commands/catalog.js';
import { registerIngest } from './commands/ingest.js';
import { registerDupes } from './commands/dupes.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerToken } from './commands/token.js';
import { registerWorker } from './commands/worker.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('lumina')
  .description('ingest, de-duplicate and organize very large photo and video archives')
  .version(pkg.version)
  .option('--json', 'print one JSON document on stdout (logs and progress go to stderr)')
  .option('--data-dir <dir>', 'where the embedded database and thumbnails live (LUMINA_DATA_DIR)')
  .option('--database-url <url>', 'PostgreSQL to use instead of the embedded one (DATABASE_URL)')
  .option('--workers <n>', 'threads for file processing (LUMINA_WORKERS; default: one per core)')
  .option('--max-pixels <n>', 'refuse to decode images larger than this (LUMINA_MAX_PIXELS)')
  .option('--shard-size <n>', 'files per unit of work (LUMINA_SHARD_SIZE; default 500)')
  .option('--redis-url <url>', 'Redis for cluster mode: queues, events, workers (REDIS_URL)')
  .option('--queue-prefix <prefix>', 'prefix of every Redis key (LUMINA_QUEUE_PREFIX; default lumina)')
  .option('--model <dir>', 'TensorFlow.js layers model for embeddings (LUMINA_MODEL_DIR; default: the MobileNetV2 nsfwjs ships)')
  .option('--embed-batch <n>', 'pictures per CNN batch (LUMINA_EMBED_BATCH; default 16)')
  .showHelpAfterError()
  .exitOverride();

registerIngest(program);
registerDupes(program);
registerCatalog(program);
registerAssets(program);
registerMigrate(program);
registerServe(program, pkg.version);
registerWorker(program);
registerToken(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof UserError) {
    process.stderr.write(`lumina: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`lumina: unexpected error: ${messageOf(err)}\n`);
  if (process.env.LUMINA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
