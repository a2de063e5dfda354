import path from 'node:path';
import { isRawExt } from '../pipeline/file-types.js';

/**
 * Duplicate groups from assets and candidate pairs: plain functions, no I/O. The rules are those
 * of DESIGN.md: exact copies by SHA-256; near duplicates that never chain (every member within
 * the threshold of its keeper); bursts and format pairs as kinds of their own, never reported
 * as duplicates; the keeper the best copy by quality score, with the reason said.
 */
export interface DedupeAsset {
  id: number;
  path: string;
  sha256: string | null;
  /** The sign form of pHash (what near search compares), or null without pixels. */
  hash: bigint | null;
  quality: number | null;
  width: number | null;
  height: number | null;
  size: number;
  sharpness: number | null;
  make: string | null;
  model: string | null;
  takenAt: Date | null;
  /** Confidence of takenAt; bursts and format pairs need a real capture time (EXIF). */
  dateConfidence: number | null;
  ext: string;
  /** A video's hash is one frame's: videos are compared with videos only. */
  video: boolean;
  /** Decoded with corrupt data (status damaged): never the keeper while an intact copy exists. */
  damaged: boolean;
}

export type GroupKind = 'exact' | 'near' | 'burst' | 'format_pair';

export interface GroupMember {
  assetId: number;
  distance: number | null;
  similarity: number | null;
  orientation: number | null;
  /** Local features aligned it with the keeper: it may lie beyond the hash threshold. */
  verified?: boolean;
}

export interface ComputedGroup {
  kind: GroupKind;
  keeperId: number;
  reason: string;
  /** The keeper first. */
  members: GroupMember[];
}

export interface NearPair {
  a: number;
  b: number;
  distance: number;
  orientation: number;
  similarity: number | null;
  /** Confirmed by local features (geometric verification), whatever the hash distance and cosine. */
  verified?: boolean;
}

/** Intact before damaged, whatever else: every kind of group orders its candidates by this first. */
const byIntegrity = (x: DedupeAsset, y: DedupeAsset) => Number(x.damaged) - Number(y.damaged);

/** Best first: intact, then quality score, pixels, bytes, the earlier capture, the shorter path. */
export function compareQuality(x: DedupeAsset, y: DedupeAsset): number {
  return (
    byIntegrity(x, y) ||
    (y.quality ?? -1) - (x.quality ?? -1) ||
    (y.width ?? 0) * (y.height ?? 0) - (x.width ?? 0) * (x.height ?? 0) ||
    y.size - x.size ||
    (x.takenAt?.getTime() ?? Infinity) - (y.takenAt?.getTime() ?? Infinity) ||
    x.path.length - y.path.length ||
    (x.path < y.path ? -1 : x.path > y.path ? 1 : 0)
  );
}

function describe(a: DedupeAsset): string {
  const mp = a.width && a.height ? `${((a.width * a.height) / 1e6).toFixed(1)} MP` : 'no pixels';
  return `${a.ext.toUpperCase()}, ${mp}, ${(a.size / 1e6).toFixed(2)} MB`;
}

function keeperReason(best: DedupeAsset, next: DedupeAsset | undefined, count: number): string {
  const q = (a: DedupeAsset) => (a.quality ?? 0).toFixed(1);
  // Beside a damaged copy, integrity decided (withDamageNote says so), not the scores.
  if (!next || next.damaged !== best.damaged) return `quality ${q(best)} (${describe(best)})`;
  if ((best.quality ?? -1) > (next.quality ?? -1)) {
    return `the highest quality score among ${count} copies: ${q(best)} (${describe(best)}) against ${q(next)} (${describe(next)})`;
  }
  return `quality tied at ${q(best)} among ${count} copies; kept the one with more pixels, then more bytes, the earlier capture, the shorter path (${describe(best)})`;
}

