import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import type { Database, StopTokensTable } from '../db/database.js';
import { normalizeAddress, suppressAddress } from '../mail/suppressions.js';
import { hashToken, isWellFormedToken } from './tokens.js';

/**
 * The stop link ("this is not my account / I do not want these messages").
 * `inspectStop` only reads (GET: mail scanners fetch links); `confirmStop`
 * suppresses the address with reason `recipient_request` in one transaction
 * with the token's use and the audit row (POST, from the page's button or a
 * mailbox provider's RFC 8058 one-click request). After it, only the
 * verification mail the person asks for themselves reaches the address (see
 * src/mail/send-policy.ts).
 */

export type StopChannel = NonNullable<StopTokensTable['used_channel']>;

export interface StopView {
  status: 'valid' | 'used' | 'unknown';
  /** The address the message went to (absent for unknown tokens). */
  email?: string;
  usedAt?: Date;
}

export interface StopResult {
  /** 'stopped' when this request suppressed the address; otherwise why nothing changed. */
  status: 'stopped' | 'used' | 'unknown';
  email?: string;
  usedAt?: Date;
}

/** Reads what stop token `token` would stop, changing nothing. */
export async function inspectStop(db: Kysely<Database>, token: string): Promise<StopView> {
  if (!isWellFormedToken(token)) return { status: 'unknown' };
  const row = await db.selectFrom('stop_tokens').select(['email', 'used_at']).where('token_hash', '=', hashToken(token)).executeTakeFirst();
  if (!row) return { status: 'unknown' };
  if (row.used_at !== null) return { status: 'used', email: row.email, usedAt: row.used_at };
  return { status: 'valid', email: row.email };
}

/**
 * Uses stop token `token` at `now`: in one transaction the token is locked,
 * marked used with its channel, the address suppressed (`recipient_request`,
 * unless a stronger reason is already in force: a complaint stays a
 * complaint) and an audit row written. A token works once; a used or
 * unknown one changes nothing.
 */
export async function confirmStop(db: Kysely<Database>, token: string, channel: StopChannel, now: Date): Promise<StopResult> {
  if (!isWellFormedToken(token)) return { status: 'unknown' };
  return db.transaction().execute(async (trx): Promise<StopResult> => {
    // Locking the token row serialises two presses (or a press and the provider's one-click): the second sees used_at.
    const row = await trx.selectFrom('stop_tokens').selectAll().where('token_hash', '=', hashToken(token)).forUpdate().executeTakeFirst();
    if (!row) return { status: 'unknown' };
    if (row.used_at !== null) return { status: 'used', email: row.email, usedAt: row.used_at };
    await trx.updateTable('stop_tokens').set({ used_at: now, used_channel: channel }).where('id', '=', row.id).execute();
    const before = await trx.selectFrom('suppressions').select('reason').where('email', '=', normalizeAddress(row.email)).executeTakeFirst();
    const inForce = await suppressAddress(trx, row.email, 'recipient_request', null);
    await recordAudit(trx, {
      actor: 'stop-link',
      action: 'email.stopped',
      userId: row.user_id,
      emailId: row.email_id,
      reason: 'recipient_request',
      occurredAt: now,
      details: {
        channel,
        stopTokenId: row.id,
        purpose: row.purpose,
        campaignRecipientId: row.campaign_recipient_id,
        previousSuppression: before?.reason ?? null,
        suppressionInForce: inForce,
      },
    });
    return { status: 'stopped', email: row.email };
  });
}
