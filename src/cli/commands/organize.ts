import path from 'node:path';
import { Option, type Command } from 'commander';
import type { OrganizeDirection, OrganizeSummary } from '../../jobs/organize.js';
import { DEFAULT_MIN_CONFIDENCE, DEFAULT_TEMPLATE, DUPLICATE_POLICIES, ORGANIZE_MODES, type DuplicatePolicy, type OrganizeMode } from '../../model/organize.js';
import { UserError } from '../../util/errors.js';
import { actionView, planView } from '../../views/organize.js';
import { printJson, wantsJson, withApp } from '../context.js';
import { progressBar } from '../progress-bar.js';

const confidence = (v: string) => {
  if (!/^\d{1,3}$/.test(v) || Number(v) > 100) throw new UserError(`--min-confidence must be a whole number from 0 to 100, got "${v}"`);
  return Number(v);
};

interface PlanFlags {
  catalog: string;
  dest: string;
  mode: OrganizeMode;
  template: string;
  duplicates: DuplicatePolicy;
  minConfidence: number;
}

export function registerOrganize(program: Command): void {
  const organize = program.command('organize').description('build a date-based library from a catalog: plan, apply, roll back (never a file lost)');
  organize
    .command('plan')
    .description('work out where every file goes and store the plan; no file is changed')
    .requiredOption('--catalog <name>', 'catalog name or id')
    .requiredOption('--dest <dir>', 'the library folder (outside the catalog’s source directories)')
    .addOption(new Option('--mode <mode>', 'copy leaves the archive as it is; move takes the files out of it').choices(ORGANIZE_MODES).default('copy'))
    .option('--template <t>', 'folders and name under DEST', DEFAULT_TEMPLATE)
    .addOption(new Option('--duplicates <policy>', 'non-keepers: quarantine (move: to DEST/_duplicates; copy: not copied), skip (left alone), include (placed like the rest)').choices(DUPLICATE_POLICIES).default('quarantine'))
    .option('--min-confidence <n>', 'capture dates less sure than this (0-100) go to undated/', confidence, DEFAULT_MIN_CONFIDENCE)
    .action(async (opts: PlanFlags, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const { plan, catalog } = await services.organize.plan(opts.catalog, {
          dest: path.resolve(opts.dest),
          mode: opts.mode,
          template: opts.template,
          duplicates: opts.duplicates,
          minConfidence: opts.minConfidence,
        });
        const s = plan.summary;
        if (wantsJson(cmd)) {
          const { id, dest, mode, template, status } = plan;
          return printJson({ plan: { id, catalog: { id: catalog.id, name: catalog.name }, dest, mode, template, status }, summary: s });
        }
        process.stdout.write(`${plan.id}\n`);
        process.stderr.write(
          `lumina: plan ${plan.id} (${plan.mode} into ${plan.dest}): ${s.files} files, ${(s.bytes / 1e6).toFixed(1)} MB; ${s.placed} placed, ` +
            `${s.duplicates} duplicates, ${s.undated} undated, ${s.sidecars} sidecars, ${s.conflicts} renamed for a taken name, ${s.skipped} skipped. ` +
            `Nothing was changed: "lumina organize show ${plan.id}" lists it, "lumina organize apply ${plan.id}" carries it out\n`,
        );
      });
    });

  organize
    .command('show')
    .description('a plan and its actions')
    .argument('<plan>', 'plan id')
    .option('--limit <n>', 'at most this many actions', (v) => Number(v), 100_000)
    .action(async (planId: string, opts: { limit: number }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const { plan, catalog } = await services.organize.get(planId);
        const actions = (await services.organize.actions(plan.id, { limit: opts.limit })).map(actionView);
        if (wantsJson(cmd)) return printJson({ plan: planView(plan, catalog.name), summary: plan.summary, actions });
        process.stdout.write(`plan ${plan.id} [${plan.status}] ${plan.mode} into ${plan.dest} (${plan.template})\n`);
        for (const a of actions) {
          process.stdout.write(`${a.state.padEnd(14)} ${a.kind.padEnd(10)} ${a.source} -> ${a.target ?? '(stays)'}${a.note ? `  (${a.note})` : ''}${a.error ? `  ERROR ${a.error}` : ''}${a.rollback_state ? `  [rollback: ${a.rollback_state}]` : ''}\n`);
        }
      });
    });

  organize
    .command('list')
    .description('the plans of a catalog')
    .requiredOption('--catalog <name>', 'catalog name or id')
    .action(async (opts: { catalog: string }, cmd: Command) => {
      await withApp(cmd, async ({ services }) => {
        const { catalog, plans } = await services.organize.list(opts.catalog);
        if (wantsJson(cmd)) return printJson(plans.map((p) => ({ ...planView(p, catalog.name), summary: p.summary })));
        for (const p of plans) process.stdout.write(`${p.id}\t${p.status}\t${p.mode}\t${p.dest}\t${p.summary.files} files\t${p.created_at.toISOString()}\n`);
      });
    });

  for (const direction of ['apply', 'rollback'] as const) {
    organize
      .command(direction)
      .description(direction === 'apply' ? 'carry a plan out: each file copied or moved, verified by checksum, journaled (run it again after a crash)' : 'undo an applied plan: files moved back, copies removed, made folders removed when empty')
      .argument('<plan>', 'plan id')
      .action(async (planId: string, _opts: unknown, cmd: Command) => runDirection(cmd, planId, direction));
  }
}

async function runDirection(cmd: Command, planId: string, direction: OrganizeDirection): Promise<void> {
  await withApp(cmd, async ({ services }) => {
    const bar = progressBar();
    let summary: OrganizeSummary;
    try {
      summary = await services.organize.runHere(planId, direction, bar.update);
    } finally {
      bar.stop();
    }
    if (wantsJson(cmd)) return printJson(summary);
    process.stderr.write(
      `lumina: plan ${summary.plan_id} ${direction === 'apply' ? 'applied' : 'rolled back'}: ${summary.done} done, ${summary.skipped} skipped, ` +
        `${summary.failed} failed${direction === 'rollback' ? `, ${summary.conflicts} kept for a conflict, ${summary.folders_removed} folders removed` : ''} ` +
        `in ${summary.duration_s.toFixed(1)} s (${summary.mb_per_s} MB/s)` +
        (summary.failed || summary.conflicts ? `; "lumina organize show ${summary.plan_id}" says why` : '') +
        '\n',
    );
  });
}