/** Same bytes: every path, the keeper the earliest captured, then shortest path. */
export function exactGroups(assets: DedupeAsset[]): ComputedGroup[] {
  const bySha = new Map<string, DedupeAsset[]>();
  for (const a of assets) {
    if (!a.sha256 || a.size === 0) continue;
    let list = bySha.get(a.sha256);
    if (!list) bySha.set(a.sha256, (list = []));
    list.push(a);
  }
  const groups: ComputedGroup[] = [];
  for (const list of bySha.values()) {
    if (list.length < 2) continue;
    list.sort(compareQuality);
    const keeper = list[0]!;
    groups.push({
      kind: 'exact',
      keeperId: keeper.id,
      reason: `identical bytes (SHA-256) in ${list.length} places; kept ${path.basename(keeper.path)}: same content, so the earliest capture and the shortest path decide`,
      members: list.map((a) => ({ assetId: a.id, distance: 0, similarity: 1, orientation: 0 })),
    });
  }
  return groups;
}

/** One asset per content: what near search runs over (copies of it are already exact duplicates). */
export function representatives(assets: DedupeAsset[]): DedupeAsset[] {
  const best = new Map<string, DedupeAsset>();
  const out: DedupeAsset[] = [];
  for (const a of assets) {
    if (a.hash === null) continue;
    if (!a.sha256) {
      out.push(a);
      continue;
    }
    const b = best.get(a.sha256);
    if (!b || compareQuality(a, b) < 0) best.set(a.sha256, a);
  }
  return [...out, ...best.values()];
}

const BURST_GAP_MS = 2000;
const BURST_MIN = 3;

/** Same camera, frames at most 2 s apart, at least 3 of them; the keeper the sharpest frame. */
export function burstGroups(assets: DedupeAsset[]): ComputedGroup[] {
  const byCamera = new Map<string, DedupeAsset[]>();
  for (const a of representatives(assets.filter((x) => x.hash !== null || x.sha256))) {
    if (!a.takenAt || (a.dateConfidence ?? 0) < 85 || !(a.make || a.model)) continue;
    const key = `${a.make ?? ''}\u0000${a.model ?? ''}`;
    let list = byCamera.get(key);
    if (!list) byCamera.set(key, (list = []));
    list.push(a);
  }
  const groups: ComputedGroup[] = [];
  for (const list of byCamera.values()) {
    list.sort((x, y) => x.takenAt!.getTime() - y.takenAt!.getTime() || x.id - y.id);
    let run: DedupeAsset[] = [];
    const close = () => {
      // Frames of one instant with the same base name are one shot in two formats, not a burst.
      const shots = new Set(run.map((a) => shotKey(a)));
      if (run.length >= BURST_MIN && shots.size >= BURST_MIN) {
        const sorted = [...run].sort((x, y) => byIntegrity(x, y) || (y.sharpness ?? 0) - (x.sharpness ?? 0) || compareQuality(x, y));
        const keeper = sorted[0]!;
        groups.push({
          kind: 'burst',
          keeperId: keeper.id,
          reason: `burst of ${run.length} frames from ${[keeper.make, keeper.model].filter(Boolean).join(' ')} within ${((run.at(-1)!.takenAt!.getTime() - run[0]!.takenAt!.getTime()) / 1000).toFixed(1)} s; kept the sharpest frame`,
          members: sorted.map((a) => ({ assetId: a.id, distance: null, similarity: null, orientation: null })),
        });
      }
      run = [];
    };
    for (const a of list) {
      if (run.length && a.takenAt!.getTime() - run.at(-1)!.takenAt!.getTime() > BURST_GAP_MS) close();
      run.push(a);
    }
    close();
  }
  return groups;
}

function shotKey(a: DedupeAsset): string {
  const base = path.basename(a.path, path.extname(a.path)).toLowerCase();
  return `${path.dirname(a.path)}/${base}`;
}

/**
 * One shot in several formats: the same folder and base name, and either a RAW beside a
 * developed picture or the same capture second. The keeper is the RAW (the source), else the best.
 */
