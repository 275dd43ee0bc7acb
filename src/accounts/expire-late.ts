import { sql } from 'kysely';
import type { SweepContext } from './sweep-runner.js';

/**
 * The expiry sweep's second pass: sessions and API tokens still open on a
 * temporary account that has already expired. Expiry revokes what is open at
 * that moment; anything opened afterwards (a login path that did not check
 * expired_at, a token minted by a script) would otherwise stay valid for
 * ever. Counted apart from the revocations at expiry, audited one row per
 * account (`account.access_revoked_after_expiry`), and added to the run's row.
 * One statement: such leftovers are few, and the partial index
 * users_temporary_expired_idx starts the search from the expired accounts.
 */

export interface LateRevocations {
  sessionsRevokedAfterExpiry: number;
  tokensRevokedAfterExpiry: number;
}

/** Revokes (or, in a dry run, counts) the open sessions and tokens of accounts expired by `ctx.asOf`. */
export async function revokeAccessAfterExpiry(ctx: SweepContext): Promise<LateRevocations> {
  const rows = ctx.dryRun ? await countLate(ctx) : await revokeLate(ctx);
  const row = rows[0];
  return { sessionsRevokedAfterExpiry: row?.sessions ?? 0, tokensRevokedAfterExpiry: row?.tokens ?? 0 };
}

async function revokeLate(ctx: SweepContext): Promise<Array<{ sessions: number; tokens: number }>> {
  const { asOf, runId } = ctx;
  const { rows } = await sql<{ sessions: number; tokens: number }>`
    WITH expired AS (
      SELECT u.id FROM users u WHERE u.is_temporary AND u.expired_at IS NOT NULL AND u.expired_at <= ${asOf}
    ),
    late_sessions AS (
      UPDATE sessions s SET revoked_at = ${asOf} FROM expired e
      WHERE s.user_id = e.id AND s.revoked_at IS NULL
      RETURNING s.user_id
    ),
    late_tokens AS (
      UPDATE api_tokens t SET revoked_at = ${asOf} FROM expired e
      WHERE t.user_id = e.id AND t.revoked_at IS NULL
      RETURNING t.user_id
    ),
    per_user AS (
      SELECT user_id, sum(s)::int AS sessions, sum(t)::int AS tokens
      FROM (SELECT user_id, 1 AS s, 0 AS t FROM late_sessions UNION ALL SELECT user_id, 0, 1 FROM late_tokens) x
      GROUP BY user_id
    ),
    audited AS (
      INSERT INTO audit_log (actor, action, user_id, reason, details)
      SELECT 'sweep', 'account.access_revoked_after_expiry', p.user_id, 'temporary_account_ttl',
             jsonb_build_object('runId', ${Number(runId)}::bigint, 'sessionsRevoked', p.sessions, 'tokensRevoked', p.tokens)
      FROM per_user p
    ),
    totals AS (SELECT coalesce(sum(sessions), 0)::int AS sessions, coalesce(sum(tokens), 0)::int AS tokens FROM per_user),
    progress AS (
      UPDATE sweep_runs r SET sessions_revoked_after_expiry = t.sessions, tokens_revoked_after_expiry = t.tokens
      FROM totals t WHERE r.id = ${runId}::bigint
    )
    SELECT sessions, tokens FROM totals`.execute(ctx.conn);
  return rows;
}

async function countLate(ctx: SweepContext): Promise<Array<{ sessions: number; tokens: number }>> {
  const { rows } = await sql<{ sessions: number; tokens: number }>`
    WITH expired AS (
      SELECT u.id FROM users u WHERE u.is_temporary AND u.expired_at IS NOT NULL AND u.expired_at <= ${ctx.asOf}
    ),
    totals AS (
      SELECT
        (SELECT count(*) FROM sessions s JOIN expired e ON s.user_id = e.id WHERE s.revoked_at IS NULL)::int AS sessions,
        (SELECT count(*) FROM api_tokens t JOIN expired e ON t.user_id = e.id WHERE t.revoked_at IS NULL)::int AS tokens
    ),
    progress AS (
      UPDATE sweep_runs r SET sessions_revoked_after_expiry = t.sessions, tokens_revoked_after_expiry = t.tokens
      FROM totals t WHERE r.id = ${ctx.runId}::bigint
    )
    SELECT sessions, tokens FROM totals`.execute(ctx.conn);
  return rows;
}
