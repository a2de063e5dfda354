/** Assets as every layer sees them: the statuses of a row of a catalog's assets table. */

/**
 * - ok: read whole.
 * - damaged: decoded, but the decoder reported corrupt data (part of the picture may be grey);
 *   its hashes are kept and it takes part in duplicate detection, never as keeper over an intact copy.
 * - error: could not be fully processed (assets.error and error_code say why).
 * - missing: no longer found where it was.
 */
export const ASSET_STATUSES = ['ok', 'damaged', 'error', 'missing'] as const;
export type AssetStatus = (typeof ASSET_STATUSES)[number];
/** What a scan writes for a file it processed (missing is set by the sweep after a scan). */
export type ProcessedStatus = Exclude<AssetStatus, 'missing'>;
/** Statuses whose pixels and hashes duplicate detection uses. */
export const DEDUPE_STATUSES = ['ok', 'damaged'] as const satisfies readonly AssetStatus[];