export function formatPairGroups(assets: DedupeAsset[]): ComputedGroup[] {
  const byShot = new Map<string, DedupeAsset[]>();
  for (const a of assets) {
    let list = byShot.get(shotKey(a));
    if (!list) byShot.set(shotKey(a), (list = []));
    list.push(a);
  }
  const groups: ComputedGroup[] = [];
  for (const list of byShot.values()) {
    const exts = new Set(list.map((a) => a.ext));
    if (list.length < 2 || exts.size < 2) continue;
    const hasRaw = list.some((a) => isRawExt(a.ext));
    const seconds = new Set(list.map((a) => (a.takenAt && (a.dateConfidence ?? 0) >= 85 ? Math.floor(a.takenAt.getTime() / 1000) : null)));
    const sameSecond = seconds.size === 1 && !seconds.has(null);
    if (!hasRaw && !sameSecond) continue;
    const sorted = [...list].sort((x, y) => byIntegrity(x, y) || Number(isRawExt(y.ext)) - Number(isRawExt(x.ext)) || compareQuality(x, y));
    const keeper = sorted[0]!;
    groups.push({
      kind: 'format_pair',
      keeperId: keeper.id,
      reason: `one shot in ${[...exts].map((e) => e.toUpperCase()).join(' + ')} (${hasRaw ? 'RAW beside its developed copy' : 'same base name and capture second'}); kept ${isRawExt(keeper.ext) ? 'the RAW original' : 'the best copy'}`,
      members: sorted.map((a) => ({ assetId: a.id, distance: null, similarity: null, orientation: null })),
    });
  }
  return groups;
}

/**
 * The keeper rule's last word, added to every group's reason: damaged copies were passed over, or
 * every copy is damaged. Nothing changes for a group without damaged members.
 */
export function withDamageNote(groups: ComputedGroup[], assets: Map<number, DedupeAsset>): ComputedGroup[] {
  return groups.map((g) => {
    const damaged = g.members.filter((m) => assets.get(m.assetId)?.damaged).length;
    if (!damaged) return g;
    const note = assets.get(g.keeperId)?.damaged
      ? 'every copy is damaged (corrupt image data): check the keeper before relying on it'
      : `passed over ${damaged === 1 ? 'a damaged copy' : `${damaged} damaged copies`} (corrupt image data) for an intact one`;
    return { ...g, reason: `${g.reason}; ${note}` };
  });
}

/**
 * Near duplicates that never chain. Candidates are taken best copy first: each asset not yet in a
 * group becomes a keeper and takes those of its confirmed neighbours that are still free, so
 * every member is within the threshold of its keeper (A~B and B~C never makes A~C).
 * Pairs inside one burst or one format pair are left out: those are their own kinds.
 */
export function nearGroups(assets: Map<number, DedupeAsset>, pairs: NearPair[], exclude: ComputedGroup[]): ComputedGroup[] {
  const together = new Map<number, Set<number>>();
  for (const g of exclude) {
    const ids = new Set(g.members.map((m) => m.assetId));
    for (const id of ids) together.set(id, new Set([...(together.get(id) ?? []), ...ids]));
  }
  const neighbours = new Map<number, NearPair[]>();
  for (const p of pairs) {
    if (together.get(p.a)?.has(p.b)) continue;
    // A still and a video sharing a frame are not copies of each other.
    if (assets.get(p.a)!.video !== assets.get(p.b)!.video) continue;
    for (const id of [p.a, p.b]) {
      let list = neighbours.get(id);
      if (!list) neighbours.set(id, (list = []));
      list.push(p);
    }
  }
  const order = [...neighbours.keys()].map((id) => assets.get(id)!).sort(compareQuality);
  const taken = new Set<number>();
  const groups: ComputedGroup[] = [];
  for (const keeper of order) {
    if (taken.has(keeper.id)) continue;
    const members: GroupMember[] = [];
    const seen = new Set<number>();
    for (const p of neighbours.get(keeper.id)!.sort((x, y) => x.distance - y.distance)) {
      const other = p.a === keeper.id ? p.b : p.a;
      if (taken.has(other) || seen.has(other)) continue;
      seen.add(other);
      members.push({ assetId: other, distance: p.distance, similarity: p.similarity, orientation: p.orientation, ...(p.verified ? { verified: true } : {}) });
    }
    if (!members.length) continue;
    taken.add(keeper.id);
    for (const m of members) taken.add(m.assetId);
    const sorted = members.map((m) => assets.get(m.assetId)!).sort(compareQuality);
    groups.push({
      kind: 'near',
      keeperId: keeper.id,
      reason: keeperReason(keeper, sorted[0], members.length + 1),
      members: [{ assetId: keeper.id, distance: 0, similarity: 1, orientation: 0 }, ...members],
    });
  }
  return groups;
}
