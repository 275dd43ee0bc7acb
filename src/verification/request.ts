import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { issueStopToken, stopUrl } from './stop-tokens.js';
import { issueVerificationToken, verificationUrl } from './tokens.js';

/**
 * A verification the user asks for ("send me a new link"). Only the token is
 * made here; the message goes through the send module, whose policy allows
 * user-requested verification mail even to a suppressed address.
 */

export class VerificationRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerificationRequestError';
  }
}

export interface VerificationRequest {
  userId: string;
  emailId: string;
  email: string;
  username: string;
  token: string;
  url: string;
  expiresAt: Date;
  /** The message's stop link (body and List-Unsubscribe headers: see stop-tokens.ts stopHeaders). */
  stopUrl: string;
}

/**
 * Issues a 'user_request' token for the user's primary address, and the stop
 * token its message carries; refuses inactive accounts and verified addresses.
 */
export async function requestVerification(
  db: Kysely<Database>,
  config: Pick<Config, 'PUBLIC_BASE_URL' | 'VERIFY_TOKEN_TTL_HOURS'>,
  userId: string,
  now: Date,
): Promise<VerificationRequest> {
  const row = await db
    .selectFrom('users')
    .leftJoin('emails', (join) => join.onRef('emails.user_id', '=', 'users.id').on('emails.is_primary', '=', true))
    .select([
      'users.id as userId',
      'users.username',
      'users.is_active',
      'users.expired_at',
      'emails.id as emailId',
      'emails.email',
      'emails.verified',
    ])
    .where('users.id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new VerificationRequestError(`user ${userId} does not exist`);
  if (!row.is_active || row.expired_at !== null) {
    throw new VerificationRequestError(`user ${userId} is deactivated or expired; no verification link is issued for it`);
  }
  if (row.emailId === null || row.email === null) {
    throw new VerificationRequestError(`user ${userId} has no primary email address to verify`);
  }
  if (row.verified) throw new VerificationRequestError(`the primary address of user ${userId} is already verified`);
  const { token, expiresAt } = await issueVerificationToken(db, {
    userId: row.userId,
    emailId: row.emailId,
    email: row.email,
    purpose: 'user_request',
    now,
    ttlHours: config.VERIFY_TOKEN_TTL_HOURS,
  });
  const stop = await issueStopToken(db, { userId: row.userId, emailId: row.emailId, email: row.email, purpose: 'verification', now });
  return {
    userId: row.userId,
    emailId: row.emailId,
    email: row.email,
    username: row.username,
    token,
    url: verificationUrl(config.PUBLIC_BASE_URL, token),
    expiresAt,
    stopUrl: stopUrl(config.PUBLIC_BASE_URL, stop.token),
  };
}
