#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { environmentHelp, OPTIONS, resolveConfig } from '../config/config.js';
import { isServiceUnavailable } from '../services/errors.js';
import { UserError, messageOf } from '../util/errors.js';
import { addConfigOptions } from './context.js';

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

/**
 * Each command's module, by the top-level commands it registers, in the order help lists them.
 * Only the one named on the command line is loaded: the API server, BullMQ and the pipeline
 * cost a newcomer's every start otherwise.
 */
const COMMANDS: [names: string[], register: () => Promise<(program: Command) => void>][] = [
  [['ingest'], async () => (await import('./commands/ingest.js')).registerIngest],
  [['dupes', 'review'], async () => (await import('./commands/dupes.js')).registerDupes],
  [['catalog'], async () => (await import('./commands/catalog.js')).registerCatalog],
  [['jobs'], async () => (await import('./commands/jobs.js')).registerJobs],
  [['assets'], async () => (await import('./commands/assets.js')).registerAssets],
  [['migrate'], async () => (await import('./commands/migrate.js')).registerMigrate],
  [
    ['serve'],
    async () => {
      const { registerServe } = await import('./commands/serve.js');
      return (p) => registerServe(p, pkg.version);
    },
  ],
  [['worker'], async () => (await import('./commands/worker.js')).registerWorker],
  [['token'], async () => (await import('./commands/token.js')).registerToken],
  [['organize'], async () => (await import('./commands/organize.js')).registerOrganize],
];

/** The command named on the command line, past the global options (with their values); undefined for none. */
function commandName(argv: string[]): string | undefined {
  const takesValue = new Set(Object.values(OPTIONS).flatMap((o) => ((o as { flag?: string }).flag?.includes(' <') ? [(o as { flag: string }).flag.split(' ')[0]!] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1];
    if (!arg.startsWith('-')) return arg;
    if (takesValue.has(arg)) i++;
  }
  return undefined;
}

// Help, a mistyped or a missing command: every command, as before.
const name = commandName(process.argv.slice(2));
const chosen = COMMANDS.filter(([names]) => name !== undefined && names.includes(name));
for (const register of await Promise.all((chosen.length ? chosen : COMMANDS).map(([, load]) => load()))) register(program);

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
