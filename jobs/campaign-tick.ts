import { z } from 'zod';
import { CAMPAIGN_TICK_JOB } from '../src/campaigns/schedule.js';
import { runCampaignTick } from '../src/campaigns/tick.js';
import { defineJob } from '../src/queue/job.js';
import { QUEUE_NAMES } from '../src/queue/names.js';

/** A campaign tick (its scheduler, or the first tick at starts_at): plan, then top the send queue up within the budget. */
export const campaignTickJob = defineJob({
  name: CAMPAIGN_TICK_JOB,
  queue: QUEUE_NAMES.campaigns,
  payload: z.object({ campaignId: z.string().regex(/^\d+$/) }),
  async handle({ campaignId }, { app, log }) {
    const result = await runCampaignTick(app, campaignId);
    log.info({ campaignId, ...result }, 'campaign tick');
    return result;
  },
});
