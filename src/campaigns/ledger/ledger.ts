import { sql, type Kysely } from 'kysely';
import { Coalescer, coalescerPer } from '../../db/coalesce.js';
import { preparedDb } from '../../db/connect.js';
import type { Database, RecipientStatus } from '../../db/database.js';

/**
 * Compare-and-set moves of one ledger row. Each names the state it expects,
 * so a row is never moved twice by racing jobs: the loser's update matches
 * nothing and it stops.
 */

type Db = Kysely<Database>;

/** One sent message to record. */
export interface SentRecord {
  id: string;
  messageId: string;
  now: Date;
}

/**
 * sending → sent with the SES MessageId, for the sent messages of one send
 * job; whether each row was still sending, each settled on its own. Records
 * made at the same moment by other send jobs share the statement (see
 * Coalescer); a batch that fails (a duplicate MessageId) is retried row by
 * row, so it fails only that row.
 */
export function recordAllSent(db: Db, records: readonly SentRecord[]): Promise<Array<PromiseSettledResult<boolean>>> {
  return recordCoalescer(db).submitAll(records);
}

const recordCoalescer = coalescerPer((db: Db) => new Coalescer((records: SentRecord[]) => recordSentRows(db, records), { maxBatch: 64, maxInFlight: 2 }));

/**
 * Records many sent messages in one statement; whether each row was still
 * sending, in order. A row already `unconfirmed` (a slow process taken for a
 * dead one) is recorded too: SES's own answer settles it better than its events.
 */
export async function recordSentRows(db: Db, records: readonly SentRecord[]): Promise<boolean[]> {
  const result = await sql<{ id: string }>`
    UPDATE campaign_recipients AS cr
    SET status = 'sent', ses_message_id = r.message_id, sent_at = r.now, reason = NULL, updated_at = r.now
    FROM unnest(${records.map((r) => r.id)}::bigint[], ${records.map((r) => r.messageId)}::text[], ${records.map((r) => r.now)}::timestamptz[])
      AS r(id, message_id, now)
    WHERE cr.id = r.id AND cr.status IN ('sending', 'unconfirmed')
    RETURNING cr.id`.execute(preparedDb(db));
  const recorded = new Set(result.rows.map((row) => String(row.id)));
  return records.map((record) => recorded.has(record.id));
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

/** How many of a campaign's ledger rows are in each status (statuses with no rows are absent). */
export async function countRowsByStatus(db: Db, campaignId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('campaign_recipients')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('campaign_id', '=', campaignId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}
