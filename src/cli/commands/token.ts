import type { Command } from 'commander';
import { printJson, wantsJson, withApp } from '../context.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('API bearer tokens (stored hashed; the secret is shown once)');
  token
    .command('create')
    .requiredOption('--name <name>', 'who or what the token is for')
    .option('--read-only', 'allow reading only (GET and WebSocket subscriptions)')
    .action(async (opts: { name: string; readOnly?: boolean }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const { token: secret, row } = await services.tokens.create(opts.name, !!opts.readOnly);
        if (wantsJson(cmd)) return printJson({ name: row.name, read_only: row.read_only, token: secret });
        process.stdout.write(`${secret}\n`);
        process.stderr.write(`lumina: token "${row.name}"${row.read_only ? ' (read-only)' : ''} created; it is shown only now\n`);
      });
    });
  token.command('list').action(async (_opts: unknown, cmd: Command) => {
    await withApp(cmd, async ({ services }) => {
      const rows = await services.tokens.list();
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
      await withApp(cmd, async ({ services }) => {
        await services.tokens.revoke(name);
        process.stderr.write(`lumina: token "${name}" revoked\n`);
      });
    });
}
