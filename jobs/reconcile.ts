import { z } from 'zod';
import { reconcile } from '../src/campaigns/reconcile.js';
import { defineJob } from '../src/queue/job.js';
import { QUEUE_NAMES } from '../src/queue/names.js';

/** Rebuilds lost send jobs and schedules from the ledger, on RECONCILE_CRON. */
export const reconcileJob = defineJob({
  name: 'reconcile',
  queue: QUEUE_NAMES.maintenance,
  payload: z.object({}).passthrough(),
  schedule: (config) => ({ pattern: config.RECONCILE_CRON, data: {} }),
  async handle(_payload, { app }) {
    return reconcile(app);
  },
});
