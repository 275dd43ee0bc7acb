import { jobs } from '../../jobs/registry.js';
import type { App } from './app.js';
import { reconcile, type ReconcileResult } from '../campaigns/reconcile.js';
import { restoreCampaignSchedules } from '../campaigns/schedule.js';
import { registerFixedSchedules } from '../queue/schedules.js';
import { startWorkers, type RunningWorkers } from '../queue/worker.js';

/**
 * Starts every job processor the way `worker`, `start` and `dev` all need it:
 * the workers and their fixed schedules, the campaigns' tick schedules (a new
 * or emptied queue store gets them back from the database), and a watch that
 * reconciles the queue with the ledger whenever the store is found to have
 * lost the schedules.
 */
export async function startProcessing(app: App, options: { scheduleCheckMs?: number } = {}): Promise<RunningWorkers> {
  const workers = await startWorkers(app, jobs, {
    onSchedulesLost: () => reconcileQueue(app),
    scheduleCheckMs: options.scheduleCheckMs,
  });
  await restoreCampaignSchedules(app);
  return workers;
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
