import path from 'node:path';
import sharp from 'sharp';
import { thumbnailKeys } from '../db/duplicates.js';
import type { Sql } from '../db/database.js';
import type { NearPair } from '../dedupe/groups.js';
import { localFeatures, type ImageFeatures, type LocalFeatures, type Verdict } from '../dedupe/local-features.js';
import { messageOf } from '../util/errors.js';

/**
 * Geometric verification on the pictures' thumbnails (src/dedupe/local-features.ts), for the
 * pairs the duplicates job cannot settle by hash and CNN alone. Reads the thumbnails, keeps the
 * features of recently seen pictures, counts what it decided.
 */
export interface VerifySummary {
  /** Pairs looked at. */
  checked: number;
  /** Pairs shown to be one picture, edited. */
  same: number;
  /** Pairs shown to be two different pictures. */
  different: number;
  /** Pairs local features could not decide (plain pictures, missing thumbnails). */
  undecided: number;
  duration_s: number;
  /** Why verification did not run, when it did not. */
  skipped?: string;
}

export const emptyVerifySummary = (skipped?: string): VerifySummary => ({ checked: 0, same: 0, different: 0, undecided: 0, duration_s: 0, ...(skipped ? { skipped } : {}) });

/** Features kept at once: each holds a thumbnail's gray pixels (about 45 KB) and its descriptors. */
const FEATURE_CACHE = 4000;

export class PairVerifier {
  readonly summary = emptyVerifySummary();
  readonly #cache = new Map<number, ImageFeatures | null>();
  #keys = new Map<number, string>();

  private constructor(
    private readonly sql: Sql,
    private readonly schema: string,
    private readonly thumbnails: string,
    private readonly local: LocalFeatures | null,
  ) {}

  /** A verifier; where OpenCV cannot be loaded, one that leaves every pair undecided and says why. */
  static async open(sql: Sql, schema: string, thumbnails: string): Promise<PairVerifier> {
    try {
      return new PairVerifier(sql, schema, thumbnails, await localFeatures());
    } catch (err) {
      const v = new PairVerifier(sql, schema, thumbnails, null);
      v.summary.skipped = `local features unavailable: ${messageOf(err)}`;
      return v;
    }
  }

  /** Each pair's verdict, in order. Pairs sharing a picture are checked one after another, so its features are made once. */
  async verify(pairs: Pick<NearPair, 'a' | 'b'>[]): Promise<Verdict[]> {
    const t0 = performance.now();
    const out: Verdict[] = new Array(pairs.length).fill('unknown');
    if (!this.local) {
      this.summary.undecided += pairs.length;
      return out;
    }
    const missing = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].filter((id) => !this.#keys.has(id));
    if (missing.length) for (const [id, key] of await thumbnailKeys(this.sql, this.schema, missing)) this.#keys.set(id, key);
    const order = pairs.map((_, k) => k).sort((x, y) => pairs[x]!.a - pairs[y]!.a || pairs[x]!.b - pairs[y]!.b);
    for (const k of order) {
      const p = pairs[k]!;
      const [fa, fb] = [await this.#features(p.a), await this.#features(p.b)];
      const verdict = fa && fb ? this.local.verify(fa, fb).verdict : 'unknown';
      out[k] = verdict;
      this.summary.checked++;
      if (verdict === 'same') this.summary.same++;
      else if (verdict === 'different') this.summary.different++;
      else this.summary.undecided++;
    }
    this.summary.duration_s = Math.round((this.summary.duration_s + (performance.now() - t0) / 1000) * 1000) / 1000;
    return out;
  }

  close(): void {
    for (const f of this.#cache.values()) f?.dispose();
    this.#cache.clear();
  }

  async #features(id: number): Promise<ImageFeatures | null> {
    const cache = this.#cache;
    if (cache.has(id)) {
      const hit = cache.get(id)!;
      cache.delete(id);
      cache.set(id, hit); // most recently used last
      return hit;
    }
    let f: ImageFeatures | null = null;
    const key = this.#keys.get(id);
    if (key && this.local) {
      try {
        const { data, info } = await sharp(path.join(this.thumbnails, key)).grayscale().raw().toBuffer({ resolveWithObject: true });
        f = this.local.features(new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), info.width, info.height);
      } catch {
        f = null; // a thumbnail gone or unreadable: its pairs are left undecided
      }
    }
    cache.set(id, f);
    if (cache.size > FEATURE_CACHE) {
      const [oldest, value] = cache.entries().next().value!;
      value?.dispose();
      cache.delete(oldest);
    }
    return f;
  }
}
