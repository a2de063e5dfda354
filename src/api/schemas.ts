import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { JOB_ERROR_CODES, JOB_STATUSES, JOB_TYPES } from '../model/job.js';
import { ASSET_STATUSES } from '../model/asset.js';
import { FILE_ERROR_CODES } from '../model/file-errors.js';
import { GROUP_SORTS, SORT_DIRECTIONS } from '../model/duplicates.js';
import {
  ACTION_KINDS,
  ACTION_STATES,
  DEFAULT_MIN_CONFIDENCE,
  DEFAULT_TEMPLATE,
  DUPLICATE_POLICIES,
  ORGANIZE_ERROR_CODES,
  ORGANIZE_MODES,
  PLAN_STATUSES,
  ROLLBACK_STATES,
} from '../model/organize.js';

/**
 * The API's boundary types, defined once: they validate requests, type the handlers (Static<>)
 * and are the components of /api/openapi.json.
 */
const strict = { additionalProperties: false } as const;

export const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', $id: 'Uuid' });
export const AbsolutePath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^/', description: 'an absolute path on the worker hosts' });
const Timestamp = Type.String({ description: 'ISO 8601' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'every error response' },
);

export const CatalogCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    source_directories: Type.Array(AbsolutePath, { maxItems: 100 }),
    organized_directory: Type.Optional(Nullable(AbsolutePath)),
    settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { ...strict, $id: 'CatalogCreate' },
);
export type CatalogCreate = Static<typeof CatalogCreate>;

export const CatalogPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    source_directories: Type.Optional(Type.Array(AbsolutePath, { maxItems: 100 })),
    organized_directory: Type.Optional(Nullable(AbsolutePath)),
    settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { ...strict, minProperties: 1, $id: 'CatalogPatch' },
);
export type CatalogPatch = Static<typeof CatalogPatch>;

export const Catalog = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    source_directories: Type.Array(Type.String()),
    organized_directory: Nullable(Type.String()),
    settings: Type.Record(Type.String(), Type.Unknown()),
    created_at: Timestamp,
    updated_at: Timestamp,
    asset_counts: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'assets by status (GET of one catalog)' })),
  },
  { $id: 'Catalog' },
);

export const ScanRequest = Type.Object(
  {
    catalog_id: Uuid,
    directories: Type.Optional(Type.Array(AbsolutePath, { maxItems: 100, description: 'inside the catalog’s source directories; default: all of them' })),
    shard_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'files per shard; default: the server’s --shard-size (500)' })),
  },
  { ...strict, $id: 'ScanRequest' },
);
export type ScanRequest = Static<typeof ScanRequest>;

export const Progress = Type.Object(
  {
    done: Type.Integer(),
    total: Type.Integer(),
    failed: Type.Integer(),
    rate: Type.Number({ description: 'files per second' }),
    eta_s: Nullable(Type.Number()),
    stage: Type.String(),
    bytes_done: Type.Optional(Type.Integer({ description: 'organize: bytes written or moved so far' })),
    bytes_total: Type.Optional(Type.Integer()),
  },
  { $id: 'Progress' },
);

export const Job = Type.Object(
  {
    id: Type.String(),
    catalog_id: Nullable(Type.String()),
    type: Type.String(),
    status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
    params: Type.Record(Type.String(), Type.Unknown()),
    progress: Progress,
    result: Nullable(Type.Record(Type.String(), Type.Unknown())),
    error: Nullable(Type.String()),
    error_code: Nullable(Type.Union(JOB_ERROR_CODES.map((s) => Type.Literal(s)), { description: 'why it ended without completing, for programs: interrupted, cancelled, failed_shards, database_unavailable, lease_lost, failed' })),
    created_at: Nullable(Timestamp),
    started_at: Nullable(Timestamp),
    finished_at: Nullable(Timestamp),
  },
  { $id: 'Job' },
);

export const JobListQuery = Type.Object(
  {
    catalog_id: Type.Optional(Uuid),
    status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
    type: Type.Optional(Type.Union(JOB_TYPES.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    before: Type.Optional(Uuid),
  },
  strict,
);
export type JobListQuery = Static<typeof JobListQuery>;

export const AssetListQuery = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal('image'), Type.Literal('raw'), Type.Literal('video')])),
    from: Type.Optional(Type.String({ description: 'capture time from (ISO 8601 date or time)' })),
    to: Type.Optional(Type.String({ description: 'capture time to (ISO 8601 date or time)' })),
    camera: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'substring of make and model' })),
    has_error: Type.Optional(Type.Boolean()),
    status: Type.Optional(Type.Union(ASSET_STATUSES.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'next_cursor of the previous page' })),
  },
  strict,
);
export type AssetListQuery = Static<typeof AssetListQuery>;

