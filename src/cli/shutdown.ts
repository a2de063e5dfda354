import { messageOf } from '../util/errors.js';

/**
 * Waits for SIGINT or SIGTERM, then runs `stop` once; a second signal exits at once.
 * Long-running commands (serve, worker) end through here.
 */
export function onShutdown(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`lumina: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`lumina: ${signal}: shutting down\n`);
      stop().then(
        () => resolve(),
        (err) => {
          process.stderr.write(`lumina: error while shutting down: ${messageOf(err)}\n`);
          resolve();
        },
      );
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
