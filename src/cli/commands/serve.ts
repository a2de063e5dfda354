import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { AdminSocket } from '../../api/admin-socket.js';
import { Authenticator, isLoopback } from '../../api/auth.js';
import { HealthProbe } from '../../api/health.js';
import { JobStateCache } from '../../api/job-state.js';
import { ApiServer } from '../../api/server.js';
import { openApp } from '../../app.js';
import { UserError } from '../../util/errors.js';
import { configOf, wantsJson } from '../context.js';
import { onShutdown } from '../shutdown.js';

const port = (v: string) => {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return Number(v);
};
const bytes = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive number of bytes');
  return Number(v);
};

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

interface ServeOptions {
  host: string;
  port: number;
  corsOrigin?: string;
  allowedHost?: string;
  bodyLimit: number;
  requireAuth?: boolean;
  webRoot?: string;
}

export function registerServe(program: Command, version: string): void {
  program
    .command('serve')
    .description('serve the REST API and live WebSocket progress (jobs run on queue workers with REDIS_URL, else in this process)')
    .option('--host <address>', 'address to bind; anything but loopback requires API tokens', '127.0.0.1')
    .option('--port <n>', 'port to listen on', port, 8765)
    .option('--cors-origin <origins>', 'comma-separated origins allowed by CORS, or * (LUMINA_CORS_ORIGINS)')
    .option('--allowed-host <names>', 'comma-separated host names (as in the Host header) to answer to beyond the bound address, e.g. behind a proxy (LUMINA_ALLOWED_HOSTS)')
    .option('--body-limit <bytes>', 'largest request body accepted', bytes, 1024 * 1024)
    .option('--require-auth', 'require a token even on a loopback address')
    .option('--web-root <dir>', 'the built web app to offer at / (LUMINA_WEB_ROOT; default dist/web of the package)')
    .action(async (opts: ServeOptions, cmd: Command) => {
      const config = configOf(cmd);
      const app = await openApp(config, { jobs: 'serve' });
      const closers: (() => unknown)[] = [() => app.close()];
      try {
        const auth = new Authenticator(app.services.tokens, !isLoopback(opts.host) || !!opts.requireAuth);
        await auth.start();
        closers.unshift(() => auth.close());
        if (auth.required && auth.tokenCount === 0) {
          throw new UserError(
            `serving ${opts.requireAuth ? 'with --require-auth' : `on ${opts.host}`} requires API tokens and none exist: ` +
              `create one with "lumina token create --name NAME"${opts.requireAuth ? '' : ' (or bind to 127.0.0.1)'}`,
          );
        }
        if (app.database === 'embedded') {
          // The data directory is this process's alone: token commands reach it through this socket.
          const admin = await AdminSocket.open(config.dataDir, app.services.tokens, () => auth.refresh());
          closers.unshift(() => admin.close());
        }
        const health = new HealthProbe(app.pingDatabase, app.redis);
        await health.start();
        closers.unshift(() => health.close());
        const server = new ApiServer(
          {
            services: app.services,
            config,
            state: new JobStateCache((id) => app.services.jobs.find(id)),
            health,
            mode: app.mode,
            workers: app.workers,
            queueDepths: app.queueDepths,
          },
          auth,
          app.bus,
          {
            host: opts.host,
            port: opts.port,
            bodyLimit: opts.bodyLimit,
            corsOrigins: opts.corsOrigin ? list(opts.corsOrigin) : config.corsOrigins,
            allowedHosts: opts.allowedHost ? list(opts.allowedHost) : config.allowedHosts,
            version,
            webRoot: opts.webRoot ? path.resolve(opts.webRoot) : (config.webRoot ?? undefined),
          },
        );
        const bound = await server.listen();
        closers.unshift(() => server.close());
        const origin = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${bound}`;
        process.stderr.write(`lumina: serving ${origin} (${app.mode}, ${auth.required ? 'tokens required' : 'loopback, tokens optional'})\n`);
        process.stderr.write(
          (await server.web.built())
            ? `lumina: web UI at ${origin}/\n`
            : `lumina: web UI at ${origin}/ is not built (run npm run build; looked in ${server.web.root})\n`,
        );
        if (wantsJson(cmd)) process.stdout.write(JSON.stringify({ host: opts.host, port: bound, mode: app.mode, auth_required: auth.required }) + '\n');
      } catch (err) {
        for (const c of closers) await c();
        throw err;
      }
      await onShutdown(async () => {
        for (const c of closers) await c();
      });
      // Idle keep-alive connections would hold the event loop open.
      process.exit(0);
    });
}
