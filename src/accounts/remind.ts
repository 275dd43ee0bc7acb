import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import { temporaryAccountsTotal } from '../metrics.js';
import { runSweep, type SweepContext, type SweepOptions, type SweepOutcome } from './sweep-runner.js';
import { recordBatch, recordDryRunCounts } from './sweep-runs.js';
import { expiryCutoffSql, reminderCutoffSql, sweepWindow, type SweepWindow } from './sweep-window.js';

/** The `account_notices.kind` the site shows as "your temporary account expires soon". */
export const EXPIRY_NOTICE_KIND = 'temp_account_expiry';

export interface RemindResult {
  /** Notices created by this run (would be created, in a dry run). */
  reminded: number;
}

/**
 * The reminder pass: every temporary, unexpired account inside its reminder
 * window (`created_at + TTL − REMINDER ≤ as_of < created_at + TTL`) that has
 * no `temp_account_expiry` notice gets one. Accounts already due for expiry
 * get none. `is_active` does not matter: an inactive account may be
 * reactivated before it expires and must find its notice then. The unique
 * (user_id, kind) constraint makes the insert idempotent, so no account is
 * reminded twice, whatever runs overlap.
 */
export async function remindTemporaryAccounts(db: Db, config: Config, options: SweepOptions = {}): Promise<SweepOutcome<RemindResult>> {
  const window = sweepWindow(config);
  return runSweep(db, 'remind', options, (ctx) => (ctx.dryRun ? countDue(ctx, window) : insertNotices(ctx, window)));
}

async function insertNotices(ctx: SweepContext, window: SweepWindow): Promise<RemindResult> {
  // The window holds at most REMINDER days of sign-ups, so one statement in
  // one short transaction is enough; there is no backlog to batch through.
  const reminded = await ctx.conn.transaction().execute(async (trx) => {
    const started = performance.now();
    const { rows } = await sql<{ reminded: string }>`
      WITH inserted AS (
        INSERT INTO account_notices (user_id, kind)
        SELECT u.id, ${EXPIRY_NOTICE_KIND}
        FROM users u
        WHERE u.is_temporary AND u.expired_at IS NULL
          AND u.created_at <= ${reminderCutoffSql(ctx.asOf, window)}
          AND u.created_at > ${expiryCutoffSql(ctx.asOf, window)}
        ORDER BY u.created_at, u.id
        ON CONFLICT (user_id, kind) DO NOTHING
        RETURNING user_id
      )
      SELECT count(*) AS reminded FROM inserted`.execute(trx);
    const reminded = Number(rows[0]?.reminded ?? 0);
    await recordBatch(trx, ctx.runId, { processed: reminded, batchMs: performance.now() - started });
    return reminded;
  });
  if (reminded > 0) temporaryAccountsTotal.inc({ action: 'reminded' }, reminded);
  ctx.log?.info({ reminded }, 'reminder notices created');
  return { reminded };
}

async function countDue(ctx: SweepContext, window: SweepWindow): Promise<RemindResult> {
  const { rows } = await sql<{ reminded: string }>`
    SELECT count(*) AS reminded
    FROM users u
    WHERE u.is_temporary AND u.expired_at IS NULL
      AND u.created_at <= ${reminderCutoffSql(ctx.asOf, window)}
      AND u.created_at > ${expiryCutoffSql(ctx.asOf, window)}
      AND NOT EXISTS (SELECT 1 FROM account_notices n WHERE n.user_id = u.id AND n.kind = ${EXPIRY_NOTICE_KIND})`.execute(ctx.conn);
  const reminded = Number(rows[0]?.reminded ?? 0);
  await recordDryRunCounts(ctx.conn, ctx.runId, { processed: reminded });
  return { reminded };
}
