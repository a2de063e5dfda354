import { activeTokenHashes, createToken, hashToken, listTokens, revokeToken, type ApiToken } from '../db/tokens.js';
import type { Sql } from '../db/database.js';

/** API bearer tokens: made (the secret shown once), listed, revoked, and checked by hash. */
export class TokenService {
  constructor(private readonly sql: Sql) {}

  create(name: string, readOnly: boolean): Promise<{ token: string; row: ApiToken }> {
    return createToken(this.sql, { name, readOnly });
  }

  list(): Promise<ApiToken[]> {
    return listTokens(this.sql);
  }

  revoke(name: string): Promise<void> {
    return revokeToken(this.sql, name);
  }

  /** The live tokens by the SHA-256 of their secret. */
  activeHashes(): Promise<Map<string, { name: string; read_only: boolean }>> {
    return activeTokenHashes(this.sql);
  }

  hash(token: string): string {
    return hashToken(token);
  }
}
