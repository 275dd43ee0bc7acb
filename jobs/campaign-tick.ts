import { runCampaignTick } from '../src/campaigns/tick.js';
import { defineJob } from '../src/queue/job.js';
import { campaignTick } from './contract/definitions.js';

/** A campaign tick (its scheduler, or the first tick at starts_at): plan, then top the send queue up within the budget. */
export const campaignTickJob = defineJob({
  ...campaignTick,
  async handle({ campaignId }, { app, log }) {
    const result = await runCampaignTick(app, campaignId);
    log.info({ campaignId, ...result }, 'campaign tick');
    return result;
  },
});
