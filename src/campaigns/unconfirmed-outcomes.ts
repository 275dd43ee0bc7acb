import type { App } from '../app/app.js';
import { campaignMessagesTotal } from '../metrics.js';
import { utcDay } from './budget.js';
import { enqueueSendsAgain } from './enqueue.js';
import { expiredUnconfirmedRows, finishUnconfirmed, requeueUnconfirmed, type ExpiredUnconfirmed } from './ledger/unconfirmed.js';

/**
 * The reconcile step that settles `unconfirmed` rows whose wait is over: no
 * SES event named them within UNKNOWN_OUTCOME_WAIT_MINUTES of their claim, so
 * SES never took their message. A row of a running or paused campaign goes
 * back to queued for today and is sent once (its claim checks eligibility
 * and the cooldown again; a paused campaign sends it when resumed); a row of a
 * cancelled campaign is skipped. With SES_SEND_EVENTS off nothing can settle
 * them, and they are failed as `unknown_outcome_after_crash`, as before.
 */

export interface UnconfirmedResolution {
  /** Rows put back to queued to be sent again. */
  resent: number;
  /** Rows failed as unknown_outcome_after_crash (SES_SEND_EVENTS off). */
  failed: number;
  /** Rows of a campaign that ended meanwhile, skipped. */
  skipped: number;
}

const PAGE = 1_000;

/** Settles every unconfirmed row whose wait is over. */
export async function resolveExpiredUnconfirmed(app: App): Promise<UnconfirmedResolution> {
  const now = app.clock();
  const wait = app.config.UNKNOWN_OUTCOME_WAIT_MINUTES;
  const claimedBefore = new Date(now.getTime() - wait * 60_000);
  const result: UnconfirmedResolution = { resent: 0, failed: 0, skipped: 0 };
  for (;;) {
    const rows = await expiredUnconfirmedRows(app.db, claimedBefore, PAGE);
    if (rows.length === 0) break;
    const moved = await settlePage(app, rows, now, result);
    if (moved === 0 || rows.length < PAGE) break;
  }
  if (result.resent + result.failed + result.skipped > 0) {
    app.log.warn({ ...result, waitMinutes: wait }, 'rows whose send outcome was unknown settled: no SES event named them in time');
  }
  return result;
}

/** Settles one page of expired rows; returns how many moved. */
async function settlePage(app: App, rows: readonly ExpiredUnconfirmed[], now: Date, result: UnconfirmedResolution): Promise<number> {
  const { db, config } = app;
  const ids = (keep: (row: ExpiredUnconfirmed) => boolean) => rows.filter(keep).map((row) => row.id);
  if (!config.SES_SEND_EVENTS) {
    const failed = await finishUnconfirmed(db, ids(() => true), 'failed', 'unknown_outcome_after_crash', now);
    result.failed += failed;
    return failed;
  }
  const live = (row: ExpiredUnconfirmed) => row.campaignStatus === 'running' || row.campaignStatus === 'paused';
  const requeued = await requeueUnconfirmed(db, ids(live), utcDay(now), now, config.UNKNOWN_OUTCOME_WAIT_MINUTES);
  const running = new Set(ids((row) => row.campaignStatus === 'running'));
  await enqueueSendsAgain(app, requeued.filter((id) => running.has(id)));
  result.resent += requeued.length;
  for (const row of rows) if (requeued.includes(row.id)) campaignMessagesTotal.inc({ campaign: row.campaignId, outcome: 'resent_unconfirmed' });
  const ended = rows.filter((row) => !live(row));
  let skipped = 0;
  for (const status of new Set(ended.map((row) => row.campaignStatus))) {
    skipped += await finishUnconfirmed(db, ids((row) => !live(row) && row.campaignStatus === status), 'skipped', `campaign_${status}`, now);
  }
  result.skipped += skipped;
  return requeued.length + skipped;
}
