import type { App } from '../app/app.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { utcDay } from './budget.js';
import { enqueueSendsAgain, recipientIdsOf } from './enqueue.js';
import { finishRow } from './ledger/ledger.js';
import { releaseStaleQueuedRows } from './planner.js';
import { restoreCampaignSchedules } from './schedule.js';
import { markUnconfirmed } from './ledger/unconfirmed.js';
import { resolveExpiredUnconfirmed } from './unconfirmed-outcomes.js';

/**
 * Reconcile rebuilds the queue from the ledger, so losing the queue store loses no
 * work: every queued row of a running campaign whose send job is gone gets
 * it back (same deterministic id), rows queued for a past day go back to
 * pending for a new day's budget, rows stuck in `sending` long after their
 * job vanished have an unknown outcome (SES may have taken them), and missing
 * campaign schedules are registered again. An unknown outcome waits as
 * `unconfirmed` for SES's events when SES_SEND_EVENTS=true, and is settled
 * here once its wait is over (./unconfirmed-outcomes.ts); without Send events
 * it is failed as `unknown_outcome_after_crash`, never resent.
 */

export interface ReconcileResult {
  /** Queued rows whose send job was missing and has been added again. */
  requeued: number;
  /** Rows queued for an earlier day, put back to pending. */
  released: number;
  /** Rows left `sending` by a dead process, failed for an operator to judge (SES_SEND_EVENTS off, or its wait over with it turned off since). */
  unknownOutcome: number;
  /** Rows left `sending` by a dead process, now waiting for SES's events (SES_SEND_EVENTS=true). */
  unconfirmed: number;
  /** Unconfirmed rows no SES event named in time, put back to queued to be sent once. */
  resentUnconfirmed: number;
  /** Campaign schedules that were missing and registered again. */
  schedulesRestored: number;
}

/** A `sending` row older than this with no job is taken to be orphaned by a crash. */
export const SENDING_ORPHAN_AFTER_MS = 15 * 60_000;
const PAGE = 1_000;

/** Job states in which a send job will still run. */
const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/** Runs every reconcile step over the running campaigns. */
export async function reconcile(app: App): Promise<ReconcileResult> {
  const now = app.clock();
  const result: ReconcileResult = { requeued: 0, released: 0, unknownOutcome: 0, unconfirmed: 0, resentUnconfirmed: 0, schedulesRestored: 0 };
  result.schedulesRestored = await restoreCampaignSchedules(app);
  const settled = await resolveExpiredUnconfirmed(app);
  result.resentUnconfirmed = settled.resent;
  result.unknownOutcome += settled.failed;
  const running = await app.db.selectFrom('campaigns').select('id').where('status', '=', 'running').execute();
  if (running.length === 0) return logged(app, result);
  // Read before the ledger: a job added after this is for rows queued after
  // it, and enqueueing one of those again makes a job that finds it taken.
  const held = await rowsWithLiveJobs(app);
  for (const { id: campaignId } of running) {
    result.released += await releaseStaleQueuedRows(app.db, campaignId, now);
    let after = '0';
    for (;;) {
      const rows = await app.db
        .selectFrom('campaign_recipients')
        .select(['id', 'status', 'sending_at'])
        .where('campaign_id', '=', campaignId)
        .where((eb) => eb.or([eb.and([eb('status', '=', 'queued'), eb('send_day', '=', utcDay(now))]), eb('status', '=', 'sending')]))
        .where('id', '>', after)
        .orderBy('id')
        .limit(PAGE)
        .execute();
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const missing: string[] = [];
      for (const row of rows) {
        if (held.has(row.id)) continue;
        if (row.status === 'queued') missing.push(row.id);
        else if (row.sending_at && now.getTime() - row.sending_at.getTime() > SENDING_ORPHAN_AFTER_MS) await settleOrphan(app, row.id, now, result);
      }
      if (missing.length > 0) await enqueueSendsAgain(app, missing);
      result.requeued += missing.length;
      if (rows.length < PAGE) break;
    }
  }
  return logged(app, result);
}

/** A row left `sending` by a dead process: unconfirmed with Send events, else failed as before. */
async function settleOrphan(app: App, id: string, now: Date, result: ReconcileResult): Promise<void> {
  if (app.config.SES_SEND_EVENTS) {
    if (await markUnconfirmed(app.db, id, now)) result.unconfirmed += 1;
    return;
  }
  result.unknownOutcome += await finishRow(app.db, id, 'failed', 'unknown_outcome_after_crash', ['sending'], now) ? 1 : 0;
}

/** The ledger rows that some send job still waiting, delayed or running carries. */
async function rowsWithLiveJobs(app: App): Promise<Set<string>> {
  const queue = app.queues.get(QUEUE_NAMES.send);
  const held = new Set<string>();
  for (const state of LIVE_STATES) {
    for (let start = 0; ; start += PAGE) {
      const jobs = await queue.getJobs([state], start, start + PAGE - 1, true);
      for (const job of jobs) if (job) for (const id of recipientIdsOf(job.data)) held.add(id);
      if (jobs.length < PAGE) break;
    }
  }
  return held;
}

function logged(app: App, result: ReconcileResult): ReconcileResult {
  if (result.requeued + result.released + result.unknownOutcome + result.unconfirmed + result.resentUnconfirmed + result.schedulesRestored > 0) {
    app.log.info({ ...result }, 'reconcile put the queue back in step with the ledger');
  }
  return result;
}
