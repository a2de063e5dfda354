import fs from 'node:fs/promises';
import path from 'node:path';
import { getAsset, listAssets, queryAssets, type AssetFilter, type AssetQuery, type AssetRow } from '../db/assets.js';
import type { Sql } from '../db/database.js';
import { thumbnailDir, type Catalog } from '../model/catalog.js';
import { UserError } from '../util/errors.js';
import { assetView, type AssetView } from '../views/asset.js';

/** A catalog's assets as callers see them: pages, one asset, its thumbnail. */
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

  /** The 256 px WebP thumbnail's bytes; the file is confined to the catalog's thumbnail folder. */
  async thumbnail(catalog: Catalog, assetId: number): Promise<Buffer> {
    const row = await getAsset(this.sql, catalog.schema_name, assetId);
    if (!row?.thumbnail_key) throw new UserError(`asset ${assetId} has no thumbnail`, 'not_found');
    const dir = thumbnailDir(this.dataDir, catalog.id);
    const file = path.resolve(dir, row.thumbnail_key);
    if (!file.startsWith(dir + path.sep)) throw new UserError('no thumbnail', 'not_found');
    const bytes = await fs.readFile(file).catch(() => null);
    if (!bytes) throw new UserError(`the thumbnail of asset ${assetId} is gone (scan again to rebuild it)`, 'not_found');
    return bytes;
  }
}
