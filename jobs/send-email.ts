import { z } from 'zod';
import { deliverCampaignBatch } from '../src/campaigns/deliver.js';
import { enqueueSends, SEND_JOB } from '../src/campaigns/enqueue.js';
import { MAX_SEND_BATCH, sendBatchSize } from '../src/pace/pace.js';
import { sendGateFor } from '../src/pace/send-gate.js';
import { sesClientFor } from '../src/mail/ses-client.js';
import { defineJob } from '../src/queue/job.js';
import { QUEUE_NAMES } from '../src/queue/names.js';

const ledgerId = z.string().regex(/^\d+$/);

/**
 * Sends the campaign messages of a few ledger rows (see sendBatchSize). Jobs
 * enqueued before batches carried `{recipientId}`; they still run.
 */
export const sendEmailJob = defineJob({
  name: SEND_JOB,
  queue: QUEUE_NAMES.send,
  payload: z.union([
    z.object({ recipientIds: z.array(ledgerId).min(1).max(MAX_SEND_BATCH) }),
    z.object({ recipientId: ledgerId }).transform(({ recipientId }) => ({ recipientIds: [recipientId] })),
  ]),
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
      gate: rateLimited ? sendGateFor(app) : undefined,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts,
    });
    log.debug({ recipientIds, outcomes }, 'send job done');
    return outcomes;
  },
});
