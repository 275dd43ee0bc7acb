import { sql, type Kysely } from 'kysely';
import type { App } from '../app/app.js';
import type { Database } from '../db/database.js';
import { sendIntervalMs } from '../pace/pace.js';
import { sendGateFor, type SendGate } from '../pace/send-gate.js';
import { readAccountState, type AccountState } from './account-state.js';
import { campaignQuotaLeft, effectiveSendRate, enforcementBlock } from './figures.js';

/**
 * What campaigns may do under the account's limits, as the sender, the tick
 * and `campaign resume` ask it. Send jobs and ticks read the recorded state
 * through a per-process cache of STATE_CACHE_MS: a new rate reaches every
 * worker process within that time of the check that learnt it.
 */

export const STATE_CACHE_MS = 5_000;

const cache = new WeakMap<object, { at: number; state: Promise<AccountState> }>();

/** The recorded account state, read at most every STATE_CACHE_MS by this process (on a failed read: the configured figures). */
export function cachedAccountState(app: App): Promise<AccountState> {
  const hit = cache.get(app);
  const now = Date.now();
  if (hit && now - hit.at < STATE_CACHE_MS) return hit.state;
  // A failed read is cached too: one warning per STATE_CACHE_MS while the database is away, not one per send job.
  const state = readAccountState(app.db, app.clock()).catch((error: unknown) => {
    app.log.warn({ err: error }, 'could not read the SES account state; using the configured figures meanwhile');
    return readAccountStateFallback();
  });
  cache.set(app, { at: now, state });
  return state;
}

function readAccountStateFallback(): AccountState {
  return { outcome: 'never', problem: null, checkedAt: null, figures: null, figuresAt: null };
}

/** Forgets this process's cached state (after its own check, so it acts on it at once). */
export function forgetCachedAccountState(app: App): void {
  cache.delete(app);
}

/** The account-wide send rate now: SES_MAX_SEND_RATE, clipped to the account's MaxSendRate. */
export async function accountSendRate(app: App): Promise<number> {
  return effectiveSendRate(app.config.SES_MAX_SEND_RATE, (await cachedAccountState(app)).figures);
}

/**
 * This process's send gate, spaced for the account's rate now. The gate's
 * times come from the pace store every worker shares, and every worker
 * spaces its reservations by the same recorded rate, so the clipped rate
 * holds account-wide. (The send queue's BullMQ limiter keeps the configured
 * rate, an upper bound on how fast jobs start; the gate holds the sends to the
 * account's.)
 */
export async function accountPacedGate(app: App): Promise<SendGate> {
  const gate = sendGateFor(app);
  const interval = sendIntervalMs({ SES_MAX_SEND_RATE: await accountSendRate(app) });
  if (gate.intervalMs !== interval) gate.setIntervalMs(interval);
  return gate;
}

/** Why campaigns may not send now (PROBATION, SHUTDOWN), or null. `fresh`: read the row now rather than through the cache. */
export async function accountBlock(app: App, { fresh = false } = {}): Promise<string | null> {
  const state = fresh ? await readAccountState(app.db, app.clock()) : await cachedAccountState(app);
  return enforcementBlock(state.figures?.enforcementStatus ?? null);
}

/** Key of the transaction lock under which ticks spend the 24-hour quota, one campaign at a time. */
const QUOTA_LOCK = sql`hashtext('reverify:ses-24-hour-quota')`;

/**
 * How many more campaign messages the 24-hour quota allows, inside the
 * caller's transaction (Infinity when no figures are known: then only the
 * campaigns' daily budgets apply). Holds a transaction lock, so two
 * campaigns' ticks cannot both spend what is left: the caller queues its rows
 * before committing. Campaign messages SES has not counted yet are those
 * sent since the figures were read, and those queued or being sent.
 */
export async function campaignQuotaLeftNow(app: App, trx: Kysely<Database>): Promise<number> {
  const state = await readAccountState(trx, app.clock());
  if (!state.figures || !state.figuresAt || !Number.isFinite(state.figures.max24HourSend)) return Infinity;
  await sql`SELECT pg_advisory_xact_lock(${QUOTA_LOCK})`.execute(trx);
  // Rows queued or sent since then carry a send_day from the day before the figures on (a row queued just
  // before midnight may leave just after): the budget index (campaign_id, send_day) finds them per campaign.
  const fromDay = new Date(state.figuresAt.getTime() - 86_400_000).toISOString().slice(0, 10);
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM campaign_recipients
    WHERE campaign_id IN (SELECT id FROM campaigns) AND send_day >= ${fromDay}::date
      AND (status IN ('queued', 'sending', 'unconfirmed') OR sent_at >= ${state.figuresAt})
  `.execute(trx);
  return campaignQuotaLeft(state.figures, app.config.SES_QUOTA_RESERVE, Number(rows[0]?.n ?? 0));
}
