import type { FileError } from '../model/file-errors.js';
import type { FileType } from '../pipeline/file-types.js';

/** What the shard runner sends a pool thread for one file. The numbers come back through SharedResults. */
export interface FileTask {
  results: SharedArrayBuffer;
  slot: number;
  path: string;
  size: number;
  type: FileType;
  /** Decode these bytes instead of the file (a RAW's embedded preview, a video frame). */
  pixels?: Uint8Array;
  /** Whether the file's own bytes are an image libvips should try. */
  decodeFile: boolean;
  thumbnailDir: string;
  maxPixels: number;
}

export interface FileTaskResult {
  /** Why the content could not be read (the asset is an error). */
  readError?: FileError;
  /** Why the pixels could not be analysed (metadata and hash are still kept). */
  pixelError?: FileError;
  /** The decoder's complaint about corrupt data it decoded around: the asset is damaged. */
  damage?: string;
  thumbnailKey?: string;
}

/** Folder under a catalog's thumbnails for files still being written; cleared at the start of a run. */
export const PARTIAL_DIR = '.partial';
