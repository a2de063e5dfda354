import type { StoredAction } from '../db/organize.js';
import type { OrganizePlan } from '../model/organize.js';

/** A plan as the CLI's --json and the API show it. */
export function planView(p: OrganizePlan, catalogName: string) {
  return {
    id: p.id,
    catalog: { id: p.catalog_id, name: catalogName },
    dest: p.dest,
    mode: p.mode,
    template: p.template,
    duplicates: p.duplicates,
    min_confidence: p.min_confidence,
    status: p.status,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  };
}

export function actionView(a: StoredAction) {
  return {
    seq: a.seq,
    asset_id: a.asset_id,
    source: a.source_path,
    target: a.target_path,
    kind: a.kind,
    unit: a.unit,
    role: a.role,
    size: a.size,
    state: a.state,
    rollback_state: a.rollback_state,
    note: a.note,
    error: a.error,
    error_code: a.error_code,
    warning: a.warning,
  };
}

export type PlanView = ReturnType<typeof planView>;
export type ActionView = ReturnType<typeof actionView>;
