import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { budgetTargetByNow, tickAllowance, utcDay } from './budget.js';
import { segmentQuery } from './eligibility/segment.js';

/**
 * The planner writes the send ledger and tops the send queue up from it.
 * Planning walks the segment in user-id order in bounded batches (keyset, never
 * OFFSET), each batch one INSERT … SELECT that also moves the campaign's
 * cursor, so memory stays flat however large the segment and an interrupted
 * walk resumes where it stopped. Topping up turns `pending` rows into `queued`
 * ones within the day's budget, in the transaction that chooses them.
 */

export const PLAN_BATCH_SIZE = 10_000;
/** Jobs one tick may queue, whatever the budget says: the queue stays shallow. */
export const MAX_QUEUED_PER_TICK = 5_000;

/** Plans one batch after `afterUserId`; returns how many segment members it covered and the last user id. */
export async function planBatch(
  db: Kysely<Database>,
  campaignId: string,
  afterUserId: string | null,
  batchSize: number,
  now: Date,
): Promise<{ covered: number; lastUserId: string | null }> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .with('batch', (qc) => segmentQuery(qc, campaignId, afterUserId, { now }).orderBy('e.user_id').limit(batchSize))
      .with('inserted', (qc) =>
        qc
          .insertInto('campaign_recipients')
          .columns(['campaign_id', 'user_id', 'email_id', 'email', 'status', 'created_at', 'updated_at'])
          .expression(
            qc
              .selectFrom('batch')
              .select([
                sql.lit(Number(campaignId)).as('campaign_id'),
                'batch.user_id',
                'batch.email_id',
                'batch.email',
                sql.lit('pending').as('status'),
                sql<Date>`${now}::timestamptz`.as('created_at'),
                sql<Date>`${now}::timestamptz`.as('updated_at'),
              ]),
          )
          .onConflict((oc) => oc.columns(['campaign_id', 'user_id']).doNothing())
          .returning('id'),
      )
      .selectFrom('batch')
      .select((eb) => [eb.fn.countAll<string>().as('covered'), eb.fn.max('batch.user_id').as('last')])
      .executeTakeFirstOrThrow();
    const covered = Number(row.covered);
    const lastUserId = row.last ?? afterUserId;
    await trx
      .updateTable('campaigns')
      .set({ plan_cursor: lastUserId, planned_all: covered < batchSize, updated_at: now })
      .where('id', '=', campaignId)
      .execute();
    return { covered, lastUserId };
  });
}

/**
 * Walks the rest of the segment from the campaign's cursor and writes a ledger
 * row for every member; returns how many rows it wrote. When the walk had
 * finished earlier it starts over from the beginning, which catches people who
 * joined the segment since (the ledger check keeps everyone else out).
 */
export async function planCampaign(
  db: Kysely<Database>,
  campaignId: string,
  options: { now: Date; batchSize?: number },
): Promise<number> {
  const batchSize = options.batchSize ?? PLAN_BATCH_SIZE;
  const campaign = await db
    .selectFrom('campaigns')
    .select(['plan_cursor', 'planned_all'])
    .where('id', '=', campaignId)
    .executeTakeFirstOrThrow();
  let cursor = campaign.planned_all ? null : campaign.plan_cursor;
  let planned = 0;
  for (;;) {
    const batch = await planBatch(db, campaignId, cursor, batchSize, options.now);
    planned += batch.covered;
    cursor = batch.lastUserId;
    if (batch.covered < batchSize) return planned;
  }
}

/**
 * Moves rows queued for an earlier day back to `pending`: their day's budget
 * is gone, so they must be counted against a new day's (a paused campaign, a
 * lost job). Returns how many were released.
 */
export async function releaseStaleQueuedRows(db: Kysely<Database>, campaignId: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('campaign_recipients')
    .set({ status: 'pending', send_day: null, queued_at: null, updated_at: now })
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'queued')
    .where('send_day', '<', utcDay(now))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Chooses this tick's share of today's budget among pending rows and marks
 * them queued for today, holding the campaign row lock so two ticks cannot
 * spend the same budget. Returns the queued row ids (enqueue them after the
 * commit) or nothing when the campaign is no longer running.
 */
export async function queueTodaysShare(
  db: Kysely<Database>,
  campaignId: string,
  options: { now: Date; maxPerTick?: number; quotaLeft?: (trx: Kysely<Database>) => Promise<number> },
): Promise<{ queued: string[]; usedToday: number; allowance: number; deferred: number }> {
  const today = utcDay(options.now);
  return db.transaction().execute(async (trx) => {
    const campaign = await trx
      .selectFrom('campaigns')
      .select(['status', 'per_day', 'schedule', 'starts_at'])
      .where('id', '=', campaignId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (campaign.status !== 'running') return { queued: [], usedToday: 0, allowance: 0, deferred: 0 };
    const used = await trx
      .selectFrom('campaign_recipients')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('campaign_id', '=', campaignId)
      .where('send_day', '=', today)
      .executeTakeFirstOrThrow();
    const usedToday = Number(used.n);
    const budget = Math.min(
      tickAllowance(budgetTargetByNow(campaign.schedule, campaign.per_day, campaign.starts_at, options.now), usedToday),
      options.maxPerTick ?? MAX_QUEUED_PER_TICK,
    );
    // The SES account's 24-hour quota (src/ses-account/): what it does not allow now waits for a later tick.
    const allowance = budget > 0 && options.quotaLeft ? Math.min(budget, await options.quotaLeft(trx)) : budget;
    const deferred = allowance < budget ? Math.max(0, (await countPendingUpTo(trx, campaignId, budget)) - allowance) : 0;
    if (allowance === 0) return { queued: [], usedToday, allowance, deferred };
    const rows = await trx
      .updateTable('campaign_recipients')
      .set({ status: 'queued', send_day: today, queued_at: options.now, updated_at: options.now })
      .where('id', 'in', (qc) =>
        qc
          .selectFrom('campaign_recipients')
          .select('id')
          .where('campaign_id', '=', campaignId)
          .where('status', '=', 'pending')
          .orderBy('id')
          .limit(allowance)
          .forUpdate()
          .skipLocked(),
      )
      .returning('id')
      .execute();
    return { queued: rows.map((row) => row.id).sort((a, b) => Number(a) - Number(b)), usedToday, allowance, deferred };
  });
}

/** Pending rows of a campaign, counted up to `limit` (what a budget of `limit` would have queued). */
async function countPendingUpTo(db: Kysely<Database>, campaignId: string, limit: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (SELECT 1 FROM campaign_recipients WHERE campaign_id = ${campaignId} AND status = 'pending' LIMIT ${limit}) AS up_to
  `.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** Rows of a campaign not yet final (pending, queued, sending, or unconfirmed: waiting for SES's events). */
export async function countUnfinishedRows(db: Kysely<Database>, campaignId: string): Promise<number> {
  const row = await db
    .selectFrom('campaign_recipients')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId)
    .where('status', 'in', ['pending', 'queued', 'sending', 'unconfirmed'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