export const Asset = Type.Object(
  {
    id: Type.Integer(),
    path: Type.String(),
    size: Type.Integer(),
    sha256: Nullable(Type.String()),
    file_type: Type.String(),
    width: Nullable(Type.Integer()),
    height: Nullable(Type.Integer()),
    taken_at: Nullable(Type.String()),
    status: Type.Union(ASSET_STATUSES.map((s) => Type.Literal(s))),
    error: Nullable(Type.String()),
    error_code: Nullable(Type.String({ description: `why the file failed or is damaged, for programs: ${FILE_ERROR_CODES.join(', ')}` })),
    metadata_error: Nullable(Type.String({ description: 'why ExifTool could not read the metadata (the asset may still be ok)' })),
    thumbnail_url: Nullable(Type.String()),
    original_url: Type.String({ description: 'the file itself (Range requests; ?token= where no header can be sent)' }),
  },
  { $id: 'Asset', additionalProperties: true, description: 'the main fields; every field of `lumina assets list --json` is present' },
);

export const AssetPage = Type.Object({ items: Type.Array(Type.Ref(Asset)), next_cursor: Nullable(Type.String()) }, { $id: 'AssetPage' });
export const JobPage = Type.Object({ items: Type.Array(Type.Ref(Job)), next_before: Nullable(Type.String()) }, { $id: 'JobPage' });

export const JobFailuresQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'next_cursor of the previous page' })),
  },
  strict,
);
export type JobFailuresQuery = Static<typeof JobFailuresQuery>;

export const JobFailure = Type.Object(
  {
    asset_id: Nullable(Type.Integer({ description: 'null for a file or folder a scan could not reach' })),
    path: Type.String(),
    code: Type.String({ description: 'why, for programs' }),
    message: Type.String(),
  },
  { $id: 'JobFailure' },
);

export const JobFailurePage = Type.Object(
  { items: Type.Array(Type.Ref(JobFailure)), next_cursor: Nullable(Type.String()) },
  { $id: 'JobFailurePage', description: 'scan: files that failed (and, on the first page, what discovery could not read); organize: failed actions' },
);

export const DuplicatesRequest = Type.Object(
  {
    catalog_id: Uuid,
    threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 32, description: 'largest pHash distance (of 64 bits) for near duplicates; default 10' })),
    turned_threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 32, description: 'largest distance for rotated or mirrored copies; default 3 (never above threshold)' })),
    similarity: Type.Optional(Type.Number({ minimum: -1, maximum: 1, description: 'smallest CNN cosine similarity confirming a borderline pair; default 0.7' })),
    embeddings: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], { description: 'default auto' })),
  },
  { ...strict, $id: 'DuplicatesRequest' },
);
export type DuplicatesRequest = Static<typeof DuplicatesRequest>;

const GROUP_KINDS = ['exact', 'near', 'burst', 'format_pair'] as const;
const REVIEW_STATUSES = ['open', 'resolved', 'dismissed'] as const;

export const DuplicateMember = Type.Object(
  {
    asset_id: Type.Integer(),
    path: Type.String(),
    distance: Nullable(Type.Integer()),
    similarity: Nullable(Type.Number()),
    orientation: Nullable(Type.String({ description: 'how this copy is turned relative to the keeper' })),
    verified: Type.Boolean({ description: 'local features aligned this copy with the keeper (a crop, rotation or overlay beyond the hash distance)' }),
    decision: Nullable(Type.Union([Type.Literal('keep'), Type.Literal('remove')])),
    quality_score: Nullable(Type.Number()),
    width: Nullable(Type.Integer()),
    height: Nullable(Type.Integer()),
    size: Type.Integer(),
    status: Type.Union(ASSET_STATUSES.map((s) => Type.Literal(s)), { description: 'a damaged copy is never the keeper while an intact one exists' }),
    file_type: Type.String({ description: 'image, raw or video' }),
    ext: Type.String({ description: 'lower case, without the dot' }),
    taken_at: Nullable(Timestamp),
    make: Nullable(Type.String()),
    model: Nullable(Type.String()),
    thumbnail_url: Nullable(Type.String()),
    original_url: Type.String({ description: 'the file itself (Range requests; ?token= where no header can be sent)' }),
  },
  { $id: 'DuplicateMember' },
);

