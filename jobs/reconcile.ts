import { reconcile as reconcileLedger } from '../src/campaigns/reconcile.js';
import { defineJob } from '../src/queue/job.js';
import { reconcile } from './contract/definitions.js';

/** Rebuilds lost send jobs and schedules from the ledger, on RECONCILE_CRON. */
export const reconcileJob = defineJob({
  ...reconcile,
  schedule: (config) => ({ pattern: config.RECONCILE_CRON, data: {} }),
  async handle(_payload, { app }) {
    return reconcileLedger(app);
  },
});
