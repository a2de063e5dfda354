import type { Command } from 'commander';
import { printJson, wantsJson, withApp } from '../context.js';
import { progressBar } from '../progress-bar.js';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('catalog every photo and video under the directories (creates the catalog when missing)')
    .argument('<dir...>', 'directories to scan')
    .option('--catalog <name>', 'catalog name (default: the first directory’s name)')
    .action(async (dirs: string[], opts: { catalog?: string }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const bar = progressBar();
        let summary;
        try {
          summary = await services.jobs.ingestHere(dirs, opts.catalog, bar.update);
        } finally {
          bar.stop();
        }
        for (const p of summary.problems.slice(0, 20)) process.stderr.write(`lumina: ${p.path}: ${p.message}\n`);
        if (summary.problem_count > 20) process.stderr.write(`lumina: … and ${summary.problem_count - 20} more problems\n`);
        const { problems: _p, problem_count: _c, stage_ms: _s, job_id: _j, ...result } = summary;
        if (wantsJson(cmd)) printJson(result);
        else {
          process.stderr.write(
            `${summary.catalog.name}: ${summary.files_seen} files in ${summary.duration_s.toFixed(1)} s (${summary.files_per_s} files/s): ` +
              `${summary.assets_added} added, ${summary.assets_updated} updated, ${summary.assets_unchanged} unchanged, ` +
              `${summary.assets_missing} missing, ${summary.errors} errors\n`,
          );
        }
      });
    });
}
