import { sql, type Kysely } from 'kysely';
import { Coalescer, coalescerPer } from '../../db/coalesce.js';
import { preparedDb } from '../../db/connect.js';
import type { Database } from '../../db/database.js';
import { recipientFactsColumns, withHasRole, type RecipientFacts } from './recipient-facts.js';

/** One send's claim: the row, the day it must be queued for, and the token to issue with it. */
export interface ClaimRequest {
  recipientId: string;
  day: string;
  now: Date;
  token: { tokenHash: string; expiresAt: Date };
  /** The message's stop-link token, stored with the claim like the verification token. */
  stopToken: { tokenHash: string };
}

/**
 * The send fast path: claims the rows of one send job (each queued for its
 * `day` → sending, stamped) while their campaign runs, and returns each row's
 * facts from the same statement. Undefined for a row that cannot be claimed
 * (not queued, another day, campaign not running, address row gone): the
 * caller then loads the facts to find out why. Claims made at the same moment
 * by the process's other send jobs share the statement (see Coalescer); each
 * request settles on its own.
 */
export function claimAll(db: Kysely<Database>, requests: readonly ClaimRequest[]): Promise<Array<PromiseSettledResult<RecipientFacts | undefined>>> {
  return claimCoalescer(db).submitAll(requests);
}

const claimCoalescer = coalescerPer((db: Kysely<Database>) => new Coalescer((requests: ClaimRequest[]) => claimRecipients(db, requests), { maxBatch: 64, maxInFlight: 2 }));

/**
 * Claims many rows in one statement; the facts of each claimed row, in the
 * order of `requests` (undefined where a row could not be claimed). A row
 * asked for twice is claimed for the first request only: the second finds it
 * taken, as it would one statement later.
 */
export async function claimRecipients(db: Kysely<Database>, requests: readonly ClaimRequest[]): Promise<Array<RecipientFacts | undefined>> {
  const first = new Map<string, number>();
  requests.forEach((request, i) => {
    if (!first.has(request.recipientId)) first.set(request.recipientId, i);
  });
  const unique = [...first.values()].map((i) => requests[i]!);
  // The token rows (verification and stop) are written in the same statement: a claim commits only
  // with its tokens, and only the render stands between the claim and
  // SendEmail, so a crash leaves few rows whose outcome is unknown. The
  // campaign is checked by a sub-select, not a join: joined, the planner may
  // start from the campaign and walk all its queued rows (tens of thousands)
  // for every batch instead of looking up the few asked for by key.
  const result = await sql<Omit<RecipientFacts, 'hasRole'>>`
    WITH wanted AS (
      SELECT * FROM unnest(${unique.map((r) => r.recipientId)}::bigint[], ${unique.map((r) => r.day)}::date[],
                           ${unique.map((r) => r.now)}::timestamptz[], ${unique.map((r) => r.token.tokenHash)}::text[],
                           ${unique.map((r) => r.token.expiresAt)}::timestamptz[], ${unique.map((r) => r.stopToken.tokenHash)}::text[])
        AS w(id, day, now, token_hash, expires_at, stop_token_hash)
    ), claimed AS (
      UPDATE campaign_recipients AS cr
      SET status = 'sending', sending_at = w.now, attempts = cr.attempts + 1, updated_at = w.now
      FROM wanted w, users u, emails e
      WHERE cr.id = w.id AND cr.status = 'queued' AND cr.send_day = w.day
        AND (SELECT c.status FROM campaigns c WHERE c.id = cr.campaign_id) = 'running'
        AND u.id = cr.user_id AND e.id = cr.email_id
      RETURNING ${recipientFactsColumns({
        status: sql<string>`'running'`,
        template: sql<string>`(SELECT c.template FROM campaigns c WHERE c.id = cr.campaign_id)`,
        cooldownDays: sql<number | null>`(SELECT c.cooldown_days FROM campaigns c WHERE c.id = cr.campaign_id)`,
        now: sql<Date>`w.now`,
      })},
             w.now AS claimed_at, w.token_hash, w.expires_at, w.stop_token_hash
    ), issued AS (
      INSERT INTO verification_tokens (token_hash, user_id, email_id, email, purpose, campaign_recipient_id, created_at, expires_at)
      SELECT token_hash, "userId", "emailId", "plannedEmail", 'campaign', id, claimed_at, expires_at FROM claimed
    ), stop_issued AS (
      INSERT INTO stop_tokens (token_hash, user_id, email_id, email, purpose, campaign_recipient_id, created_at)
      SELECT stop_token_hash, "userId", "emailId", "plannedEmail", 'campaign', id, claimed_at FROM claimed
    )
    SELECT id, "campaignId", "userId", "emailId", "plannedEmail", status, "sendDay", "campaignStatus", template, username,
           "isActive", "isTemporary", "currentEmail", "isPrimary", verified, "unverifyReason", suppression,
           "userComplained", projects, attempts, "recentlyMailed"
    FROM claimed`.execute(preparedDb(db));
  const byId = new Map(result.rows.map((row): [string, RecipientFacts] => [String(row.id), withHasRole(row)]));
  return requests.map((request, i) => (first.get(request.recipientId) === i ? byId.get(request.recipientId) : undefined));
}
