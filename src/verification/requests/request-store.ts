import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, VerificationRequestOutcome, VerificationRequestsTable } from '../../db/database.js';

/**
 * The verification_requests table from reverify's side: which rows wait,
 * and how each one ends. A row is both the site's request and the ledger row
 * of the mail it asked for (sending_at before SendEmail, sent_at and the SES
 * MessageId after).
 */

export type VerificationRequestRow = Selectable<VerificationRequestsTable>;

/**
 * A row claimed for sending and not finished this long ago was left by a
 * process that died around SendEmail: SES may have taken it, so it is never
 * sent again (outcome unknown_outcome), as the campaign reconcile does.
 */
export const STALE_SENDING_MS = 15 * 60_000;

/** Pending rows whose turn it is (oldest first): not processed, not being sent, not waiting for a retry. */
export async function pendingRequestIds(db: Kysely<Database>, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('verification_requests')
    .select('id')
    .where('processed_at', 'is', null)
    .where('sending_at', 'is', null)
    .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

/** Ends a row with `outcome`: the site sees it from now on. Only a row not yet ended is changed. */
export async function finishRequest(
  db: Kysely<Database>,
  id: string,
  outcome: VerificationRequestOutcome,
  reason: string | null,
  now: Date,
  extra: { sesMessageId?: string } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('verification_requests')
    .set({
      outcome,
      reason,
      processed_at: now,
      next_attempt_at: null,
      ...(extra.sesMessageId === undefined ? {} : { ses_message_id: extra.sesMessageId, sent_at: now }),
    })
    .where('id', '=', id)
    .where('processed_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Gives a claimed row back after a send that may be retried (429, network,
 * 5xx): its unsent token is deleted, and the row waits until `retryAt`.
 */
export async function releaseRequest(db: Kysely<Database>, row: { id: string; tokenId: string }, reason: string, retryAt: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('verification_tokens').where('id', '=', row.tokenId).where('used_at', 'is', null).execute();
    await trx
      .updateTable('verification_requests')
      .set({ sending_at: null, token_id: null, reason: `retrying: ${reason}`, next_attempt_at: retryAt })
      .where('id', '=', row.id)
      .where('processed_at', 'is', null)
      .execute();
  });
}

/** Ends every row left claimed by a dead process (see STALE_SENDING_MS); returns how many. */
export async function settleStaleRequests(db: Kysely<Database>, now: Date): Promise<number> {
  const result = await db
    .updateTable('verification_requests')
    .set({ outcome: 'unknown_outcome', reason: 'unknown_outcome_after_crash', processed_at: now })
    .where('processed_at', 'is', null)
    .where('sending_at', '<', new Date(now.getTime() - STALE_SENDING_MS))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Mails to `email` (any case) claimed in the 24 hours before `now`, and the latest of them, other than request `exceptId`. */
export async function recentMailsTo(
  db: Kysely<Database>,
  email: string,
  now: Date,
  exceptId: string,
): Promise<{ count: number; latest: Date | null }> {
  const since = new Date(now.getTime() - 86_400_000);
  const row = await sql<{ count: string; latest: Date | null }>`
    SELECT count(*) AS count, max(sending_at) AS latest FROM verification_requests
    WHERE lower(email) = lower(${email}) AND sending_at IS NOT NULL AND sending_at > ${since} AND id <> ${exceptId}
      AND (outcome IS NULL OR outcome IN ('sent', 'unknown_outcome'))`.execute(db);
  const first = row.rows[0];
  return { count: Number(first?.count ?? 0), latest: first?.latest ?? null };
}
