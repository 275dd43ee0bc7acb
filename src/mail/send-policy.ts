import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/database.js';
import { isSuppressed } from './suppressions.js';

/**
 * The send policy, the one gate every message passes: mail only ever goes to
 * the user's primary address; an unverified or suppressed address gets
 * nothing but verification mail; an address suppressed for a complaint gets
 * only the verification mail its owner asks for (a complaint is a strong
 * signal to stop, so not even a campaign asks again) — and a complaint from
 * any address of a person is never answered by mailing another of their
 * addresses, except the verification they ask for themselves.
 */

/** What kind of mail is about to be sent. */
export type MailKind =
  /** A re-verification campaign's message. */
  | 'campaign'
  /** A verification link the user asked for. */
  | 'user_request'
  /** Anything else (notices): needs a verified, unsuppressed address. */
  | 'notice';

export interface SendPolicyInput {
  kind: MailKind;
  /** Is the address the user's primary one right now? */
  isPrimary: boolean;
  verified: boolean;
  /** The suppression in force for the address, if any (hard_bounce, soft_bounce, complaint, manual). */
  suppression: string | null;
  /** Has any address of the same user complained (unverify_reason = complaint)? */
  userComplained: boolean;
}

export type SendPolicyDecision = { allowed: true } | { allowed: false; reason: string };

const VERIFICATION_KINDS: ReadonlySet<MailKind> = new Set(['campaign', 'user_request']);

/** Decides whether a message of `kind` may go to the address described. */
export function decideSendPolicy(input: SendPolicyInput): SendPolicyDecision {
  if (!input.isPrimary) return { allowed: false, reason: 'not_primary_address' };
  if (input.suppression === 'complaint' && input.kind !== 'user_request') {
    return { allowed: false, reason: 'suppressed_complaint' };
  }
  if (input.userComplained && input.kind !== 'user_request') return { allowed: false, reason: 'user_complained' };
  if (input.suppression !== null && !VERIFICATION_KINDS.has(input.kind)) {
    return { allowed: false, reason: `suppressed_${input.suppression}` };
  }
  if (!input.verified && !VERIFICATION_KINDS.has(input.kind)) return { allowed: false, reason: 'unverified_address' };
  return { allowed: true };
}

/**
 * Loads what the policy needs about address `emailId` (as it is now) and
 * decides; for senders that do not already hold those facts.
 */
export async function checkSendPolicy(
  db: Kysely<Database>,
  input: { emailId: string; kind: MailKind },
): Promise<SendPolicyDecision> {
  const email = await db
    .selectFrom('emails')
    .select((eb) => [
      'email',
      'is_primary',
      'verified',
      userComplainedSql(eb.ref('user_id')).as('user_complained'),
    ])
    .where('id', '=', input.emailId)
    .executeTakeFirst();
  if (!email) return { allowed: false, reason: 'address_gone' };
  const suppression = await isSuppressed(db, email.email);
  return decideSendPolicy({
    kind: input.kind,
    isPrimary: email.is_primary,
    verified: email.verified,
    suppression: suppression?.reason ?? null,
    userComplained: email.user_complained,
  });
}

/** SQL: has any address of user `userId` been unverified for a complaint? (emails_user_id_idx) */
export function userComplainedSql(userId: Expression<string>): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (SELECT 1 FROM emails c WHERE c.user_id = ${userId} AND c.unverify_reason = 'complaint')`;
}
