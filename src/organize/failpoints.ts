import { organizeInjectedErrors, organizeKillPoint } from '../config/config.js';

/**
 * Named points in the organize journal where a test may have the process killed outright
 * (SIGKILL, as a power cut would), to prove that every interruption is finished by the next run.
 * Set LUMINA_ORGANIZE_KILL_AT=point[:n] (the n-th time the point is reached, default the first);
 * without it, each call is one comparison.
 */
const spec = organizeKillPoint();
const [target, nth] = spec.split(':');
let reached = 0;

export function failpoint(name: string): void {
  if (!target || name !== target) return;
  if (++reached < Number(nth ?? 1)) return;
  process.kill(process.pid, 'SIGKILL');
  // Not one more step: the signal is on its way.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}

const injected = new Set(organizeInjectedErrors().split(',').filter(Boolean));

/**
 * Errors a test may have the file system give (LUMINA_ORGANIZE_INJECT=name,…), for the ones a
 * test cannot make for real: `utimes_eperm` (a NAS share that refuses times and modes).
 */
export function injectedError(name: 'utimes_eperm'): NodeJS.ErrnoException | null {
  if (!injected.has(name)) return null;
  return Object.assign(new Error('EPERM: operation not permitted (injected)'), { code: 'EPERM' });
}
