import path from 'node:path';
import type { Command } from 'commander';
import type { ReviewStatus } from '../../services/duplicate-service.js';
import { UserError } from '../../util/errors.js';
import { groupView } from '../../views/duplicates.js';
import { printJson, printJsonList, wantsJson, withApp } from '../context.js';
import { progressBar } from '../progress-bar.js';

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new UserError(`${name} must be a whole number`);
  return Number(v);
};

export function registerDupes(program: Command): void {
  program
    .command('dupes')
    .description('find exact and near duplicates, bursts and format pairs in a catalog (nothing is deleted)')
    .requiredOption('--catalog <name>', 'catalog name or id')
    .option('--threshold <n>', 'largest pHash distance (of 64 bits) for near duplicates (default 10)', int('--threshold'))
    .option('--turned-threshold <n>', 'largest distance for rotated or mirrored copies (default 3)', int('--turned-threshold'))
    .option('--similarity <x>', 'smallest CNN cosine similarity that confirms a near duplicate (default 0.7)')
    .option('--embeddings <mode>', 'auto (use them where they can be made), on (require them), off', 'auto')
    .option('--status <status>', 'list only groups in this review status (open, resolved, dismissed)')
    .action(async (opts: { catalog: string; threshold?: number; turnedThreshold?: number; similarity?: string; embeddings: string; status?: string }, cmd: Command) => {
      if (!['auto', 'on', 'off'].includes(opts.embeddings)) throw new UserError('--embeddings must be auto, on or off');
      if (opts.threshold !== undefined && opts.threshold > 32) throw new UserError('--threshold above 32 would call unrelated pictures duplicates');
      const similarity = opts.similarity === undefined ? undefined : Number(opts.similarity);
      if (similarity !== undefined && !(similarity >= -1 && similarity <= 1)) throw new UserError('--similarity must be between -1 and 1');
      await withApp(cmd, async ({ services }) => {
        const bar = progressBar();
        let summary;
        try {
          summary = await services.jobs.duplicatesHere(
            opts.catalog,
            { threshold: opts.threshold, turned_threshold: opts.turnedThreshold, similarity, embeddings: opts.embeddings as 'auto' | 'on' | 'off' },
            bar.update,
          );
        } finally {
          bar.stop();
        }
        const catalog = await services.catalogs.get(opts.catalog);
        const pages = services.duplicates.pages(catalog, opts.status as ReviewStatus | undefined);
        const views = async function* () {
          for await (const page of pages) yield page.map(groupView);
        };
        if (wantsJson(cmd)) await printJsonList('groups', views(), () => ({ summary }));
        else {
          for await (const groups of views()) {
            for (const g of groups) {
              process.stdout.write(`#${g.id} ${g.kind} [${g.review_status}] keep ${g.keeper}\n    ${g.reason}\n`);
              for (const m of g.members) if (m.path !== g.keeper) process.stdout.write(`    ${m.path}${m.distance !== null ? `  (distance ${m.distance}${m.similarity !== null ? `, similarity ${m.similarity}` : ''}${m.orientation && m.orientation !== 'identity' ? `, ${m.orientation}` : ''})` : ''}\n`);
            }
          }
          if (summary.stale_fingerprints) {
            process.stderr.write(`lumina: ${summary.stale_fingerprints} pictures were fingerprinted by an older Lumina; scan the catalog again (lumina ingest) so near-duplicate search sees them\n`);
          }
          const k = summary.groups;
          process.stderr.write(
            `${summary.catalog.name}: ${summary.assets} assets in ${summary.duration_s.toFixed(1)} s: ${k.exact} exact, ${k.near} near, ` +
              `${k.burst} burst, ${k.format_pair} format-pair groups (${summary.confirmed_pairs} of ${summary.candidate_pairs + summary.proposed_by_embeddings} ` +
              `candidate pairs confirmed, ${summary.proposed_by_embeddings} of them proposed by the CNN; ${summary.embeddings_used} embeddings)\n`,
          );
        }
      });
    });

  program
    .command('review')
    .description('record a decision on a duplicate group: keep some copies, or not duplicates, or reopen (reversible; nothing is deleted)')
    .argument('<group>', 'group id', int('group'))
    .requiredOption('--catalog <name>', 'catalog name or id')
    .option('--keep <path...>', 'resolve the group keeping these copies (the others are marked for removal); default: the keeper')
    .option('--dismiss', 'not duplicates: detection will not reopen it unless new copies appear')
    .option('--reopen', 'undo a decision')
    .action(async (groupId: number, opts: { catalog: string; keep?: string[]; dismiss?: boolean; reopen?: boolean }, cmd: Command) => {
      if (Number(Boolean(opts.dismiss)) + Number(Boolean(opts.reopen)) + Number(Boolean(opts.keep)) > 1) throw new UserError('give one of --keep, --dismiss, --reopen');
      await withApp(cmd, async ({ services }) => {
        const catalog = await services.catalogs.get(opts.catalog);
        const status = opts.dismiss ? 'dismissed' : opts.reopen ? 'open' : 'resolved';
        // Paths are the catalog's absolute ones; a relative one is meant from here. Digits are asset ids.
        const keep = opts.keep?.map((k) => (/^\d+$/.test(k) ? k : path.resolve(k)));
        const after = await services.duplicates.resolve(catalog, groupId, { status, keep, actor: 'cli' });
        if (wantsJson(cmd)) printJson(groupView(after));
        else process.stderr.write(`group ${groupId}: ${status}\n`);
      });
    });
}
