import { deliverCampaignBatch } from '../src/campaigns/deliver.js';
import { enqueueSends } from '../src/campaigns/enqueue.js';
import { sendBatchSize } from '../src/pace/pace.js';
import { sesClientFor } from '../src/mail/ses-client.js';
import { defineJob } from '../src/queue/job.js';
import { accountPacedGate } from '../src/ses-account/account-limits.js';
import { sendEmail } from './contract/definitions.js';

/** Sends the campaign messages of a send job's ledger rows (see jobs/contract/definitions.ts). */
export const sendEmailJob = defineJob({
  ...sendEmail,
  async handle({ recipientIds }, { app, job, log, rateLimited }) {
    // A job enqueued under a higher SES_MAX_SEND_RATE may carry more rows than
    // this process's limiter window allows: the rest go back as jobs of today's size.
    const size = sendBatchSize(app.config);
    if (recipientIds.length > size) {
      await enqueueSends(app, recipientIds.slice(size));
      log.info({ rows: recipientIds.length, size }, 'send job larger than this rate allows; the surplus was enqueued again');
    }
    const outcomes = await deliverCampaignBatch(app, recipientIds.slice(0, size), {
      ses: sesClientFor(app),
      // Spaced at SES_MAX_SEND_RATE clipped to the account's MaxSendRate (src/ses-account/).
      gate: rateLimited ? await accountPacedGate(app) : undefined,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts,
    });
    log.debug({ recipientIds, outcomes }, 'send job done');
    return outcomes;
  },
});
