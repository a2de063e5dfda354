import type { GroupRow } from '../db/duplicates.js';
import { ORIENTATIONS } from '../dedupe/orientations.js';

/** One duplicate group as the CLI and the API show it: absolute paths, the keeper first. */
export function groupView(g: GroupRow) {
  return {
    id: g.id,
    kind: g.kind,
    keeper: g.keeper_path,
    keeper_asset_id: g.keeper_asset_id,
    reason: g.reason,
    review_status: g.review_status,
    members: g.members.map((m) => ({
      asset_id: m.asset_id,
      path: m.path,
      distance: m.distance,
      similarity: m.similarity,
      orientation: m.orientation === null ? null : (ORIENTATIONS[m.orientation] ?? null),
      decision: m.decision,
      quality_score: m.quality_score,
      width: m.width,
      height: m.height,
      size: Number(m.size),
      status: m.status,
    })),
    updated_at: g.updated_at,
  };
}