export const DuplicateGroup = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Union(GROUP_KINDS.map((k) => Type.Literal(k))),
    keeper: Nullable(Type.String()),
    keeper_asset_id: Nullable(Type.Integer()),
    reason: Nullable(Type.String()),
    review_status: Type.Union(REVIEW_STATUSES.map((k) => Type.Literal(k))),
    version: Type.Integer({ description: 'goes up with every change to the group; send it back as if_version' }),
    bytes_reclaimable: Type.Integer({ description: 'sum of the sizes of the members other than the keeper' }),
    max_distance: Nullable(Type.Integer({ description: 'the largest distance of a member from the keeper' })),
    taken_at: Nullable(Timestamp),
    members: Type.Array(Type.Ref(DuplicateMember)),
    updated_at: Timestamp,
  },
  { $id: 'DuplicateGroup' },
);

export const DuplicatePage = Type.Object(
  {
    items: Type.Array(Type.Ref(DuplicateGroup)),
    next_cursor: Nullable(Type.String({ description: 'sort=id: the cursor of the next page; null for other orders and on the last page' })),
    next_offset: Nullable(Type.Integer({ description: 'the offset of the next page; null on the last page' })),
    total: Type.Integer({ description: 'groups matching kind and status, over all pages' }),
  },
  { $id: 'DuplicatePage' },
);

export const DuplicateListQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union(GROUP_KINDS.map((k) => Type.Literal(k)))),
    status: Type.Optional(Type.Union(REVIEW_STATUSES.map((k) => Type.Literal(k)))),
    sort: Type.Optional(Type.Union(GROUP_SORTS.map((k) => Type.Literal(k)), {
      description: 'id (default); bytes: bytes_reclaimable; kind; distance: max_distance (none first); date: the keeper’s taken_at (undated last)',
    })),
    dir: Type.Optional(Type.Union(SORT_DIRECTIONS.map((k) => Type.Literal(k)), { description: 'default desc for bytes and date, asc otherwise' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'next_cursor of the previous page (sort=id only)' })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'groups to skip: next_offset of the previous page' })),
  },
  strict,
);
export type DuplicateListQuery = Static<typeof DuplicateListQuery>;

export const ResolveRequest = Type.Object(
  {
    status: Type.Union([Type.Literal('resolved'), Type.Literal('dismissed'), Type.Literal('open')], {
      description: 'resolved: keep `keep` (default the keeper), mark the others for removal; dismissed: not duplicates; open: undo',
    }),
    keep: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000, description: 'asset ids of members to keep' })),
    if_version: Type.Optional(Type.Integer({ minimum: 0, description: 'the version the decision was made on: 409 stale_group, and nothing changes, if the group has changed since' })),
  },
  { ...strict, $id: 'ResolveRequest' },
);
export type ResolveRequest = Static<typeof ResolveRequest>;

export const BulkResolveRequest = Type.Object(
  {
    kind: Type.Optional(Type.Union(GROUP_KINDS.map((k) => Type.Literal(k)), { description: 'default: every kind' })),
    dry_run: Type.Boolean({ description: 'true: count what would be decided, deciding nothing' }),
    group_ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 100_000, description: 'only these groups (the group_ids of a dry run)' })),
  },
  { ...strict, $id: 'BulkResolveRequest' },
);
export type BulkResolveRequest = Static<typeof BulkResolveRequest>;

export const BulkResolvePreview = Type.Object(
  {
    groups: Type.Integer({ description: 'open groups with a keeper that would be resolved' }),
    bytes_reclaimable: Type.Integer(),
    group_ids: Type.Array(Type.Integer()),
  },
  { $id: 'BulkResolvePreview', description: 'dry_run: true' },
);

export const BulkResolveResult = Type.Object(
  {
    resolved: Type.Integer(),
    bytes_reclaimable: Type.Integer(),
    failed: Type.Array(Type.Object({
      group_id: Type.Integer(),
      code: Type.String({ description: 'stale_group (gone or no longer open), no_keeper, kind_mismatch' }),
      message: Type.String(),
    })),
  },
  { $id: 'BulkResolveResult', description: 'dry_run: false' },
);

export const GroupParams = Type.Object({ id: Uuid, group_id: Type.String({ pattern: '^[0-9]{1,18}$' }) }, strict);

export const IdParams = Type.Object({ id: Uuid }, strict);
export const AssetParams = Type.Object({ id: Uuid, asset_id: Type.String({ pattern: '^[0-9]{1,18}$' }) }, strict);

