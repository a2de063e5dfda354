import { createHash, randomBytes } from 'node:crypto';
import { UserError } from '../util/errors.js';
import type { Sql } from './database.js';
import { isUniqueViolation } from './errors.js';

export interface ApiToken {
  id: string;
  name: string;
  read_only: boolean;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const TOKEN_COLUMNS = ['id', 'name', 'read_only', 'created_at', 'last_used_at', 'revoked_at'] as const;

/**
 * Tokens carry 256 random bits, so a plain SHA-256 is a safe way to store them (a slow password
 * hash guards guessable secrets, which these are not) and lets every request check in O(1).
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token; its secret is returned once and only its hash is kept. */
export async function createToken(sql: Sql, input: { name: string; readOnly: boolean }): Promise<{ token: string; row: ApiToken }> {
  const name = input.name.trim();
  if (!name || name.length > 100 || /[\u0000-\u001f]/.test(name)) throw new UserError('a token name must be 1 to 100 printable characters');
  const token = `lum_${randomBytes(32).toString('base64url')}`;
  try {
    const [row] = await sql<ApiToken[]>`
      insert into public.api_tokens (name, token_hash, read_only) values (${name}, ${hashToken(token)}, ${input.readOnly})
      returning ${sql(TOKEN_COLUMNS)}`;
    return { token, row: row! };
  } catch (err) {
    if (isUniqueViolation(err)) throw new UserError(`a token named "${name}" already exists`, 'conflict');
    throw err;
  }
}

export async function listTokens(sql: Sql): Promise<ApiToken[]> {
  return sql<ApiToken[]>`select ${sql(TOKEN_COLUMNS)} from public.api_tokens order by name`;
}

export async function revokeToken(sql: Sql, name: string): Promise<void> {
  const rows = await sql`update public.api_tokens set revoked_at = now() where name = ${name} and revoked_at is null returning id`;
  if (!rows.length) throw new UserError(`no active token named "${name}"`, 'not_found');
}

/** The live token hashes, for the API's in-memory check. */
export async function activeTokenHashes(sql: Sql): Promise<Map<string, { name: string; read_only: boolean }>> {
  const rows = await sql<{ token_hash: string; name: string; read_only: boolean }[]>`
    select token_hash, name, read_only from public.api_tokens where revoked_at is null`;
  return new Map(rows.map((r) => [r.token_hash, { name: r.name, read_only: r.read_only }]));
}
