import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, StopTokensTable } from '../db/database.js';
import { hashToken } from './tokens.js';

/**
 * Stop-link tokens: every campaign and verification message carries one, in
 * its body ("this is not me / stop these messages") and in its RFC 8058
 * List-Unsubscribe header. Made and stored like verification tokens (256
 * random bits, only the sha256 kept, the same token shape), but a token of
 * its own, so the stop link confirms nothing and the verification link stops
 * nothing. Stop links do not expire (see migrations/0012).
 */

const TOKEN_BYTES = 32;

/** A stop token as issued: the secret for the link and the hash to store. */
export interface NewStopToken {
  token: string;
  tokenHash: string;
}

/** `count` new stop tokens, their random bits from one call to the system's generator. */
export function newStopTokens(count: number): NewStopToken[] {
  const random = randomBytes(TOKEN_BYTES * count);
  return Array.from({ length: count }, (_, i) => {
    const token = random.toString('base64url', i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES);
    return { token, tokenHash: hashToken(token) };
  });
}

export interface IssueStopTokenInput {
  userId: string;
  emailId: string;
  /** The address the message goes to, as stored in `emails.email`. */
  email: string;
  purpose: StopTokensTable['purpose'];
  campaignRecipientId?: string | null;
  now: Date;
}

/** Issues a stop token for a message to `input.email` and stores its hash; the returned token is never stored. */
export async function issueStopToken(db: Kysely<Database>, input: IssueStopTokenInput): Promise<{ token: string }> {
  const [{ token, tokenHash }] = newStopTokens(1) as [NewStopToken];
  await db
    .insertInto('stop_tokens')
    .values({
      token_hash: tokenHash,
      user_id: input.userId,
      email_id: input.emailId,
      email: input.email,
      purpose: input.purpose,
      campaign_recipient_id: input.campaignRecipientId ?? null,
      created_at: input.now,
    })
    .execute();
  return { token };
}

/** The stop link a message carries: `${baseUrl}/stop/${token}`, nothing added. */
export function stopUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/stop/${encodeURIComponent(token)}`;
}

/**
 * The RFC 8058 headers for a message whose stop link is `url`: mailbox
 * providers show their own "unsubscribe" button and POST
 * `List-Unsubscribe=One-Click` to the link when it is pressed.
 */
export function stopHeaders(url: string): Record<string, string> {
  return { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}
