import { z } from 'zod';
import { deliverCampaignMessage } from '../src/campaigns/deliver.js';
import { SEND_JOB } from '../src/campaigns/enqueue.js';
import { sesClientFor } from '../src/mail/ses-client.js';
import { defineJob } from '../src/queue/job.js';
import { QUEUE_NAMES } from '../src/queue/names.js';

/** Sends the campaign message of one ledger row (job id `send-<recipientId>`). */
export const sendEmailJob = defineJob({
  name: SEND_JOB,
  queue: QUEUE_NAMES.send,
  payload: z.object({ recipientId: z.string().regex(/^\d+$/) }),
  async handle({ recipientId }, { app, job, log }) {
    const outcome = await deliverCampaignMessage(app, recipientId, {
      ses: sesClientFor(app),
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts,
    });
    log.debug({ recipientId, outcome }, 'send job done');
    return outcome;
  },
});
