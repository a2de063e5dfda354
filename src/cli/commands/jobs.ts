import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { JOB_STATUSES, type Job, type JobStatus } from '../../model/job.js';
import { jobView } from '../../views/job.js';
import { printJson, wantsJson, withApp } from '../context.js';

const status = (v: string) => {
  if (!(JOB_STATUSES as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${JOB_STATUSES.join(', ')}`);
  return v as JobStatus;
};
const count = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 500) throw new InvalidArgumentError('must be a whole number from 1 to 500');
  return Number(v);
};

function line(j: Job): string {
  const p = jobView(j).progress;
  const tail = j.error ? `  ${j.error_code ?? 'failed'}: ${j.error}` : '';
  return `${j.id}\t${j.type}\t${j.status}\t${p.done}/${p.total}\t${j.created_at.toISOString()}${tail}\n`;
}

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('list, show and cancel jobs (scans and duplicates runs), wherever they run');
  jobs
    .command('list')
    .option('--catalog <name>', 'only this catalog’s jobs (name or id)')
    .option('--status <status>', `only jobs in this status (${JOB_STATUSES.join(', ')})`, status)
    .option('--limit <n>', 'at most this many, newest first', count, 50)
    .action(async (opts: { catalog?: string; status?: JobStatus; limit: number }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const catalogId = opts.catalog ? (await services.catalogs.get(opts.catalog)).id : undefined;
        const rows = await services.jobs.list({ catalogId, status: opts.status, limit: opts.limit });
        if (wantsJson(cmd)) return printJson(rows.map(jobView));
        for (const j of rows) process.stdout.write(line(j));
      });
    });
  jobs
    .command('show')
    .argument('<id>', 'job id')
    .action(async (id: string, _o, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const j = await services.jobs.get(id);
        if (wantsJson(cmd)) return printJson(jobView(j));
        process.stdout.write(line(j));
      });
    });
  jobs
    .command('cancel')
    .argument('<id>', 'job id')
    .description('cancel a queued or running job; its owner stops it within a third of a lease (see --job-lease-s)')
    .action(async (id: string, _o, cmd: Command) => {
      await withApp(
        cmd,
        async ({ services }) => {
          const j = await services.jobs.cancel(id);
          if (wantsJson(cmd)) printJson(jobView(j));
          else process.stderr.write(`lumina: job ${j.id} cancelled\n`);
        },
        { jobs: 'queue' },
      );
    });
}
