import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.js';

/**
 * The ledger moves of a row whose send outcome is unknown: its process died
 * between claiming it and recording SES's answer, so SES may or may not hold
 * the message. With SES_SEND_EVENTS=true the row waits as `unconfirmed` for
 * an SES event naming it (src/campaigns/ledger/ledger-events.ts moves it to
 * sent); with none within UNKNOWN_OUTCOME_WAIT_MINUTES of its claim, SES
 * never took it and it goes back to queued, to be sent once.
 */

type Db = Kysely<Database>;

/** The reason an unconfirmed row carries while it waits. */
export const AWAITING_SES_EVENT = 'awaiting_ses_event';

/**
 * sending → unconfirmed: wait for SES's events to say whether SES took the
 * message. A row an SES event already named while it was sending (the event
 * recorded its MessageId) needs no wait: SES took it, and it becomes sent.
 */
export async function markUnconfirmed(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('campaign_recipients')
    .set({
      status: sql<'unconfirmed' | 'sent'>`CASE WHEN ses_message_id IS NULL THEN 'unconfirmed' ELSE 'sent' END`,
      unconfirmed_at: now,
      reason: sql<string | null>`CASE WHEN ses_message_id IS NULL THEN ${AWAITING_SES_EVENT} END`,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** An unconfirmed row whose wait is over. */
export interface ExpiredUnconfirmed {
  id: string;
  campaignId: string;
  campaignStatus: string;
}

/** Unconfirmed rows claimed before `claimedBefore` (their wait is over), oldest first, at most `limit`. */
export async function expiredUnconfirmedRows(db: Db, claimedBefore: Date, limit: number): Promise<ExpiredUnconfirmed[]> {
  const rows = await db
    .selectFrom('campaign_recipients as cr')
    .innerJoin('campaigns as c', 'c.id', 'cr.campaign_id')
    .select(['cr.id', 'cr.campaign_id', 'c.status'])
    .where('cr.status', '=', 'unconfirmed')
    .where('cr.sending_at', '<', claimedBefore)
    .orderBy('cr.id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ id: row.id, campaignId: row.campaign_id, campaignStatus: row.status }));
}

/**
 * unconfirmed → queued for `day`, remembering which attempt was given up on
 * (an event for it that comes after the resend is then told apart from the
 * resend's own). Only rows still unconfirmed move: an event that settled one
 * meanwhile wins. Returns the ids that moved.
 */
export async function requeueUnconfirmed(db: Db, ids: readonly string[], day: string, now: Date, waitMinutes: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('campaign_recipients')
    .set((eb) => ({
      status: 'queued',
      send_day: day,
      sending_at: null,
      resent_after_attempt: eb.ref('attempts'),
      reason: `resent: no SES event within ${waitMinutes} minutes of the claim`,
      updated_at: now,
    }))
    .where('id', 'in', [...ids])
    .where('status', '=', 'unconfirmed')
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** unconfirmed → failed or skipped with `reason` (Send events turned off, campaign cancelled). */
export async function finishUnconfirmed(db: Db, ids: readonly string[], status: 'failed' | 'skipped', reason: string, now: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('campaign_recipients')
    .set({ status, reason, updated_at: now })
    .where('id', 'in', [...ids])
    .where('status', '=', 'unconfirmed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
