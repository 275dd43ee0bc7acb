import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, RecipientStatus } from '../../db/database.js';
import { mailedWithinCooldown } from './cooldown.js';
import { userComplainedSql } from '../../mail/send-policy.js';

/**
 * The per-send re-check: right before a send, the person must still be in the
 * segment (./segment.ts has the rule as planning applies it). The facts are
 * read by loadRecipientFacts, and by the send path's claim (./claim.ts) in
 * the statement that claims the row; both select recipientFactsColumns.
 */

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
  /** Has any address of this user complained or asked to stop? Then none of them is mailed. */
  userComplained: boolean;
  hasRole: boolean;
  projects: string[];
  /** Claims of this row so far (this one included, in a claim): the `attempt` mail tag. */
  attempts: number;
  /** Mailed by another campaign within this campaign's cooldown (./cooldown.ts). */
  recentlyMailed: boolean;
}

/**
 * The columns of RecipientFacts but `hasRole` (see withHasRole), over the
 * aliases `cr` (the ledger row), `u` (its user) and `e` (its address row,
 * possibly absent). The caller says where the campaign's status and template
 * come from.
 */
export function recipientFactsColumns(campaign: {
  status: RawBuilder<string>;
  template: RawBuilder<string>;
  cooldownDays: RawBuilder<number | null>;
  now: RawBuilder<Date>;
}): RawBuilder<unknown> {
  const recentlyMailed = mailedWithinCooldown({ userId: sql`cr.user_id`, campaignId: sql`cr.campaign_id`, days: campaign.cooldownDays, now: campaign.now });
  return sql`cr.id, cr.campaign_id AS "campaignId", cr.user_id AS "userId", cr.email_id AS "emailId",
           cr.email AS "plannedEmail", cr.status, cr.send_day::text AS "sendDay",
           ${campaign.status} AS "campaignStatus", ${campaign.template} AS template,
           u.username, u.is_active AS "isActive", u.is_temporary AS "isTemporary",
           e.email AS "currentEmail", coalesce(e.is_primary, false) AS "isPrimary",
           coalesce(e.verified, false) AS verified, e.unverify_reason AS "unverifyReason",
           (SELECT s.reason FROM suppressions s WHERE s.email = lower(e.email)) AS suppression,
           ${userComplainedSql(sql.ref('cr.user_id'))} AS "userComplained",
           ARRAY(SELECT r.project_name FROM roles r WHERE r.user_id = cr.user_id ORDER BY r.project_name LIMIT 20) AS projects,
           cr.attempts, ${recentlyMailed} AS "recentlyMailed"`;
}

/** Whether the person holds a role is whether their project list is empty: one look at their roles instead of two. */
export function withHasRole(row: Omit<RecipientFacts, 'hasRole'>): RecipientFacts {
  return { ...row, hasRole: row.projects.length > 0 };
}

/** Loads the facts about ledger row `recipientId` in one query (as of `now`); undefined when the row is gone. */
export async function loadRecipientFacts(db: Kysely<Database>, recipientId: string, now?: Date): Promise<RecipientFacts | undefined> {
  const at = now === undefined ? sql<Date>`now()` : sql<Date>`${now}::timestamptz`;
  const result = await sql<Omit<RecipientFacts, 'hasRole'>>`
    SELECT ${recipientFactsColumns({ status: sql<string>`c.status`, template: sql<string>`c.template`, cooldownDays: sql<number | null>`c.cooldown_days`, now: at })}
    FROM campaign_recipients cr
    JOIN campaigns c ON c.id = cr.campaign_id
    JOIN users u ON u.id = cr.user_id
    LEFT JOIN emails e ON e.id = cr.email_id
    WHERE cr.id = ${recipientId}`.execute(db);
  const row = result.rows[0];
  return row === undefined ? undefined : withHasRole(row);
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
  if (facts.recentlyMailed) return 'recently_mailed';
  return null;
}
