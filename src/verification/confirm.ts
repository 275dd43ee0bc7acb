import { sql, type Kysely } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import type { Database } from '../db/database.js';
import { liftSuppression } from '../mail/suppressions.js';
import { addressesVerifiedTotal } from '../metrics.js';
import { findToken, hashToken, isWellFormedToken, tokenState, type VerificationToken } from './tokens.js';

/**
 * Confirming a verification token. `inspectVerification` only reads (GET: mail
 * scanners fetch links, so opening a link must change nothing);
 * `confirmVerification` applies every effect in one transaction (POST).
 */

/** How the person confirmed: the link's page (POST /verify/:token) or a reply to the mail. */
export type VerificationChannel = 'link' | 'reply';

/** What a token can confirm right now. */
export type VerificationStatus = 'valid' | 'used' | 'expired' | 'unknown' | 'address_changed';

export interface VerificationView {
  status: VerificationStatus;
  /** The address the token confirms (absent for unknown tokens). */
  email?: string;
  username?: string;
  expiresAt?: Date;
}

export interface ConfirmResult extends Omit<VerificationView, 'status'> {
  /** 'verified' after a successful confirmation; otherwise why nothing changed. */
  status: 'verified' | Exclude<VerificationStatus, 'valid'>;
  /** The address was verified already (by another link) before this one was used. */
  alreadyVerified?: boolean;
}

interface TargetAddress {
  id: string;
  user_id: string;
  email: string;
  verified: boolean;
  unverify_reason: string | null;
  username: string;
}

/** Reads what `token` would confirm at `now`, changing nothing. */
export async function inspectVerification(db: Kysely<Database>, token: string, now: Date): Promise<VerificationView> {
  const row = await findToken(db, token);
  if (!row) return { status: 'unknown' };
  const address = await targetAddress(db, row, false);
  return describe(row, address, now);
}

/**
 * Confirms `token` at `now`: in one transaction the token is locked and
 * checked (unused, unexpired, its address unchanged), marked used, the address
 * verified with its unverify reason, soft-bounce count and suppression
 * cleared, the campaign ledger credited, and an audit row written (with the
 * channel: `link`, or `reply` for verification by reply). A refused token
 * changes nothing. Given a transaction, it runs inside it (the reply path
 * records the inbound reply in the same one).
 */
export async function confirmVerification(
  db: Kysely<Database>,
  token: string,
  now: Date,
  options: { channel?: VerificationChannel } = {},
): Promise<ConfirmResult> {
  if (!isWellFormedToken(token)) return { status: 'unknown' };
  const apply = async (trx: Kysely<Database>): Promise<ConfirmResult> => {
    // Locking the token row serialises two clicks on the same link: the second waits, then sees used_at.
    const row = await trx
      .selectFrom('verification_tokens')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .forUpdate()
      .executeTakeFirst();
    if (!row) return { status: 'unknown' };
    const address = await targetAddress(trx, row, true);
    const view = describe(row, address, now);
    if (view.status !== 'valid' || !address) return { ...view, status: view.status as ConfirmResult['status'] };

    await trx.updateTable('verification_tokens').set({ used_at: now }).where('id', '=', row.id).execute();
    await trx
      .updateTable('emails')
      .set({
        verified: true,
        // A second link for an already verified address keeps the original date.
        verified_at: sql<Date>`CASE WHEN verified AND verified_at IS NOT NULL THEN verified_at ELSE ${now} END`,
        unverify_reason: null,
        transient_bounces: 0,
      })
      .where('id', '=', address.id)
      .execute();
    const suppressionLifted = await liftSuppression(trx, address.email);
    const credited = await creditLedger(trx, row, now);
    await recordAudit(trx, {
      actor: 'verify',
      action: 'email.verified',
      userId: row.user_id,
      emailId: row.email_id,
      occurredAt: now,
      details: {
        tokenId: row.id,
        purpose: row.purpose,
        campaignRecipientId: row.campaign_recipient_id,
        alreadyVerified: address.verified,
        previousUnverifyReason: address.unverify_reason,
        suppressionLifted,
        ledgerRowsCredited: credited,
        channel: options.channel ?? 'link',
      },
    });
    return { ...view, status: 'verified', alreadyVerified: address.verified };
  };
  const result = db.isTransaction ? await apply(db) : await db.transaction().execute(apply);
  if (result.status === 'verified' && !result.alreadyVerified) addressesVerifiedTotal.inc();
  return result;
}

/**
 * Marks the linked ledger row verified, and every other ledger row of the
 * user that was sent and not yet credited: the funnel counts people who
 * verified after being mailed, whichever link they used.
 */
async function creditLedger(trx: Kysely<Database>, row: VerificationToken, now: Date): Promise<number> {
  const result = await trx
    .updateTable('campaign_recipients')
    .set({ verified_at: now, updated_at: now })
    .where('verified_at', 'is', null)
    .where((eb) => {
      const sentToUser = eb.and([eb('user_id', '=', row.user_id), eb('sent_at', 'is not', null)]);
      return row.campaign_recipient_id === null ? sentToUser : eb.or([eb('id', '=', row.campaign_recipient_id), sentToUser]);
    })
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The token's target address, if it still exists and still belongs to the token's user. */
async function targetAddress(db: Kysely<Database>, row: VerificationToken, lock: boolean): Promise<TargetAddress | undefined> {
  let query = db
    .selectFrom('emails')
    .innerJoin('users', 'users.id', 'emails.user_id')
    .select(['emails.id', 'emails.user_id', 'emails.email', 'emails.verified', 'emails.unverify_reason', 'users.username'])
    .where('emails.id', '=', row.email_id)
    .where('emails.user_id', '=', row.user_id);
  // Lock the address so a concurrent bounce or a second token is applied before or after us, never interleaved.
  if (lock) query = query.forUpdate('emails');
  return query.executeTakeFirst();
}

function describe(row: VerificationToken, address: TargetAddress | undefined, now: Date): VerificationView {
  const state = tokenState(row, now);
  const base = { email: row.email, username: address?.username, expiresAt: row.expires_at };
  if (state === 'used' || state === 'expired') return { ...base, status: state };
  // The address was removed, moved to another user or edited since the link was sent: it confirms nothing.
  if (!address || address.email !== row.email) return { ...base, status: 'address_changed' };
  return { ...base, status: 'valid' };
}
