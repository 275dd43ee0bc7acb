import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database, TokenPurpose, VerificationTokensTable } from '../db/database.js';
import { base32, linkTokenOfReplySecret, REPLY_SECRET_BYTES } from './reply-secret.js';

/**
 * Verification tokens: 160 random bits (the reply secret, see
 * reply-secret.ts, from which the link token is derived), handed to the user
 * once (in the link and the Reply-To) and stored only as the link token's sha256. A database dump or a log of the table
 * therefore confirms nothing. Lookup is by hash, so no comparison of secrets
 * happens in application code.
 */

/** base64url of 32 bytes, no padding. Anything else cannot be one of our tokens. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type VerificationToken = Selectable<VerificationTokensTable>;

export interface IssueTokenInput {
  userId: string;
  emailId: string;
  /** The address being confirmed, as stored in `emails.email`. */
  email: string;
  purpose: TokenPurpose;
  campaignRecipientId?: string | null;
  now: Date;
  ttlHours: number;
}

/** A token as issued: the secret for the link, the reply secret it comes from, the hash to store, its expiry. */
export interface NewToken {
  token: string;
  /** For the Reply-To address (reply-secret.ts); `token` is derived from it. */
  replySecret: string;
  tokenHash: string;
  expiresAt: Date;
}

/**
 * A new token and what is stored of it, for callers that write the row inside
 * a larger statement (the campaign send claims its row and issues its token
 * in one round trip).
 */
export function newVerificationToken(now: Date, ttlHours: number): NewToken {
  return newVerificationTokens(1, now, ttlHours)[0]!;
}

/**
 * `count` new tokens at once (a send job issues one per row): the random bits
 * of all of them come from one call to the system's generator, which costs a
 * send job's worker a quarter of one call per token.
 */
export function newVerificationTokens(count: number, now: Date, ttlHours: number): NewToken[] {
  if (!(ttlHours > 0)) throw new Error(`token lifetime must be a positive number of hours, got ${ttlHours}`);
  const random = randomBytes(REPLY_SECRET_BYTES * count);
  const expiresAt = new Date(now.getTime() + ttlHours * 3_600_000);
  return Array.from({ length: count }, (_, i) => {
    const replySecret = base32(random.subarray(i * REPLY_SECRET_BYTES, (i + 1) * REPLY_SECRET_BYTES));
    const token = linkTokenOfReplySecret(replySecret);
    return { token, replySecret, tokenHash: hashToken(token), expiresAt };
  });
}

/** Issues a token for `input.email` and stores its hash; the returned token is never stored. */
export async function issueVerificationToken(
  db: Kysely<Database>,
  input: IssueTokenInput,
): Promise<{ token: string; replySecret: string; expiresAt: Date; id: string }> {
  const { token, replySecret, tokenHash, expiresAt } = newVerificationToken(input.now, input.ttlHours);
  const row = await db
    .insertInto('verification_tokens')
    .values({
      token_hash: tokenHash,
      user_id: input.userId,
      email_id: input.emailId,
      email: input.email,
      purpose: input.purpose,
      campaign_recipient_id: input.campaignRecipientId ?? null,
      created_at: input.now,
      expires_at: expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { token, replySecret, expiresAt, id: row.id };
}

/** The link a message carries: `${baseUrl}/verify/${token}`, nothing added (no tracking). */
export function verificationUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/verify/${encodeURIComponent(token)}`;
}

/** sha256 hex of a token: the only form in which tokens are stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` has the shape of a token we issue (saves a query on junk). */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** What a token's state is at `now`, without changing anything. */
export type TokenState = 'valid' | 'used' | 'expired' | 'unknown';

/** Finds a token row by the token's hash; null when there is none. */
export async function findToken(db: Kysely<Database>, token: string): Promise<VerificationToken | null> {
  if (!isWellFormedToken(token)) return null;
  const row = await db.selectFrom('verification_tokens').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst();
  return row ?? null;
}

/** The state of a token row at `now`: used wins over expired (it was used while valid). */
export function tokenState(row: VerificationToken | null, now: Date): TokenState {
  if (!row) return 'unknown';
  if (row.used_at !== null) return 'used';
  if (row.expires_at.getTime() <= now.getTime()) return 'expired';
  return 'valid';
}
