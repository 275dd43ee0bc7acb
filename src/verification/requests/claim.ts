import type { Kysely } from 'kysely';
import type { Database, VerificationRequestOutcome } from '../../db/database.js';
import { checkSendPolicy } from '../../mail/send-policy.js';
import { issueVerificationToken } from '../tokens.js';
import { finishRequest, recentMailsTo } from './request-store.js';

/**
 * The first step of a verification request, in one transaction: take the
 * row (skipping one another process holds), check the user, their primary
 * address, the send policy and the throttle, and either end the row with its
 * outcome or claim it for sending with a fresh token. The address row is
 * locked meanwhile, so requests for one address are decided one after the
 * other: of two inserted at once, the second sees the first's mail and is
 * throttled — one mail.
 */

/** The throttle: at most this often to one address, whatever VERIFICATION_REQUESTS_PER_DAY allows. */
export const MIN_INTERVAL_MS = 10 * 60_000;

export interface ClaimSettings {
  perDay: number;
  ttlHours: number;
}

/** A request ready to be mailed. */
export interface ClaimedRequest {
  id: string;
  userId: string;
  username: string;
  emailId: string;
  email: string;
  requestedBy: 'user' | 'operator';
  tokenId: string;
  token: string;
  replySecret: string;
  expiresAt: Date;
}

export type ClaimResult =
  | { kind: 'claimed'; request: ClaimedRequest }
  | { kind: 'finished'; outcome: VerificationRequestOutcome; reason: string | null }
  /** Another process holds the row, or it was already processed. */
  | { kind: 'taken' };

/** Decides request `id` at `now`; see the module comment. */
export function claimRequest(db: Kysely<Database>, id: string, now: Date, settings: ClaimSettings): Promise<ClaimResult> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('verification_requests')
      .select(['id', 'user_id', 'requested_by'])
      .where('id', '=', id)
      .where('processed_at', 'is', null)
      .where('sending_at', 'is', null)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!row) return { kind: 'taken' as const };
    const decided = await decide(trx, row, now, settings);
    if ('outcome' in decided) {
      await finishRequest(trx, id, decided.outcome, decided.reason, now, {});
      return { kind: 'finished' as const, ...decided };
    }
    return { kind: 'claimed' as const, request: await claimForSending(trx, decided, now, settings) };
  });
}

type Decision = { outcome: VerificationRequestOutcome; reason: string | null } | Omit<ClaimedRequest, 'tokenId' | 'token' | 'replySecret' | 'expiresAt'>;

async function decide(
  trx: Kysely<Database>,
  row: { id: string; user_id: string; requested_by: 'user' | 'operator' },
  now: Date,
  settings: ClaimSettings,
): Promise<Decision> {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'username', 'is_active', 'is_temporary', 'expired_at'])
    .where('id', '=', row.user_id)
    .executeTakeFirst();
  if (!user) return { outcome: 'unknown_user', reason: null };
  if (!user.is_active || user.expired_at !== null) return { outcome: 'not_eligible', reason: 'inactive_user' };
  if (user.is_temporary) return { outcome: 'not_eligible', reason: 'temporary_account' };
  const email = await trx
    .selectFrom('emails')
    .select(['id', 'email', 'verified'])
    .where('user_id', '=', user.id)
    .where('is_primary', '=', true)
    .forUpdate()
    .executeTakeFirst();
  if (!email) return { outcome: 'not_eligible', reason: 'no_primary_address' };
  if (email.verified) return { outcome: 'not_eligible', reason: 'already_verified' };
  // A complained address gets only the verification its owner asks for: an
  // operator's request is held to the campaign's rule (verification, but no complaint).
  const policy = await checkSendPolicy(trx, { emailId: email.id, kind: row.requested_by === 'user' ? 'user_request' : 'campaign' });
  if (!policy.allowed) return { outcome: 'not_eligible', reason: policy.reason };
  const recent = await recentMailsTo(trx, email.email, now, row.id);
  if (recent.latest !== null && now.getTime() - recent.latest.getTime() < MIN_INTERVAL_MS) {
    return { outcome: 'throttled', reason: 'one_per_10_minutes' };
  }
  if (recent.count >= settings.perDay) return { outcome: 'throttled', reason: `${settings.perDay}_per_24_hours` };
  return { id: row.id, userId: user.id, username: user.username, emailId: email.id, email: email.email, requestedBy: row.requested_by };
}

async function claimForSending(
  trx: Kysely<Database>,
  request: Omit<ClaimedRequest, 'tokenId' | 'token' | 'replySecret' | 'expiresAt'>,
  now: Date,
  settings: ClaimSettings,
): Promise<ClaimedRequest> {
  const token = await issueVerificationToken(trx, {
    userId: request.userId,
    emailId: request.emailId,
    email: request.email,
    purpose: 'user_request',
    now,
    ttlHours: settings.ttlHours,
  });
  await trx
    .updateTable('verification_requests')
    .set((eb) => ({
      sending_at: now,
      email_id: request.emailId,
      email: request.email,
      token_id: token.id,
      reason: null,
      attempts: eb('attempts', '+', 1),
    }))
    .where('id', '=', request.id)
    .execute();
  return { ...request, tokenId: token.id, token: token.token, replySecret: token.replySecret, expiresAt: token.expiresAt };
}
