import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { Database, SuppressionsTable } from '../db/database.js';

/**
 * The suppression list: addresses no mail goes to except the verification
 * mail a user asks for. One row per lower-cased address. The SES webhook adds
 * rows (hard bounce, complaint, soft bounce over the limit); a successful
 * verification lifts them; the send policy reads them.
 */

export type SuppressionReason = SuppressionsTable['reason'];

/**
 * Strength of a reason: a stronger one replaces a weaker one, never the other
 * way round. A complaint ranks highest because it alone reaches beyond the
 * address (no other address of the user is contacted), so nothing may hide it;
 * an operator's `manual` decision outranks the bounces.
 */
export const SUPPRESSION_RANK: Readonly<Record<SuppressionReason, number>> = {
  soft_bounce: 1,
  hard_bounce: 2,
  manual: 3,
  // The recipient's own "stop": like a complaint for every kind of mail, but a
  // complaint also unverifies the address, so it stays on top.
  recipient_request: 4,
  complaint: 5,
};

/** SQL for the SUPPRESSION_RANK of a reason column or value (for "replace only with a stronger reason"). */
export function suppressionRank(reason: Expression<unknown>): RawBuilder<number> {
  return sql<number>`(CASE ${reason} ${sql.join(
    Object.entries(SUPPRESSION_RANK).map(([name, value]) => sql`WHEN ${sql.lit(name)} THEN ${sql.lit(value)}`),
    sql` `,
  )} ELSE 0 END)`;
}

/** Why `email` is suppressed, or null when mail may go to it. Case-insensitive. */
export async function isSuppressed(db: Kysely<Database>, email: string): Promise<{ reason: string } | null> {
  const row = await db
    .selectFrom('suppressions')
    .select('reason')
    .where('email', '=', normalizeAddress(email))
    .executeTakeFirst();
  return row ? { reason: row.reason } : null;
}

/**
 * Suppresses `email` in the caller's transaction. An existing row keeps its
 * reason unless the new one is stronger (see SUPPRESSION_RANK); returns the
 * reason in force afterwards.
 */
export async function suppressAddress(
  trx: Kysely<Database>,
  email: string,
  reason: SuppressionReason,
  emailEventId: string | number | null,
): Promise<SuppressionReason> {
  const rank = (column: string) => suppressionRank(sql.ref(column));
  await trx
    .insertInto('suppressions')
    .values({ email: normalizeAddress(email), reason, email_event_id: emailEventId })
    .onConflict((oc) =>
      oc
        .column('email')
        .doUpdateSet({ reason: (eb) => eb.ref('excluded.reason'), email_event_id: (eb) => eb.ref('excluded.email_event_id') })
        .where(rank('excluded.reason'), '>', rank('suppressions.reason')),
    )
    .execute();
  const row = await trx
    .selectFrom('suppressions')
    .select('reason')
    .where('email', '=', normalizeAddress(email))
    .executeTakeFirstOrThrow();
  return row.reason;
}

/** Removes the suppression of `email` (a confirmed verification); true when there was one. */
export async function liftSuppression(trx: Kysely<Database>, email: string): Promise<boolean> {
  const result = await trx.deleteFrom('suppressions').where('email', '=', normalizeAddress(email)).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The form addresses are stored in on the suppression list. */
export function normalizeAddress(email: string): string {
  return email.trim().toLowerCase();
}
