import type { ComputedGroup, GroupKind } from './groups.js';

/**
 * How a new detection run meets the groups already stored, so that review decisions persist:
 *  - an open group is brought up to date (members, keeper, reason);
 *  - a group the user resolved or dismissed keeps its decision while detection finds nothing new
 *    in it; new members join it and reopen it, the old decisions staying on the old members;
 *  - an open group detection no longer finds is dropped; a reviewed one is kept as history.
 * A computed group belongs to the stored group of its kind that shares most of its members.
 */
export interface StoredGroup {
  id: number;
  kind: GroupKind;
  reviewStatus: 'open' | 'resolved' | 'dismissed';
  members: number[];
}

export type ReviewAction =
  | { type: 'insert'; group: ComputedGroup }
  | { type: 'update'; id: number; group: ComputedGroup; reopen: boolean }
  | { type: 'add_members'; id: number; group: ComputedGroup; added: number[] }
  | { type: 'keep'; id: number }
  | { type: 'delete'; id: number };

export function mergeWithStored(stored: StoredGroup[], computed: ComputedGroup[]): ReviewAction[] {
  const byAsset = new Map<string, StoredGroup[]>();
  for (const s of stored) {
    for (const m of s.members) {
      const k = `${s.kind}/${m}`;
      let list = byAsset.get(k);
      if (!list) byAsset.set(k, (list = []));
      list.push(s);
    }
  }
  const matched = new Set<number>();
  const actions: ReviewAction[] = [];
  for (const g of computed) {
    const overlap = new Map<StoredGroup, number>();
    for (const m of g.members) for (const s of byAsset.get(`${g.kind}/${m.assetId}`) ?? []) if (!matched.has(s.id)) overlap.set(s, (overlap.get(s) ?? 0) + 1);
    let best: StoredGroup | null = null;
    let bestCount = 0;
    for (const [s, count] of overlap) {
      // Reviewed groups win ties: a decision is never lost to an open twin.
      if (count > bestCount || (count === bestCount && best?.reviewStatus === 'open' && s.reviewStatus !== 'open')) {
        best = s;
        bestCount = count;
      }
    }
    if (!best) {
      actions.push({ type: 'insert', group: g });
      continue;
    }
    matched.add(best.id);
    if (best.reviewStatus === 'open') {
      actions.push({ type: 'update', id: best.id, group: g, reopen: false });
      continue;
    }
    const known = new Set(best.members);
    const added = g.members.map((m) => m.assetId).filter((id) => !known.has(id));
    actions.push(added.length ? { type: 'add_members', id: best.id, group: g, added } : { type: 'keep', id: best.id });
  }
  for (const s of stored) if (!matched.has(s.id) && s.reviewStatus === 'open') actions.push({ type: 'delete', id: s.id });
  return actions;
}
