import { checkAccountAndEnforce } from '../src/campaigns/account-enforcement.js';
import { defineJob } from '../src/queue/job.js';
import { sesAccountCheck } from './contract/definitions.js';

/** How often the worker reads the SES account: its quota moves as the day's mail goes out. */
export const SES_ACCOUNT_CHECK_CRON = '*/5 * * * *';

/**
 * Reads GetAccount (at start and every five minutes), records it for every
 * worker process, and pauses every campaign while the account is on PROBATION
 * or SHUTDOWN. A failed call falls back to the configured figures and is not
 * retried: the next check comes soon enough.
 */
export const sesAccountCheckJob = defineJob({
  ...sesAccountCheck,
  schedule: () => ({ pattern: SES_ACCOUNT_CHECK_CRON, data: {} }),
  async handle(_payload, { app }) {
    return checkAccountAndEnforce(app);
  },
});
