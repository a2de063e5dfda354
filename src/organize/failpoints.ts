import { organizeKillPoint } from '../config/config.js';

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
