import type { Kysely } from 'kysely';
import type { Database, RecipientStatus } from '../db/database.js';

/**
 * Compare-and-set moves of one ledger row. Each names the state it expects,
 * so a row is never moved twice by racing jobs: the loser's update matches
 * nothing and it stops.
 */

type Db = Kysely<Database>;

/** sending → sent with the SES MessageId. */
export async function recordSent(db: Db, id: string, messageId: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('campaign_recipients')
    .set({ status: 'sent', ses_message_id: messageId, sent_at: now, reason: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** sending → queued: SES did not take the message (throttled, outage); it will be tried again. */
export async function returnToQueue(db: Db, id: string, now: Date, reason: string | null = null): Promise<void> {
  await db
    .updateTable('campaign_recipients')
    .set({ status: 'queued', sending_at: null, reason, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .execute();
}

/** queued → pending: its day's budget is gone; a later tick queues it again. */
export async function releaseToPending(db: Db, id: string, now: Date): Promise<void> {
  await db
    .updateTable('campaign_recipients')
    .set({ status: 'pending', send_day: null, queued_at: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .execute();
}

/** Ends a row as failed or skipped with the reason, if it is still in one of `from`. */
export async function finishRow(
  db: Db,
  id: string,
  status: 'failed' | 'skipped',
  reason: string,
  from: readonly RecipientStatus[],
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('campaign_recipients')
    .set({ status, reason, updated_at: now })
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Skips every row of a cancelled campaign that was not sent yet. */
export async function skipUnsentRows(db: Db, campaignId: string, reason: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('campaign_recipients')
    .set({ status: 'skipped', reason, updated_at: now })
    .where('campaign_id', '=', campaignId)
    .where('status', 'in', ['pending', 'queued'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
