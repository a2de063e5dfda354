import { getGroup, listGroups, resolveGroup, type GroupFilter, type GroupRow } from '../db/duplicates.js';
import type { Sql } from '../db/database.js';
import type { Catalog } from '../model/catalog.js';
import { UserError } from '../util/errors.js';

export type ReviewStatus = 'open' | 'resolved' | 'dismissed';

export interface ReviewDecision {
  status: ReviewStatus;
  /** Copies to keep (resolved only), by asset id or path; the others are marked for removal. Default: the keeper. */
  keep?: (number | string)[];
  /** Who decided, for the audit log ('api', 'cli'). */
  actor: string;
}

/** A catalog's duplicate groups and the review decisions on them (recorded, reversible, never deleting). */
export class DuplicateService {
  constructor(private readonly sql: Sql) {}

  page(catalog: Catalog, filter: GroupFilter): Promise<GroupRow[]> {
    return listGroups(this.sql, catalog.schema_name, filter);
  }

  /** Every group in id order (the CLI prints them all), read a thousand at a time. */
  async all(catalog: Catalog, status?: ReviewStatus): Promise<GroupRow[]> {
    const out: GroupRow[] = [];
    for (let after = 0; ; ) {
      const page = await this.page(catalog, { afterId: after, limit: 1000, status });
      out.push(...page);
      if (page.length < 1000) return out;
      after = page.at(-1)!.id;
    }
  }

  async get(catalog: Catalog, groupId: number): Promise<GroupRow> {
    const g = await getGroup(this.sql, catalog.schema_name, groupId);
    if (!g) throw new UserError(`catalog "${catalog.name}" has no duplicate group ${groupId}`, 'not_found');
    return g;
  }

  /** Records a decision; the copies to keep must be members of the group, and only a resolved group keeps copies. */
  async resolve(catalog: Catalog, groupId: number, decision: ReviewDecision): Promise<GroupRow> {
    const g = await this.get(catalog, groupId);
    if (decision.keep !== undefined && decision.status !== 'resolved') throw new UserError('keep: only a resolved group keeps copies', 'invalid', 'validation_failed');
    const keep = decision.keep?.map((ref) => {
      const m = g.members.find((x) => x.asset_id === ref || x.path === ref || String(x.asset_id) === ref);
      if (!m) throw new UserError(`keep: ${typeof ref === 'number' ? `asset ${ref}` : ref} is not a member of group ${groupId}`, 'invalid', 'validation_failed');
      return m.asset_id;
    });
    const after = await resolveGroup(this.sql, catalog.schema_name, groupId, { status: decision.status, keep, actor: decision.actor });
    if (!after) throw new UserError(`catalog "${catalog.name}" has no duplicate group ${groupId}`, 'not_found');
    return after;
  }
}
