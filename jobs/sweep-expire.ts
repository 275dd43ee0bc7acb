import { expireTemporaryAccounts } from '../src/accounts/expire.js';
import { expireSummary } from '../src/accounts/sweep-summary.js';
import { defineJob } from '../src/queue/job.js';
import { sweepExpire } from './contract/definitions.js';

/**
 * Nightly expiry of temporary accounts (SWEEP_CRON, UTC). A run that finds
 * another expiry sweep holding the lock completes without doing anything; a
 * failure throws so BullMQ retries, and the retry continues where it stopped.
 */
export const sweepExpireJob = defineJob({
  ...sweepExpire,
  async handle(payload, { app, log }) {
    const outcome = await expireTemporaryAccounts(app.db, app.config, { dryRun: payload.dryRun, log });
    return expireSummary(outcome);
  },
  schedule: (config) => ({ pattern: config.SWEEP_CRON, data: {} }),
});
