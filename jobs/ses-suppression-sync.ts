import { importSesSuppressions } from '../src/ses-account/suppression-import.js';
import { defineJob } from '../src/queue/job.js';
import { sesSuppressionSync } from './contract/definitions.js';

/** Imports SES's account-level suppression list on SES_SUPPRESSION_SYNC_CRON (UTC); throws to retry (SES or the database away). */
export const sesSuppressionSyncJob = defineJob({
  ...sesSuppressionSync,
  async handle(payload, { app, log }) {
    const result = await importSesSuppressions(app, { dryRun: payload.dryRun ?? false });
    log.info(result, 'imported the SES account suppression list');
    return result;
  },
  schedule: (config) => ({ pattern: config.SES_SUPPRESSION_SYNC_CRON, data: {} }),
});
