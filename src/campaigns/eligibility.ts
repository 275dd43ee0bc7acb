import { sql, type Kysely } from 'kysely';
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

/**
 * The send fast path: claims ledger row `recipientId` (queued for `day` →
 * sending, stamped) while its campaign runs, and returns the facts in the same
 * statement, one round trip. Undefined when the row cannot be claimed (not
 * queued, another day, campaign not running, address row gone): the caller
 * then loads the facts to find out why.
 */
export async function claimRecipient(
  db: Kysely<Database>,
  recipientId: string,
  day: string,
  now: Date,
  token: { tokenHash: string; expiresAt: Date },
): Promise<RecipientFacts | undefined> {
  // The token row is written in the same statement: the claim commits only
  // with it, and only the render stands between the claim and SendEmail, so a
  // crash leaves few rows whose outcome is unknown.
  const result = await sql<RecipientFacts>`
    WITH claimed AS (
      UPDATE campaign_recipients AS cr
      SET status = 'sending', sending_at = ${now}, attempts = cr.attempts + 1, updated_at = ${now}
      FROM campaigns c, users u, emails e
      WHERE cr.id = ${recipientId} AND cr.status = 'queued' AND cr.send_day = ${day}::date
        AND c.id = cr.campaign_id AND c.status = 'running' AND u.id = cr.user_id AND e.id = cr.email_id
      RETURNING cr.id, cr.campaign_id AS "campaignId", cr.user_id AS "userId", cr.email_id AS "emailId",
             cr.email AS "plannedEmail", cr.status, cr.send_day::text AS "sendDay",
             c.status AS "campaignStatus", c.template,
             u.username, u.is_active AS "isActive", u.is_temporary AS "isTemporary",
             e.email AS "currentEmail", e.is_primary AS "isPrimary", e.verified, e.unverify_reason AS "unverifyReason",
             (SELECT s.reason FROM suppressions s WHERE s.email = lower(e.email)) AS suppression,
             EXISTS (SELECT 1 FROM emails c WHERE c.user_id = cr.user_id AND c.unverify_reason = 'complaint') AS "userComplained",
             EXISTS (SELECT 1 FROM roles r WHERE r.user_id = cr.user_id) AS "hasRole",
             ARRAY(SELECT r.project_name FROM roles r WHERE r.user_id = cr.user_id ORDER BY r.project_name LIMIT 20) AS projects
    ), issued AS (
      INSERT INTO verification_tokens (token_hash, user_id, email_id, email, purpose, campaign_recipient_id, created_at, expires_at)
      SELECT ${token.tokenHash}, "userId", "emailId", "plannedEmail", 'campaign', id, ${now}, ${token.expiresAt} FROM claimed
    )
    SELECT * FROM claimed`.execute(db);
  return result.rows[0];
}
