import {
  countMatchingGroups,
  getGroup,
  listGroups,
  openGroupKeepers,
  resolveGroup,
  resolveToKeepers,
  type BulkSkip,
  type GroupFilter,
  type GroupRow,
} from '../db/duplicates.js';
import type { Sql } from '../db/database.js';
import type { GroupKind } from '../dedupe/groups.js';
import type { Catalog } from '../model/catalog.js';
import { UserError } from '../util/errors.js';

export type ReviewStatus = 'open' | 'resolved' | 'dismissed';

export interface ReviewDecision {
  status: ReviewStatus;
  /** Copies to keep (resolved only), by asset id or path; the others are marked for removal. Default: the keeper. */
  keep?: (number | string)[];
  /** Who decided, for the audit log ('api', 'cli'). */
  actor: string;
  /** The version of the group the decision was made on: refused (stale_group) if it has changed since. */
  ifVersion?: number;
}

/** Bulk "keep the suggested keeper" over the open groups of a kind (or all kinds). */
export interface BulkKeepRequest {
  kind?: GroupKind;
  /** Count what would be decided, deciding nothing. */
  dryRun: boolean;
  /** Only these groups (the ids a preview listed); any no longer open is reported as stale_group. */
  groupIds?: number[];
  actor: string;
}

export interface BulkFailure {
  group_id: number;
  code: 'stale_group' | 'no_keeper' | 'kind_mismatch';
  message: string;
}

export type BulkKeepResult =
  | { groups: number; bytes_reclaimable: number; group_ids: number[] }
  | { resolved: number; bytes_reclaimable: number; failed: BulkFailure[] };

/** Groups decided per transaction in a bulk decision. */
const BULK_CHUNK = 1000;

function failure(s: BulkSkip, kind: GroupKind | undefined): BulkFailure {
  switch (s.why) {
    case 'gone':
      return { group_id: s.id, code: 'stale_group', message: `group ${s.id} no longer exists (duplicate detection ran again since it was loaded)` };
    case 'not_open':
      return { group_id: s.id, code: 'stale_group', message: `group ${s.id} is no longer open: it was decided since it was loaded` };
    case 'kind':
      return { group_id: s.id, code: 'kind_mismatch', message: `group ${s.id} is not a ${kind} group` };
    case 'no_keeper':
      return { group_id: s.id, code: 'no_keeper', message: `group ${s.id} has no suggested keeper: decide it one by one` };
  }
}

/** A catalog's duplicate groups and the review decisions on them (recorded, reversible, never deleting). */
export class DuplicateService {
  constructor(private readonly sql: Sql) {}

  page(catalog: Catalog, filter: GroupFilter): Promise<GroupRow[]> {
    return listGroups(this.sql, catalog.schema_name, filter);
  }

  /** How many groups match a kind and status, whatever page is read. */
  count(catalog: Catalog, filter: Pick<GroupFilter, 'kind' | 'status'>): Promise<number> {
    return countMatchingGroups(this.sql, catalog.schema_name, filter);
  }

  /** Every group in id order (the CLI prints them all), a thousand at a time. */
  async *pages(catalog: Catalog, status?: ReviewStatus): AsyncGenerator<GroupRow[]> {
    for (let after = 0; ; ) {
      const page = await this.page(catalog, { afterId: after, limit: 1000, status });
      if (page.length) yield page;
      if (page.length < 1000) return;
      after = page.at(-1)!.id;
    }
  }

  async get(catalog: Catalog, groupId: number): Promise<GroupRow> {
    const g = await getGroup(this.sql, catalog.schema_name, groupId);
    if (!g) throw new UserError(`catalog "${catalog.name}" has no duplicate group ${groupId}`, 'not_found');
    return g;
  }

  /**
   * Records a decision; the copies to keep must be members of the group, and only a resolved group
   * keeps copies. With `ifVersion`, a group changed since (by a decision or by detection) is left
   * as it is and the decision refused.
   */
  async resolve(catalog: Catalog, groupId: number, decision: ReviewDecision): Promise<GroupRow> {
    const g = await this.get(catalog, groupId);
    // Checked before the members are: the copies named may belong to the group as it was.
    if (decision.ifVersion !== undefined && g.version !== decision.ifVersion) throw this.#stale(groupId, g.version, decision.ifVersion);
    if (decision.keep !== undefined && decision.status !== 'resolved') throw new UserError('keep: only a resolved group keeps copies', 'invalid', 'validation_failed');
    const keep = decision.keep?.map((ref) => {
      const m = g.members.find((x) => x.asset_id === ref || x.path === ref || String(x.asset_id) === ref);
      if (!m) throw new UserError(`keep: ${typeof ref === 'number' ? `asset ${ref}` : ref} is not a member of group ${groupId}`, 'invalid', 'validation_failed');
      return m.asset_id;
    });
    const after = await resolveGroup(this.sql, catalog.schema_name, groupId, { status: decision.status, keep, actor: decision.actor, ifVersion: decision.ifVersion });
    if (after.outcome === 'missing') throw new UserError(`catalog "${catalog.name}" has no duplicate group ${groupId}`, 'not_found');
    if (after.outcome === 'stale') throw this.#stale(groupId, after.version, decision.ifVersion!);
    return after.group;
  }

  /**
   * Keeps the suggested keeper of every open group of a kind (or of all kinds), marking the other
   * copies for removal, as one resolve each would (audit log included). Groups without a keeper
   * are never decided this way. A dry run counts what would be decided.
   */
  async keepSuggested(catalog: Catalog, request: BulkKeepRequest): Promise<BulkKeepResult> {
    const schema = catalog.schema_name;
    if (request.dryRun) {
      let open = await openGroupKeepers(this.sql, schema, request.kind);
      if (request.groupIds) {
        const wanted = new Set(request.groupIds);
        open = open.filter((g) => wanted.has(g.id));
      }
      const decidable = open.filter((g) => g.keeper_asset_id !== null);
      return { groups: decidable.length, bytes_reclaimable: decidable.reduce((n, g) => n + g.bytes_reclaimable, 0), group_ids: decidable.map((g) => g.id) };
    }
    const ids = request.groupIds ? [...new Set(request.groupIds)] : (await openGroupKeepers(this.sql, schema, request.kind)).map((g) => g.id);
    let resolved = 0;
    let bytes = 0;
    const failed: BulkFailure[] = [];
    for (let i = 0; i < ids.length; i += BULK_CHUNK) {
      const part = await resolveToKeepers(this.sql, schema, ids.slice(i, i + BULK_CHUNK), { kind: request.kind, actor: request.actor });
      resolved += part.resolved.length;
      bytes += part.resolved.reduce((n, g) => n + g.bytes_reclaimable, 0);
      failed.push(...part.skipped.map((s) => failure(s, request.kind)));
    }
    return { resolved, bytes_reclaimable: bytes, failed };
  }

  #stale(groupId: number, current: number, given: number): UserError {
    return new UserError(
      `group ${groupId} changed since it was loaded (version ${given}; it is now at version ${current}): load it again and decide on what it holds now`,
      'conflict',
      'stale_group',
    );
  }
}
