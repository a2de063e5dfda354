import { spawn, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `lumina ARGS` in a child process (the real binary, as a user would). */
export function runCli(args: string[], opts: SpawnOptions & { prefix?: string[] } = {}): Promise<CliResult> {
  const [cmd, ...pre] = opts.prefix ?? [process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, ...(opts.prefix ? [process.execPath] : []), CLI, ...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
