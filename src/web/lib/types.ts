import type { Static } from '@sinclair/typebox';
import type {
  Asset as AssetSchema,
  BulkResolvePreview as BulkPreviewSchema,
  BulkResolveResult as BulkResultSchema,
  Catalog as CatalogSchema,
  DuplicateGroup as GroupSchema,
  DuplicateMember as MemberSchema,
  DuplicatePage as GroupPageSchema,
  Job as JobSchema,
  JobFailure as FailureSchema,
  OrganizeAction as ActionSchema,
  OrganizePlan as PlanSchema,
  Progress as ProgressSchema,
} from '../../api/schemas';

// The shapes the API answers with, derived from the schemas that validate and describe it
// (src/api/schemas.ts): the page never declares a field the server does not.

export type Catalog = Static<typeof CatalogSchema>;
export type Progress = Static<typeof ProgressSchema>;
export type Job = Static<typeof JobSchema>;
export type JobStatus = Job['status'];
/** An asset carries every field of `lumina assets list --json`; the schema names the main ones. */
export type Asset = Static<typeof AssetSchema> & {
  ext?: string;
  make?: string | null;
  model?: string | null;
  thumbnail_url: string | null;
  original_url?: string | null;
  exif?: Record<string, unknown> | null;
  [field: string]: unknown;
};
export type Member = Static<typeof MemberSchema>;
export type Group = Static<typeof GroupSchema>;
export type GroupKind = Group['kind'];
export type ReviewStatus = Group['review_status'];
export type GroupPage = Static<typeof GroupPageSchema>;
export type BulkPreview = Static<typeof BulkPreviewSchema>;
export type BulkResult = Static<typeof BulkResultSchema>;
export type Plan = Static<typeof PlanSchema>;
export type Action = Static<typeof ActionSchema>;
export type Failure = Static<typeof FailureSchema>;
