import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scoreGroups, writePhotoCorpus, type PhotoCorpus, type QualityFigures } from './photo-corpus.js';

/**
 * One measurement of near-duplicate quality, for the bench and the test alike: the corpus written
 * from `sources`, ingested into a fresh embedded catalog and run through `lumina dupes` (at
 * default settings unless `dupesArgs` say otherwise), the groups scored.
 */
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface QualityRun {
  figures: QualityFigures;
  corpus: PhotoCorpus;
  ingest_s: number;
  dupes_s: number;
  summary: Record<string, unknown>;
  /** The folder the run worked in (removed unless `keep`). */
  work: string;
}

function lumina(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env, maxBuffer: 256 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`lumina ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

export async function runQuality(sources: string[], opts: { dupesArgs?: string[]; keep?: boolean; log?: (s: string) => void } = {}): Promise<QualityRun> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-quality-'));
  try {
    const root = path.join(work, 'photos');
    let t = performance.now();
    const corpus = await writePhotoCorpus(root, sources);
    opts.log?.(`corpus: ${sources.length} photographs, ${corpus.files.length} files, ${corpus.lookalikes.length} look-alike pairs (${((performance.now() - t) / 1000).toFixed(1)} s to make)`);
    // The embedded default, whatever this shell points at.
    const env: NodeJS.ProcessEnv = { ...process.env, LUMINA_DATA_DIR: path.join(work, 'data') };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    t = performance.now();
    await lumina(['ingest', root, '--catalog', 'Quality', '--json'], env);
    const ingest_s = (performance.now() - t) / 1000;
    t = performance.now();
    const out = JSON.parse(await lumina(['dupes', '--catalog', 'Quality', '--json', ...(opts.dupesArgs ?? [])], env)) as { groups: { kind: string; members: { path: string }[] }[]; summary: Record<string, unknown> };
    const dupes_s = (performance.now() - t) / 1000;
    // Bursts and format pairs are other kinds of relation: only duplicate groups are scored.
    const figures = scoreGroups(corpus, out.groups.filter((g) => g.kind === 'exact' || g.kind === 'near'));
    return { figures, corpus, ingest_s, dupes_s, summary: out.summary, work };
  } finally {
    if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
  }
}
