import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { getAsset, listAssets, queryAssets, type AssetFilter, type AssetQuery, type AssetRow } from '../db/assets.js';
import type { Sql } from '../db/database.js';
import { thumbnailDir, type Catalog } from '../model/catalog.js';
import { mediaTypeOf } from '../model/media-types.js';
import { isInsideAny, realLocation } from '../pipeline/real-paths.js';
import { UserError } from '../util/errors.js';
import { assetView, type AssetView } from '../views/asset.js';

/** An asset's file, opened for reading: the caller reads it in pieces and closes it. */
export interface OriginalFile {
  handle: FileHandle;
  size: number;
  mtime: Date;
  mediaType: string;
  /** The file's name, for a download. */
  name: string;
}

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

/** A catalog's assets as callers see them: pages, one asset, its thumbnail, its file. */
export class AssetService {
  constructor(
    private readonly sql: Sql,
    private readonly dataDir: string,
  ) {}

  /** Views carry the thumbnail's absolute path (the CLI shows it; the API turns it into a URL). */
  view(catalog: Catalog, row: AssetRow): AssetView {
    return assetView(row, thumbnailDir(this.dataDir, catalog.id));
  }

  /** In path order, by offset (the CLI's listing). */
  async list(catalog: Catalog, page: AssetQuery): Promise<AssetView[]> {
    return (await listAssets(this.sql, catalog.schema_name, page)).map((r) => this.view(catalog, r));
  }

  /** One keyset page in id order, filtered (the API's listing). */
  query(catalog: Catalog, filter: AssetFilter): Promise<AssetRow[]> {
    return queryAssets(this.sql, catalog.schema_name, filter);
  }

  async get(catalog: Catalog, assetId: number): Promise<AssetRow> {
    const row = await getAsset(this.sql, catalog.schema_name, assetId);
    if (!row) throw new UserError(`no asset ${assetId} in catalog ${catalog.id}`, 'not_found');
    return row;
  }

  /**
   * The 256 px thumbnail (JPEG, or WebP for a picture with alpha and from earlier versions) and
   * its media type; the file is confined to the catalog's thumbnail folder.
   */
  async thumbnail(catalog: Catalog, assetId: number): Promise<{ bytes: Buffer; type: string }> {
    const row = await getAsset(this.sql, catalog.schema_name, assetId);
    if (!row?.thumbnail_key) throw new UserError(`asset ${assetId} has no thumbnail`, 'not_found');
    const dir = thumbnailDir(this.dataDir, catalog.id);
    const file = path.resolve(dir, row.thumbnail_key);
    if (!file.startsWith(dir + path.sep)) throw new UserError('no thumbnail', 'not_found');
    const bytes = await fs.readFile(file).catch(() => null);
    if (!bytes) throw new UserError(`the thumbnail of asset ${assetId} is gone (scan again to rebuild it)`, 'not_found');
    return { bytes, type: mediaTypeOf(path.extname(file).slice(1)) };
  }

  /**
   * The asset's file, opened: where its path really leads now must still be inside the catalog's
   * source directories (a link swapped in since the scan is refused, as a scan refuses it), and a
   * regular file. The final open follows no link, so nothing can be swapped in between.
   */
  async original(catalog: Catalog, assetId: number): Promise<OriginalFile> {
    const row = await this.get(catalog, assetId);
    const missing = () => new UserError(`the file of asset ${assetId} is missing: ${row.path} (scan again to record it)`, 'not_found', 'file_missing');
    let real: string;
    try {
      real = await fs.realpath(row.path);
    } catch (err) {
      if (isMissing(err)) throw missing();
      throw new UserError(`the file of asset ${assetId} cannot be read: ${(err as Error).message}`, 'forbidden', 'unreadable');
    }
    if (!isInsideAny(real, catalog.source_directories.map(realLocation))) {
      throw new UserError(`the file of asset ${assetId} now leads outside the catalog's source directories`, 'forbidden', 'outside_source');
    }
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a FIFO put in its place must not hang the open.
      handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (isMissing(err)) throw missing();
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UserError(`the file of asset ${assetId} was replaced by a link`, 'forbidden', 'outside_source');
      throw new UserError(`the file of asset ${assetId} cannot be read: ${(err as Error).message}`, 'forbidden', 'unreadable');
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new UserError(`the file of asset ${assetId} is not a regular file any more: ${row.path}`, 'not_found', 'not_regular');
    }
    return { handle, size: st.size, mtime: st.mtime, mediaType: mediaTypeOf(row.ext), name: path.basename(row.path) };
  }
}
