import { sql, type Kysely } from 'kysely';
import { Coalescer, coalescerPer } from '../db/coalesce.js';
import { preparedDb } from '../db/connect.js';
import type { Database, RecipientStatus } from '../db/database.js';

/**
 * What the sender knows about a ledger row right before it sends: the row,
 * its campaign, and the user and address as they are now (someone may have
 * verified, bounced, complained or been deactivated since planning).
 */
export interface RecipientFacts {
  id: string;
  campaignId: string;
  userId: string;
  emailId: string;
  /** The address the row was planned for. */
  plannedEmail: string;
  status: RecipientStatus;
  sendDay: string | null;
  campaignStatus: string;
  template: string;
  username: string;
  isActive: boolean;
  isTemporary: boolean;
  /** The address row now; null when it was deleted. */
  currentEmail: string | null;
  isPrimary: boolean;
  verified: boolean;
  unverifyReason: string | null;
  suppression: string | null;
  /** Has any address of this user complained? Then none of them is mailed. */
  userComplained: boolean;
  hasRole: boolean;
  projects: string[];
}

/** Loads the facts about ledger row `recipientId` in one query; undefined when the row is gone. */
export async function loadRecipientFacts(db: Kysely<Database>, recipientId: string): Promise<RecipientFacts | undefined> {
  const result = await sql<RecipientFacts>`
    SELECT cr.id, cr.campaign_id AS "campaignId", cr.user_id AS "userId", cr.email_id AS "emailId",
           cr.email AS "plannedEmail", cr.status, cr.send_day::text AS "sendDay",
           c.status AS "campaignStatus", c.template,
           u.username, u.is_active AS "isActive", u.is_temporary AS "isTemporary",
           e.email AS "currentEmail", coalesce(e.is_primary, false) AS "isPrimary",
           coalesce(e.verified, false) AS verified, e.unverify_reason AS "unverifyReason",
           s.reason AS suppression,
           EXISTS (SELECT 1 FROM emails c WHERE c.user_id = cr.user_id AND c.unverify_reason = 'complaint') AS "userComplained",
           EXISTS (SELECT 1 FROM roles r WHERE r.user_id = cr.user_id) AS "hasRole",
           ARRAY(SELECT r.project_name FROM roles r WHERE r.user_id = cr.user_id ORDER BY r.project_name LIMIT 20) AS projects
    FROM campaign_recipients cr
    JOIN campaigns c ON c.id = cr.campaign_id
    JOIN users u ON u.id = cr.user_id
    LEFT JOIN emails e ON e.id = cr.email_id
    LEFT JOIN suppressions s ON s.email = lower(e.email)
    WHERE cr.id = ${recipientId}`.execute(db);
  return result.rows[0];
}

/**
 * Why the person is no longer in the segment, or null when they still are.
 * The reason is what the ledger records on the skipped row.
 */
export function ineligibilityReason(facts: RecipientFacts): string | null {
  if (!facts.isActive) return 'deactivated';
  if (facts.isTemporary) return 'temporary';
  if (facts.currentEmail === null) return 'address_removed';
  if (!facts.isPrimary) return 'primary_changed';
  if (facts.currentEmail.toLowerCase() !== facts.plannedEmail.toLowerCase()) return 'address_changed';
  if (facts.verified) return 'verified';
  if (facts.unverifyReason === 'hard_bounce' || facts.unverifyReason === 'soft_bounce') return 'bounced';
  if (facts.unverifyReason === 'complaint') return 'complained';
  if (facts.unverifyReason !== null) return `unverified_${facts.unverifyReason}`;
  if (facts.suppression !== null) return 'suppressed';
  if (facts.userComplained) return 'complained_other_address';
  if (!facts.hasRole) return 'no_role';
  return null;
}

/** One send's claim: the row, the day it must be queued for, and the token to issue with it. */
export interface ClaimRequest {
  recipientId: string;
  day: string;
  now: Date;
  token: { tokenHash: string; expiresAt: Date };
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
  // The token rows are written in the same statement: a claim commits only
  // with its token, and only the render stands between the claim and
  // SendEmail, so a crash leaves few rows whose outcome is unknown. The
  // campaign is checked by a sub-select, not a join: joined, the planner may
  // start from the campaign and walk all its queued rows (tens of thousands)
  // for every batch instead of looking up the few asked for by key.
  // Whether the person holds a role is whether their project list is empty:
  // one look at their roles instead of two.
  const result = await sql<Omit<RecipientFacts, 'hasRole'>>`
    WITH wanted AS (
      SELECT * FROM unnest(${unique.map((r) => r.recipientId)}::bigint[], ${unique.map((r) => r.day)}::date[],
                           ${unique.map((r) => r.now)}::timestamptz[], ${unique.map((r) => r.token.tokenHash)}::text[],
                           ${unique.map((r) => r.token.expiresAt)}::timestamptz[])
        AS w(id, day, now, token_hash, expires_at)
    ), claimed AS (
      UPDATE campaign_recipients AS cr
      SET status = 'sending', sending_at = w.now, attempts = cr.attempts + 1, updated_at = w.now
      FROM wanted w, users u, emails e
      WHERE cr.id = w.id AND cr.status = 'queued' AND cr.send_day = w.day
        AND (SELECT c.status FROM campaigns c WHERE c.id = cr.campaign_id) = 'running'
        AND u.id = cr.user_id AND e.id = cr.email_id
      RETURNING cr.id, cr.campaign_id AS "campaignId", cr.user_id AS "userId", cr.email_id AS "emailId",
             cr.email AS "plannedEmail", cr.status, cr.send_day::text AS "sendDay",
             'running' AS "campaignStatus", (SELECT c.template FROM campaigns c WHERE c.id = cr.campaign_id) AS template,
             u.username, u.is_active AS "isActive", u.is_temporary AS "isTemporary",
             e.email AS "currentEmail", e.is_primary AS "isPrimary", e.verified, e.unverify_reason AS "unverifyReason",
             (SELECT s.reason FROM suppressions s WHERE s.email = lower(e.email)) AS suppression,
             EXISTS (SELECT 1 FROM emails c WHERE c.user_id = cr.user_id AND c.unverify_reason = 'complaint') AS "userComplained",
             ARRAY(SELECT r.project_name FROM roles r WHERE r.user_id = cr.user_id ORDER BY r.project_name LIMIT 20) AS projects,
             w.now AS claimed_at, w.token_hash, w.expires_at
    ), issued AS (
      INSERT INTO verification_tokens (token_hash, user_id, email_id, email, purpose, campaign_recipient_id, created_at, expires_at)
      SELECT token_hash, "userId", "emailId", "plannedEmail", 'campaign', id, claimed_at, expires_at FROM claimed
    )
    SELECT id, "campaignId", "userId", "emailId", "plannedEmail", status, "sendDay", "campaignStatus", template, username,
           "isActive", "isTemporary", "currentEmail", "isPrimary", verified, "unverifyReason", suppression,
           "userComplained", projects
    FROM claimed`.execute(preparedDb(db));
  const byId = new Map(result.rows.map((row): [string, RecipientFacts] => [String(row.id), { ...row, hasRole: row.projects.length > 0 }]));
  return requests.map((request, i) => (first.get(request.recipientId) === i ? byId.get(request.recipientId) : undefined));
}