export const PlanRequest = Type.Object(
  {
    dest: AbsolutePath,
    mode: Type.Optional(Type.Union(ORGANIZE_MODES.map((m) => Type.Literal(m)), { default: 'copy' })),
    template: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, default: DEFAULT_TEMPLATE })),
    duplicates: Type.Optional(Type.Union(DUPLICATE_POLICIES.map((m) => Type.Literal(m)), { default: 'quarantine' })),
    min_confidence: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: DEFAULT_MIN_CONFIDENCE })),
  },
  { ...strict, $id: 'PlanRequest' },
);
export type PlanRequest = Static<typeof PlanRequest>;

export const OrganizePlan = Type.Object(
  {
    id: Type.String(),
    catalog: Type.Object({ id: Type.String(), name: Type.String() }),
    dest: Type.String(),
    mode: Type.Union(ORGANIZE_MODES.map((m) => Type.Literal(m))),
    template: Type.String(),
    duplicates: Type.Union(DUPLICATE_POLICIES.map((m) => Type.Literal(m))),
    min_confidence: Type.Integer(),
    status: Type.Union(PLAN_STATUSES.map((m) => Type.Literal(m))),
    summary: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean()]), { description: 'files, bytes, placed, duplicates, undated, conflicts, sidecars, skipped, bytes_to_write, case_sensitive' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'OrganizePlan' },
);

export const OrganizeAction = Type.Object(
  {
    seq: Type.Integer(),
    asset_id: Nullable(Type.Integer()),
    source: Type.String(),
    target: Nullable(Type.String()),
    kind: Type.Union(ACTION_KINDS.map((m) => Type.Literal(m))),
    unit: Type.Integer({ description: 'the seq of the primary of the files that travel together' }),
    role: Type.String({ description: 'primary, pair (RAW+JPEG), live (a Live Photo video), sidecar' }),
    size: Type.Integer(),
    state: Type.Union(ACTION_STATES.map((m) => Type.Literal(m))),
    rollback_state: Nullable(Type.Union(ROLLBACK_STATES.map((m) => Type.Literal(m)))),
    note: Nullable(Type.String()),
    error: Nullable(Type.String()),
    error_code: Nullable(Type.String({ description: ORGANIZE_ERROR_CODES.join(', ') })),
    warning: Nullable(Type.String()),
  },
  { $id: 'OrganizeAction' },
);

export const OrganizePlanPage = Type.Object({ items: Type.Array(Type.Ref(OrganizePlan)) }, { $id: 'OrganizePlanPage' });
export const OrganizePlanDetail = Type.Object(
  { plan: Type.Ref(OrganizePlan), actions: Type.Array(Type.Ref(OrganizeAction)), next_cursor: Nullable(Type.String()) },
  { $id: 'OrganizePlanDetail' },
);
export const PlanActionsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'next_cursor of the previous page (a seq)' })),
  },
  strict,
);
export type PlanActionsQuery = Static<typeof PlanActionsQuery>;
export const OrganizeJobRequest = Type.Object({ catalog_id: Uuid, plan_id: Uuid }, { ...strict, $id: 'OrganizeJobRequest' });
export type OrganizeJobRequest = Static<typeof OrganizeJobRequest>;

export const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('cluster')]),
    database: Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }),
    redis: Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()), configured: Type.Boolean() }),
  },
  { $id: 'Health' },
);

export const Worker = Type.Object(
  {
    id: Type.String(),
    host: Type.String(),
    pid: Type.Integer(),
    cores: Type.Integer(),
    threads: Type.Integer(),
    concurrency: Type.Integer(),
    queues: Type.Array(Type.String()),
    active_shards: Type.Integer(),
    files_done: Type.Integer(),
    files_per_s: Type.Number(),
    started_at: Timestamp,
    last_seen: Timestamp,
  },
  { $id: 'Worker' },
);

/** Named schemas that appear under components/schemas of the OpenAPI document. */
export const COMPONENTS = [
  ErrorBody, CatalogCreate, CatalogPatch, Catalog, ScanRequest, Progress, Job, JobPage, Asset, AssetPage, Health, Worker, Uuid,
  DuplicatesRequest, DuplicateMember, DuplicateGroup, DuplicatePage, ResolveRequest, BulkResolveRequest, BulkResolvePreview, BulkResolveResult,
  JobFailure, JobFailurePage,
  PlanRequest, OrganizePlan, OrganizeAction, OrganizePlanPage, OrganizePlanDetail, OrganizeJobRequest,
];
