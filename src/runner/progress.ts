import type { JobProgress } from '../db/jobs.js';

/** Counts files as they finish and derives rate and ETA; `done` only ever grows. */
export class ProgressTracker {
  done = 0;
  failed = 0;
  total = 0;
  stage = 'discover';
  readonly #started = performance.now();
  #windowStart = performance.now();
  #windowDone = 0;
  #rate = 0;

  fileDone(failed: boolean): void {
    this.done++;
    if (failed) this.failed++;
    const now = performance.now();
    // A rate over the last few seconds follows speed changes (unchanged files are near-free).
    if (now - this.#windowStart > 2000) {
      const windowRate = ((this.done - this.#windowDone) * 1000) / (now - this.#windowStart);
      this.#rate = this.#rate ? 0.5 * this.#rate + 0.5 * windowRate : windowRate;
      this.#windowStart = now;
      this.#windowDone = this.done;
    }
  }

  get elapsedS(): number {
    return (performance.now() - this.#started) / 1000;
  }

  snapshot(): JobProgress {
    const rate = this.#rate || (this.elapsedS > 0 ? this.done / this.elapsedS : 0);
    const left = Math.max(0, this.total - this.done);
    return {
      done: this.done,
      total: this.total,
      failed: this.failed,
      rate: Math.round(rate * 10) / 10,
      eta_s: rate > 0 ? Math.round(left / rate) : null,
      stage: this.stage,
    };
  }
}
