import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * The send policy, the one gate every message passes: mail only ever goes to
 * the user's primary address; an unverified or suppressed address gets
 * nothing but verification mail; an address suppressed for a complaint or
 * for the recipient's own stop (`recipient_request`) gets only the
 * verification mail its owner asks for (a strong signal to stop, so not even
 * a campaign asks again) — and a complaint or a stop from any address of a
 * person is never answered by mailing another of their addresses, except the
 * verification they ask for themselves.
 *
 * The same rule is the SQL function reverify_may_send (migrations/0012) the
 * site calls for its own mail; decideSendPolicy is tested to agree with it
 * row for row (test/mail/may-send-function.test.ts), and checkSendPolicy
 * simply asks it.
 */

/** What kind of mail is about to be sent. */
export type MailKind =
  /** A re-verification campaign's message (and a verification the site or an operator asks for). */
  | 'campaign'
  /** A verification link the user asked for. */
  | 'user_request'
  /** Anything else (notices): needs a verified, unsuppressed address. */
  | 'notice';

/** The kind names of reverify_may_send(email_id, kind) for each MailKind. */
export const SQL_MAIL_KIND: Readonly<Record<MailKind, string>> = {
  campaign: 'verification_campaign',
  user_request: 'verification_user_requested',
  notice: 'other',
};

export interface SendPolicyInput {
  kind: MailKind;
  /** Is the address the user's primary one right now? */
  isPrimary: boolean;
  verified: boolean;
  /** The suppression in force for the address, if any (hard_bounce, soft_bounce, complaint, manual, recipient_request). */
  suppression: string | null;
  /** Has any address of the same user complained, or asked to stop (see userComplainedSql)? */
  userComplained: boolean;
}

export type SendPolicyDecision = { allowed: true } | { allowed: false; reason: string };

const VERIFICATION_KINDS: ReadonlySet<MailKind> = new Set(['campaign', 'user_request']);
/** Suppressions that stop everything but the verification the person asks for. */
const STOP_ALL_REASONS: ReadonlySet<string> = new Set(['complaint', 'recipient_request']);

/** Decides whether a message of `kind` may go to the address described. */
export function decideSendPolicy(input: SendPolicyInput): SendPolicyDecision {
  if (!input.isPrimary) return { allowed: false, reason: 'not_primary_address' };
  if (input.kind !== 'user_request') {
    if (input.suppression !== null && STOP_ALL_REASONS.has(input.suppression)) {
      return { allowed: false, reason: `suppressed_${input.suppression}` };
    }
    if (input.userComplained) return { allowed: false, reason: 'user_complained' };
  }
  if (input.suppression !== null && !VERIFICATION_KINDS.has(input.kind)) {
    return { allowed: false, reason: `suppressed_${input.suppression}` };
  }
  if (!input.verified && !VERIFICATION_KINDS.has(input.kind)) return { allowed: false, reason: 'unverified_address' };
  return { allowed: true };
}

/**
 * Decides for address `emailId` as it is now, by asking the database's
 * reverify_may_send: for senders that do not already hold the facts.
 */
export async function checkSendPolicy(
  db: Kysely<Database>,
  input: { emailId: string; kind: MailKind },
): Promise<SendPolicyDecision> {
  const { rows } = await sql<{ reason: string | null }>`
    SELECT reverify_may_send(${input.emailId}::bigint, ${SQL_MAIL_KIND[input.kind]}) AS reason`.execute(db);
  const reason = rows[0]?.reason ?? null;
  return reason === null ? { allowed: true } : { allowed: false, reason };
}

/**
 * SQL: has any address of user `userId` been unverified for a complaint, or
 * been suppressed for a complaint or the recipient's stop? (emails_user_id_idx,
 * then suppressions by address)
 */
export function userComplainedSql(userId: Expression<string>): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (SELECT 1 FROM emails c WHERE c.user_id = ${userId} AND (c.unverify_reason = 'complaint'
    OR EXISTS (SELECT 1 FROM suppressions cs WHERE cs.email = lower(c.email) AND cs.reason IN ('complaint', 'recipient_request'))))`;
}

/**
 * SQL: every user with an address unverified for a complaint or suppressed
 * for a complaint or the recipient's stop — the people userComplainedSql
 * finds, as one set. For walks over many people (planning, the preview's
 * breakdown): read once a statement from two small partial indexes
 * (migration 0015) and probed as a hash, instead of reading every address of
 * every person. `fromUserId`: only users after it (a keyset walk's cursor).
 */
export function complainedUsersSql(fromUserId?: string | null): RawBuilder<string> {
  const after = fromUserId === undefined || fromUserId === null ? sql`` : sql` AND c.user_id > ${fromUserId}::bigint`;
  return sql<string>`SELECT c.user_id FROM emails c WHERE c.unverify_reason = 'complaint'${after}
    UNION ALL
    SELECT c.user_id FROM suppressions cs JOIN emails c ON lower(c.email) = cs.email
    WHERE cs.reason IN ('complaint', 'recipient_request')${after}`;
}
