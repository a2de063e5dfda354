import type { GroupRow } from '../db/duplicates.js';
import { ORIENTATIONS } from '../dedupe/orientations.js';

/** A capture time as ISO 8601 in UTC, whether it came as a Date or as JSON text. */
const iso = (t: Date | string | null) => (t === null ? null : new Date(t).toISOString());

/** One duplicate group as the CLI and the API show it: absolute paths, the keeper first. */
export function groupView(g: GroupRow) {
  return {
    id: g.id,
    kind: g.kind,
    keeper: g.keeper_path,
    keeper_asset_id: g.keeper_asset_id,
    reason: g.reason,
    review_status: g.review_status,
    version: g.version,
    bytes_reclaimable: g.bytes_reclaimable,
    max_distance: g.max_distance,
    taken_at: iso(g.keeper_taken_at),
    members: g.members.map((m) => ({
      asset_id: m.asset_id,
      path: m.path,
      distance: m.distance,
      similarity: m.similarity,
      orientation: m.orientation === null ? null : (ORIENTATIONS[m.orientation] ?? null),
      verified: m.verified,
      decision: m.decision,
      quality_score: m.quality_score,
      width: m.width,
      height: m.height,
      size: Number(m.size),
      status: m.status,
      file_type: m.file_type,
      ext: m.ext,
      taken_at: iso(m.taken_at),
      make: m.make,
      model: m.model,
    })),
    updated_at: g.updated_at,
  };
}
