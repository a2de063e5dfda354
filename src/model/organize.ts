/**
 * Organize as every layer sees it: a plan (where each file of a catalog goes under DEST) and its
 * actions, each a journal row whose state only moves forward, one committed step at a time.
 */

export const ORGANIZE_MODES = ['copy', 'move'] as const;
export type OrganizeMode = (typeof ORGANIZE_MODES)[number];

/** What becomes of the copies duplicate detection would not keep. */
export const DUPLICATE_POLICIES = ['skip', 'quarantine', 'include'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

export const PLAN_STATUSES = ['planned', 'applying', 'applied', 'failed', 'rolling_back', 'rolled_back'] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];

/** place: into the library; quarantine: to DEST/_duplicates; skip: left where it is. */
export const ACTION_KINDS = ['place', 'quarantine', 'skip'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/**
 * An action's journal, in order. Each state is committed before the next step starts, so a run
 * that was killed knows exactly what is on disk:
 * - writing: a partial file may exist in the target folder (removed and written again);
 * - written: the partial file is whole and synced;
 * - verified: its SHA-256 matches the catalog and the source as read;
 * - committed: linked into place without overwriting, the folder synced, the catalog's path updated (move);
 * - source_removed: the source is gone (move);
 * - done.
 * failed: the action stopped with a reason (error, error_code) and its source untouched.
 */
export const ACTION_STATES = ['planned', 'writing', 'written', 'verified', 'committed', 'source_removed', 'done', 'failed'] as const;
export type ActionState = (typeof ACTION_STATES)[number];

/**
 * Rollback's own journal, per action: returning (the file is on its way back: a partial copy, or
 * a link, may exist at the source), returned (back, the catalog points at it again, the target
 * removed), conflict (something else is now at the source, or the target no longer holds what
 * was written: kept as it is and reported).
 */
export const ROLLBACK_STATES = ['returning', 'returned', 'conflict'] as const;
export type RollbackState = (typeof ROLLBACK_STATES)[number];

/** Why an action failed, for programs to branch on. */
export const ORGANIZE_ERROR_CODES = ['source_changed', 'source_missing', 'target_exists', 'verify_failed', 'unreadable', 'write_failed', 'no_checksum'] as const;
export type OrganizeErrorCode = (typeof ORGANIZE_ERROR_CODES)[number];

export interface PlanOptions {
  dest: string;
  mode: OrganizeMode;
  template: string;
  duplicates: DuplicatePolicy;
  minConfidence: number;
}

export const DEFAULT_TEMPLATE = '{year}/{year}-{month}-{day}/{filename}';
export const DEFAULT_MIN_CONFIDENCE = 50;

export interface PlanSummary {
  files: number;
  bytes: number;
  placed: number;
  duplicates: number;
  undated: number;
  /** Targets renamed with _1, _2, … because the name was taken (in the plan, or on disk). */
  conflicts: number;
  sidecars: number;
  skipped: number;
  /** Bytes to write on DEST: all of them for a copy, those crossing a file system for a move. */
  bytes_to_write: number;
  /** What the probe found: does DEST tell names apart by case? (Names are compared case-folded either way.) */
  case_sensitive: boolean;
}

export interface OrganizePlan {
  id: string;
  catalog_id: string;
  dest: string;
  mode: OrganizeMode;
  template: string;
  duplicates: DuplicatePolicy;
  min_confidence: number;
  status: PlanStatus;
  summary: PlanSummary;
  created_at: Date;
  updated_at: Date;
}

export interface OrganizeAction {
  id: number;
  plan_id: string;
  seq: number;
  asset_id: number | null;
  kind: ActionKind;
  /** The unit it travels with: the seq of the unit's primary. */
  unit: number;
  /** primary, sidecar, pair (RAW+JPEG), live (a Live Photo's video). */
  role: string;
  source_path: string;
  target_path: string | null;
  size: number;
  mtime: Date;
  sha256: Buffer | null;
  state: ActionState;
  rollback_state: RollbackState | null;
  /** Why a skip is a skip, or that a target was renamed. */
  note: string | null;
  error: string | null;
  error_code: string | null;
  warning: string | null;
}

/** Job params of organize and organize_rollback. */
export interface OrganizeJobParams {
  plan_id: string;
}
