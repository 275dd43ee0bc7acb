import { z } from 'zod';
import { remindTemporaryAccounts } from '../src/accounts/remind.js';
import { remindSummary } from '../src/accounts/sweep-summary.js';
import { defineJob } from '../src/queue/job.js';
import { QUEUE_NAMES } from '../src/queue/names.js';

/**
 * Nightly reminder notices for temporary accounts about to expire
 * (SWEEP_CRON, UTC). Skips quietly when another reminder sweep holds the
 * lock; throws on failure so BullMQ retries.
 */
export const sweepRemindJob = defineJob({
  name: 'sweep-remind',
  queue: QUEUE_NAMES.sweeps,
  payload: z.object({ dryRun: z.boolean().optional() }),
  async handle(payload, { app, log }) {
    const outcome = await remindTemporaryAccounts(app.db, app.config, { dryRun: payload.dryRun, log });
    return remindSummary(outcome);
  },
  schedule: (config) => ({ pattern: config.SWEEP_CRON, data: {} }),
});
