import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import { recordAudit } from '../audit/audit.js';
import type { Database } from '../db/database.js';
import { userComplainedSql } from '../mail/send-policy.js';

/**
 * Promotion of a verified secondary address, an operator's deliberate act
 * (`reverify emails promote-verified-secondaries`): for each active,
 * non-temporary user whose primary address is unverified and who has a
 * verified, unsuppressed secondary, the most recently verified secondary
 * becomes the primary — never for a person any of whose addresses complained
 * or asked to stop (a complaint is never answered by turning to another of
 * their addresses). One transaction a user, with the user's addresses locked
 * and every condition checked again under the lock, so a primary the site
 * changes meanwhile is left as the site made it. The site learns of each
 * promotion from an `account_notices` row of kind `primary_email_promoted`.
 */

export type PromotionSkipReason = 'inactive' | 'temporary' | 'complained_or_stopped' | 'changed_meanwhile';

export interface PromotionSummary {
  promoted: number;
  skipped: Partial<Record<PromotionSkipReason, number>>;
  dryRun: boolean;
}

/** SQL: does user `userId` have a verified, unsuppressed secondary address? */
export function hasVerifiedSecondarySql(userId: Expression<string>): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (SELECT 1 FROM emails v WHERE v.user_id = ${userId} AND NOT v.is_primary AND v.verified
    AND NOT EXISTS (SELECT 1 FROM suppressions vs WHERE vs.email = lower(v.email)))`;
}

const BATCH = 500;

/** Promotes every user it may (or with dryRun counts them, changing nothing); `now` stamps the audit and notice rows. */
export async function promoteVerifiedSecondaries(db: Kysely<Database>, options: { dryRun: boolean; now: Date }): Promise<PromotionSummary> {
  const summary: PromotionSummary = { promoted: 0, skipped: {}, dryRun: options.dryRun };
  let after = '0';
  for (;;) {
    const candidates = await candidateUsers(db, after);
    if (candidates.length === 0) return summary;
    for (const userId of candidates) {
      const outcome = await promoteOne(db, userId, options);
      if (outcome === 'promoted') summary.promoted += 1;
      else summary.skipped[outcome] = (summary.skipped[outcome] ?? 0) + 1;
    }
    after = candidates[candidates.length - 1]!;
  }
}

/** Users after `after` (keyset) with an unverified primary and a verified, unsuppressed secondary. */
async function candidateUsers(db: Kysely<Database>, after: string): Promise<string[]> {
  const { rows } = await sql<{ user_id: string }>`
    SELECT p.user_id FROM emails p
    WHERE p.is_primary AND NOT p.verified AND p.user_id > ${after}::bigint AND ${hasVerifiedSecondarySql(sql.ref('p.user_id'))}
    ORDER BY p.user_id LIMIT ${BATCH}`.execute(db);
  return rows.map((row) => String(row.user_id));
}

interface LockedState {
  isActive: boolean;
  isTemporary: boolean;
  expired: boolean;
  complainedOrStopped: boolean;
  primaryId: string | null;
  primaryVerified: boolean;
  secondaryId: string | null;
}

/** One user in one transaction: lock, check again, promote (or, dry, only decide). */
async function promoteOne(db: Kysely<Database>, userId: string, options: { dryRun: boolean; now: Date }): Promise<'promoted' | PromotionSkipReason> {
  return db.transaction().execute(async (trx) => {
    const state = await lockedState(trx, userId);
    if (!state.isActive || state.expired) return 'inactive';
    if (state.isTemporary) return 'temporary';
    if (state.complainedOrStopped) return 'complained_or_stopped';
    // The site changed the primary (or verified it) since the candidates were read.
    if (state.primaryId === null || state.primaryVerified || state.secondaryId === null) return 'changed_meanwhile';
    if (options.dryRun) return 'promoted';
    // Unset first: the one-primary index (emails_one_primary_per_user) is checked per statement.
    await trx.updateTable('emails').set({ is_primary: false }).where('id', '=', state.primaryId).execute();
    await trx.updateTable('emails').set({ is_primary: true }).where('id', '=', state.secondaryId).execute();
    await trx
      .insertInto('account_notices')
      .values({ user_id: userId, kind: 'primary_email_promoted', created_at: options.now })
      // Promoted again after an earlier notice was dismissed: show the new one.
      .onConflict((oc) => oc.columns(['user_id', 'kind']).doUpdateSet({ created_at: options.now, dismissed_at: null }))
      .execute();
    await recordAudit(trx, {
      actor: 'cli',
      action: 'email.primary_promoted',
      userId,
      emailId: state.secondaryId,
      reason: 'verified_secondary',
      occurredAt: options.now,
      details: { previousPrimaryEmailId: state.primaryId, newPrimaryEmailId: state.secondaryId },
    });
    return 'promoted';
  });
}

/** The user's facts with their user row and every address locked (a concurrent change of primary waits, or we wait for it). */
async function lockedState(trx: Kysely<Database>, userId: string): Promise<LockedState> {
  const user = await trx.selectFrom('users').select(['is_active', 'is_temporary', 'expired_at']).where('id', '=', userId).forUpdate().executeTakeFirst();
  const addresses = await trx.selectFrom('emails').select(['id', 'is_primary', 'verified', 'verified_at']).where('user_id', '=', userId).orderBy('id').forUpdate().execute();
  const { rows } = await sql<{ complained: boolean; secondary: string | null }>`
    SELECT ${userComplainedSql(sql<string>`${userId}::bigint`)} AS complained,
      (SELECT v.id FROM emails v WHERE v.user_id = ${userId}::bigint AND NOT v.is_primary AND v.verified
         AND NOT EXISTS (SELECT 1 FROM suppressions vs WHERE vs.email = lower(v.email))
       ORDER BY v.verified_at DESC NULLS LAST, v.id DESC LIMIT 1) AS secondary`.execute(trx);
  const primary = addresses.find((address) => address.is_primary);
  return {
    isActive: user?.is_active ?? false,
    isTemporary: user?.is_temporary ?? false,
    expired: (user?.expired_at ?? null) !== null,
    complainedOrStopped: rows[0]?.complained ?? false,
    primaryId: primary?.id ?? null,
    primaryVerified: primary?.verified ?? false,
    secondaryId: rows[0]?.secondary === null || rows[0]?.secondary === undefined ? null : String(rows[0].secondary),
  };
}
