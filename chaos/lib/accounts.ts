import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';

/** Writes `count` temporary accounts created 400 days ago (due for expiry), each with one open session and one API token. */
export async function insertDueTemporaryAccounts(db: Db, count: number, tag = 'temp'): Promise<void> {
  await sql`
    WITH u AS (
      INSERT INTO users (username, is_temporary, created_at)
      SELECT ${`chaos-${tag}-`} || g, true, now() - interval '400 days' FROM generate_series(1, ${count}::int) AS g
      RETURNING id
    ), s AS (
      INSERT INTO sessions (user_id, created_at, expires_at) SELECT id, now() - interval '1 day', now() + interval '30 days' FROM u
    )
    INSERT INTO api_tokens (user_id, name, created_at) SELECT id, 'chaos', now() - interval '1 day' FROM u
  `.execute(db);
}

/** Temporary accounts that are due but not expired, and open sessions/tokens of expired ones. */
export async function sweepLeftovers(db: Db): Promise<{ unexpired: number; openSessions: number; openTokens: number; expired: number }> {
  const { rows } = await sql<{ unexpired: string; expired: string; open_sessions: string; open_tokens: string }>`
    SELECT
      (SELECT count(*) FROM users WHERE is_temporary AND expired_at IS NULL AND created_at < now() - interval '365 days') AS unexpired,
      (SELECT count(*) FROM users WHERE is_temporary AND expired_at IS NOT NULL) AS expired,
      (SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.expired_at IS NOT NULL AND s.revoked_at IS NULL) AS open_sessions,
      (SELECT count(*) FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.expired_at IS NOT NULL AND t.revoked_at IS NULL) AS open_tokens
  `.execute(db);
  const row = rows[0]!;
  return { unexpired: Number(row.unexpired), expired: Number(row.expired), openSessions: Number(row.open_sessions), openTokens: Number(row.open_tokens) };
}
