import type { ColumnType, Generated } from 'kysely';

/**
 * The tables of verification the site asks for and verification by reply
 * (migration 0011), kept beside database.ts, which lists them in Database.
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Id = ColumnType<string, string | number | bigint, string | number | bigint>;
type GeneratedId = ColumnType<string, string | number | bigint | undefined, never>;
type Json = ColumnType<unknown, string, string>;

export type VerificationRequestOutcome = 'sent' | 'throttled' | 'unknown_user' | 'not_eligible' | 'failed' | 'unknown_outcome';

/** A verification mail asked for by the site (`user`) or an operator; the row is also that mail's ledger row. */
export interface VerificationRequestsTable {
  id: GeneratedId;
  user_id: Id;
  requested_by: ColumnType<'user' | 'operator', 'user' | 'operator' | undefined, 'user' | 'operator'>;
  requested_at: Timestamp;
  processed_at: NullableTimestamp;
  outcome: VerificationRequestOutcome | null;
  /** Why the outcome is what it is (not_eligible: inactive, already_verified, …; failed: the SES error). */
  reason: string | null;
  email_id: Id | null;
  email: string | null;
  token_id: Id | null;
  attempts: Generated<number>;
  /** A retryable send failure leaves the row pending until then. */
  next_attempt_at: NullableTimestamp;
  /** Set when claimed for sending: counts toward the throttle; left set by a crash, it means "outcome unknown". */
  sending_at: NullableTimestamp;
  sent_at: NullableTimestamp;
  ses_message_id: string | null;
}

/** An SES inbound notification (a reply to a verification mail) and what it did. */
export interface InboundRepliesTable {
  id: GeneratedId;
  sns_message_id: string;
  ses_message_id: string | null;
  received_at: Timestamp;
  from_address: string | null;
  /** The reply address's target (an email id), never its secret. */
  target: string | null;
  token_id: Id | null;
  email_id: Id | null;
  outcome: 'verified' | 'refused';
  reason: string | null;
  verdicts: Json;
  /** SES receipt action: SNS (content included) or S3 (headers only). */
  action_type: string | null;
}
