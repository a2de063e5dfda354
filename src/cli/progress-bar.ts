import cliProgress from 'cli-progress';
import type { JobProgress } from '../model/job.js';

/** A progress bar on stderr when it is a terminal; otherwise nothing (logs stay clean). */
export function progressBar(enabled = Boolean(process.stderr.isTTY)) {
  if (!enabled) return { update: (_p: JobProgress) => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {stage} |{bar}| {value}/{total} files | {rate} files/s | ETA {eta_text} | errors {failed}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: JobProgress) {
      const payload = { stage: p.stage.padEnd(8), rate: p.rate.toFixed(1), failed: p.failed, eta_text: formatEta(p.eta_s) };
      if (!started) {
        bar.start(Math.max(p.total, 1), p.done, payload);
        started = true;
      }
      bar.setTotal(Math.max(p.total, 1));
      bar.update(p.done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function formatEta(s: number | null): string {
  if (s === null) return '--';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
