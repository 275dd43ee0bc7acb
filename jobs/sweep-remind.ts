import { remindTemporaryAccounts } from '../src/accounts/remind.js';
import { remindSummary } from '../src/accounts/sweep-summary.js';
import { defineJob } from '../src/queue/job.js';
import { sweepRemind } from './contract/definitions.js';

/**
 * Nightly reminder notices for temporary accounts about to expire
 * (SWEEP_CRON, UTC). Skips quietly when another reminder sweep holds the
 * lock; throws on failure so BullMQ retries.
 */
export const sweepRemindJob = defineJob({
  ...sweepRemind,
  async handle(payload, { app, log }) {
    const outcome = await remindTemporaryAccounts(app.db, app.config, { dryRun: payload.dryRun, log });
    return remindSummary(outcome);
  },
  schedule: (config) => ({ pattern: config.SWEEP_CRON, data: {} }),
});
