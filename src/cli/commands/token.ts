import type { Command } from 'commander';
import { runningServerTokens, type TokenAdmin } from '../../api/admin-socket.js';
import { DATA_DIR_IN_USE, UserError } from '../../util/errors.js';
import { configOf, printJson, wantsJson, withApp } from '../context.js';

/**
 * The tokens of the configured database; when `lumina serve` holds the embedded data directory,
 * through that server's admin socket, so a change works at once without a restart.
 */
async function withTokens<T>(cmd: Command, fn: (tokens: TokenAdmin) => Promise<T>): Promise<T> {
  try {
    return await withApp(cmd, ({ services }) => fn(services.tokens));
  } catch (err) {
    if (!(err instanceof UserError && err.code === DATA_DIR_IN_USE)) throw err;
    const running = runningServerTokens(configOf(cmd).dataDir);
    if (!running) throw err;
    return fn(running);
  }
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('API bearer tokens (stored hashed; the secret is shown once)');
  token
    .command('create')
    .requiredOption('--name <name>', 'who or what the token is for')
    .option('--read-only', 'allow reading only (GET and WebSocket subscriptions)')
    .action(async (opts: { name: string; readOnly?: boolean }, cmd: Command) => {
      await withTokens(cmd, async (tokens) => {
        const { token: secret, row } = await tokens.create(opts.name, !!opts.readOnly);
        if (wantsJson(cmd)) return printJson({ name: row.name, read_only: row.read_only, token: secret });
        process.stdout.write(`${secret}\n`);
        process.stderr.write(`lumina: token "${row.name}"${row.read_only ? ' (read-only)' : ''} created; it is shown only now\n`);
      });
    });
  token.command('list').action(async (_opts: unknown, cmd: Command) => {
    await withTokens(cmd, async (tokens) => {
      const rows = await tokens.list();
      if (wantsJson(cmd)) return printJson(rows);
      for (const r of rows) {
        process.stdout.write(`${r.name}\t${r.read_only ? 'read-only' : 'read-write'}\t${r.revoked_at ? `revoked ${r.revoked_at.toISOString()}` : 'active'}\n`);
      }
    });
  });
  token
    .command('revoke')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withTokens(cmd, async (tokens) => {
        await tokens.revoke(name);
        process.stderr.write(`lumina: token "${name}" revoked\n`);
      });
    });
}
