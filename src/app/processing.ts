import { enqueueJob } from '../../jobs/contract/client.js';
import { jobs } from '../../jobs/registry.js';
import { reconcile, type ReconcileResult } from '../campaigns/reconcile.js';
import { restoreCampaignSchedules } from '../campaigns/schedule.js';
import { sendQueuePace } from '../pace/pace.js';
import type { AnyJob } from '../queue/job.js';
import { registerFixedSchedules } from '../queue/schedules.js';
import { startWorkers, type RunningWorkers, type WorkerOptions } from '../queue/worker.js';
import { startRequestListener } from '../verification/requests/listener.js';
import type { App } from './app.js';

/**
 * Starts workers for `registry` with the send queue paced as src/pace/pace.ts
 * says (`limiter: false`: at full speed, for a benchmark).
 */
export function startJobWorkers(
  app: App,
  registry: readonly AnyJob[],
  options: Omit<WorkerOptions, 'concurrency' | 'limiters'> & { limiter?: boolean } = {},
): Promise<RunningWorkers> {
  const { limiter = true, ...rest } = options;
  return startWorkers(app, registry, { ...rest, ...sendQueuePace(app.config, { limited: limiter }) });
}

/**
 * Starts every job processor the way `worker`, `start` and `dev` all need it:
 * the workers and their fixed schedules, the campaigns' tick schedules (a new
 * or emptied queue store gets them back from the database), and a watch that
 * reconciles the queue with the ledger whenever the store is found to have
 * lost the schedules, a first check of the SES account, and the listener
 * that mails the verification requests the site inserts (a PostgreSQL
 * connection of its own, whatever the queue backend).
 */
export async function startProcessing(app: App, options: { scheduleCheckMs?: number } = {}): Promise<RunningWorkers> {
  const workers = await startJobWorkers(app, jobs, {
    onSchedulesLost: () => reconcileQueue(app),
    scheduleCheckMs: options.scheduleCheckMs,
  });
  await restoreCampaignSchedules(app);
  // The account's quota and status at start, not only at the next five-minute check (jobs/ses-account-check.ts).
  await enqueueJob(app, 'ses-account-check', {});
  const requests = startRequestListener(app);
  return {
    workers: workers.workers,
    async close(timeoutMs) {
      await requests.close();
      await workers.close(timeoutMs);
    },
  };
}

/**
 * Rebuilds what the queue store should hold from the database (its schema
 * first, on PostgreSQL, in case it was dropped): the fixed schedules
 * (sweeps, reconcile), the campaigns' schedules and every lost send job.
 */
export async function reconcileQueue(app: App): Promise<ReconcileResult> {
  await app.queueBackend.prepare({ again: true });
  const fixedRestored = await registerFixedSchedules(app, jobs);
  const result = await reconcile(app);
  return { ...result, schedulesRestored: result.schedulesRestored + fixedRestored };
}
