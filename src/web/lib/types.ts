/** The shapes the API answers with (see /api/openapi.json): only the fields the page reads. */

export interface Catalog {
  id: string;
  name: string;
  source_directories: string[];
  organized_directory: string | null;
  created_at: string;
  asset_counts?: Record<string, number>;
}

export interface Progress {
  done: number;
  total: number;
  failed: number;
  rate: number;
  eta_s: number | null;
  stage: string;
  bytes_done?: number;
  bytes_total?: number;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface Job {
  id: string;
  catalog_id: string | null;
  type: string;
  status: JobStatus;
  params: Record<string, unknown>;
  progress: Progress;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface Asset {
  id: number;
  path: string;
  size: number;
  file_type: string;
  ext?: string;
  width: number | null;
  height: number | null;
  taken_at: string | null;
  status: string;
  error: string | null;
  error_code: string | null;
  metadata_error: string | null;
  make?: string | null;
  model?: string | null;
  thumbnail_url: string | null;
  original_url?: string | null;
  exif?: Record<string, unknown> | null;
  [field: string]: unknown;
}

export interface Member {
  asset_id: number;
  path: string;
  distance: number | null;
  similarity: number | null;
  orientation: string | null;
  decision: 'keep' | 'remove' | null;
  quality_score: number | null;
  width: number | null;
  height: number | null;
  size: number;
  status: string;
  thumbnail_url: string | null;
  original_url?: string | null;
  file_type?: string;
  ext?: string;
  taken_at?: string | null;
  make?: string | null;
  model?: string | null;
}

export type GroupKind = 'exact' | 'near' | 'burst' | 'format_pair';
export type ReviewStatus = 'open' | 'resolved' | 'dismissed';

export interface Group {
  id: number;
  kind: GroupKind;
  keeper: string | null;
  keeper_asset_id: number | null;
  reason: string | null;
  review_status: ReviewStatus;
  members: Member[];
  updated_at: string;
  version?: number;
  bytes_reclaimable?: number;
  max_distance?: number | null;
  taken_at?: string | null;
}

export interface GroupPage {
  items: Group[];
  next_cursor: string | null;
  next_offset?: number | null;
  total?: number;
}

export interface Plan {
  id: string;
  dest: string;
  mode: string;
  template: string;
  duplicates: string;
  min_confidence: number;
  status: string;
  summary: Record<string, number | boolean>;
  created_at: string;
  updated_at: string;
}

export interface Failure {
  asset_id: number | null;
  path: string;
  code: string;
  message: string;
}
