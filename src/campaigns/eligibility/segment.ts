import { sql, type Kysely, type QueryCreator } from 'kysely';
import { hasVerifiedSecondarySql } from '../../accounts/promote-secondaries.js';
import type { Database } from '../../db/database.js';
import { campaignCooldownCheck, type CooldownRule } from './cooldown.js';
import { complainedUsersSql } from '../../mail/send-policy.js';

/**
 * The segment `unverified-role-holders`: active, non-temporary users whose
 * primary address is unverified with no unverify_reason, who hold at least one
 * role, whose address is not suppressed, none of whose addresses complained
 * (a complaint is never answered by mailing another address), who are not yet in this
 * campaign's ledger, and whom no other campaign mailed within the campaign's
 * cooldown (./cooldown.ts). One set-based query: it walks
 * emails_unverified_primary_idx in user order, reading the index alone (it
 * carries the address; keyset pagination by user id is an index range scan),
 * probes users, roles, suppressions and the ledger by their unique indexes
 * (the cooldown by campaign_recipients_mailed_idx), and checks complaints
 * against the set of people who complained, read once a statement
 * (complainedUsersSql). The same rule is checked again per send, on the
 * facts as they are then (./recipient-facts.ts, ineligibilityReason).
 */

export const SEGMENTS = ['unverified-role-holders'] as const;
export type SegmentName = (typeof SEGMENTS)[number];

/** True when `name` is a segment reverify knows. */
export function isSegmentName(name: string): name is SegmentName {
  return (SEGMENTS as readonly string[]).includes(name);
}

/**
 * The segment's members not yet in `campaignId`'s ledger, as (user_id,
 * email_id, email), optionally after a keyset cursor; the cooldown is the
 * campaign's own unless `cooldown` says otherwise (a dry run has no campaign).
 */
export function segmentQuery(qc: QueryCreator<Database>, campaignId: string, afterUserId?: string | null, cooldown: CooldownRule = {}) {
  const cursor = afterUserId ?? null;
  // Every probe by person repeats the cursor: the keyset bound then also
  // bounds a merge join's walk of that index, which would otherwise start at
  // the first user for every batch (planning would grow with the square of
  // the users).
  const after = (column: string) => (cursor === null ? sql<boolean>`TRUE` : sql<boolean>`${sql.ref(column)} > ${cursor}::bigint`);
  return qc
    .selectFrom('emails as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.user_id', 'e.id as email_id', 'e.email'])
    .where('e.is_primary', '=', true)
    .where('e.verified', '=', false)
    .where('e.unverify_reason', 'is', null)
    .where(after('e.user_id'))
    .where(after('u.id'))
    .where('u.is_active', '=', true)
    .where('u.is_temporary', '=', false)
    .where(({ exists, selectFrom }) =>
      exists(selectFrom('roles as r').select(sql.lit(1).as('one')).whereRef('r.user_id', '=', 'e.user_id').where(after('r.user_id'))),
    )
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('suppressions as s').select(sql.lit(1).as('one')).where('s.email', '=', sql<string>`lower(e.email)`))),
    )
    // A complaint or a stop from any of the person's addresses: none of them is asked again.
    .where(sql<boolean>`e.user_id NOT IN (${complainedUsersSql(cursor)})`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('campaign_recipients as cr')
            .select(sql.lit(1).as('one'))
            .whereRef('cr.user_id', '=', 'e.user_id')
            .where(after('cr.user_id'))
            .where(ledgerCampaignIs(campaignId)),
        ),
      ),
    )
    .where(({ not }) => not(campaignCooldownCheck(sql.ref('e.user_id'), campaignId, { ...cooldown, afterUserId: cursor })));
}

/**
 * `cr.campaign_id = <id>`, written so that no index can answer it: the ledger
 * is then probed by person (campaign_recipients_user_campaign_key, led by
 * the user: a person's few rows). The statistics often have not seen a new
 * campaign yet (the last ANALYZE came before it), so the planner takes it
 * for a one-row campaign and would probe by campaign instead — reading all
 * the rows the campaign already has, once per person: planning a large
 * campaign went quadratic.
 */
function ledgerCampaignIs(campaignId: string) {
  return sql<boolean>`cr.campaign_id + 0 = ${campaignId}::bigint`;
}

/** How many people the segment holds for `campaignId` right now (members not yet in its ledger, the cooldown applied). */
export async function countSegment(db: Kysely<Database>, campaignId: string, cooldown: CooldownRule = {}): Promise<number> {
  const row = await db
    .selectFrom(segmentQuery(db, campaignId, null, cooldown).as('segment'))
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Why a user is not in the segment: the first rule they fail, in the order the contract lists them. */
export type ExclusionReason =
  | 'inactive'
  | 'temporary'
  | 'no_primary_address'
  | 'verified'
  | 'has_unverify_reason'
  | 'no_role'
  | 'suppressed'
  | 'complained_other_address'
  | 'already_mailed'
  | 'recently_mailed'
  /**
   * Not a rule of the segment (these people are in `eligible` too and will be
   * mailed): how many of the eligible have a verified secondary address that
   * `reverify emails promote-verified-secondaries` would make their primary,
   * which takes them out of the segment. Shown so the operator can decide first.
   */
  | 'has_verified_secondary';

/**
 * Every user sorted into `eligible` or the first rule that excludes them, in
 * one pass over users. The `eligible` figure equals countSegment(); `cooldown`
 * as there (a campaign not saved yet says which cooldown it would have).
 */
export async function segmentBreakdown(
  db: Kysely<Database>,
  campaignId: string | null,
  cooldown: CooldownRule = {},
): Promise<{ eligible: number; excluded: Partial<Record<ExclusionReason, number>> }> {
  // campaign id 0 never exists: "already mailed" is then always false.
  const ledgerCampaign = campaignId ?? '0';
  const result = await sql<{ reason: string; n: string }>`
    SELECT reason, count(*) AS n FROM (
      SELECT CASE
        WHEN NOT u.is_active THEN 'inactive'
        WHEN u.is_temporary THEN 'temporary'
        WHEN e.id IS NULL THEN 'no_primary_address'
        WHEN e.verified THEN 'verified'
        WHEN e.unverify_reason IS NOT NULL THEN 'has_unverify_reason'
        WHEN NOT EXISTS (SELECT 1 FROM roles r WHERE r.user_id = u.id) THEN 'no_role'
        WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(e.email)) THEN 'suppressed'
        WHEN u.id IN (${complainedUsersSql()}) THEN 'complained_other_address'
        WHEN EXISTS (SELECT 1 FROM campaign_recipients cr WHERE cr.user_id = u.id AND ${ledgerCampaignIs(ledgerCampaign)})
          THEN 'already_mailed'
        WHEN ${campaignCooldownCheck(sql.ref('u.id'), ledgerCampaign, cooldown)} THEN 'recently_mailed'
        ELSE 'eligible' END AS reason
      FROM users u
      LEFT JOIN emails e ON e.user_id = u.id AND e.is_primary
    ) AS sorted
    GROUP BY reason`.execute(db);
  let eligible = 0;
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  for (const row of result.rows) {
    if (row.reason === 'eligible') eligible = Number(row.n);
    else excluded[row.reason as ExclusionReason] = Number(row.n);
  }
  const promotable = await db
    .selectFrom(segmentQuery(db, ledgerCampaign).where(hasVerifiedSecondarySql(sql.ref('e.user_id'))).as('segment'))
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(promotable.n) > 0) excluded.has_verified_secondary = Number(promotable.n);
  return { eligible, excluded };
}
