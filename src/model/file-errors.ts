/** Why a file could not be fully processed, as a code stored beside its message (assets.error_code). */
export const FILE_ERROR_CODES = [
  /** The bytes could not be read (permissions, a vanished share). */
  'unreadable',
  /** A FIFO, device or socket where a file was found (swapped in since discovery). */
  'not_regular',
  /** Grew far beyond the size discovery saw (being written, or swapped). */
  'changed',
  /** A read that stopped making progress (a hung share). */
  'read_timeout',
  'empty',
  /** Not in any format the decoder reads: corrupt or mislabelled. */
  'undecodable',
  'truncated',
  /** Over the pixel limit (a decompression-bomb guard). */
  'too_large',
  'no_dimensions',
  /** A RAW or HEIC file with no embedded preview to decode. */
  'no_preview',
  /** A decoder this machine lacks (ffmpeg, djxl); retried once it may be installed. */
  'decoder_missing',
  /** A container libvips reads whose compression it cannot decode (HEVC inside HEIF). */
  'unsupported_codec',
  'video_unreadable',
  'mislabelled',
  'frame_failed',
  /** Decoded around corrupt data (the asset's status is damaged; its hashes are kept). */
  'damaged',
] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

export interface FileError {
  code: FileErrorCode;
  message: string;
}

/** Errors the surroundings explain, which a later run may not meet again. */
const RETRYABLE = new Set<string>(['unreadable', 'decoder_missing', 'changed', 'read_timeout']);

/**
 * Whether an unchanged file that failed is processed again on the next run. The content's own
 * errors stay until the file changes; rows written before codes existed are retried once.
 */
export function isRetryable(code: string | null, error: string | null): boolean {
  if (error === null) return true;
  return code === null || RETRYABLE.has(code);
}
