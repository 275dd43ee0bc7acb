import type { App } from '../app/app.js';
import { projectedDays, projectedFinish } from './budget.js';
import type { ValidCampaignInput } from './create-input.js';
import { segmentBreakdown } from './eligibility/segment.js';
import { renderSampleMessage, SAMPLE_RECIPIENT } from './message.js';
import { firstRecipient, type CampaignPreview } from './operations.js';

/**
 * The preview of a campaign not saved yet (the console's form, the API's
 * dryRun): the same figures and example message `campaign preview ID` gives
 * for a saved one. Nobody has been mailed by a campaign that does not exist,
 * so no one is excluded as already mailed; people other campaigns mailed
 * within the cooldown are (recently_mailed) unless it ignores the cooldown.
 */
export async function previewNewCampaign(
  app: App,
  input: Pick<ValidCampaignInput, 'perDay' | 'template' | 'startsAt'> & { ignoreCooldown?: boolean },
): Promise<CampaignPreview> {
  const now = app.clock();
  // The cooldown it would be created with (createCampaign's rule): none with ignoreCooldown or CAMPAIGN_COOLDOWN_DAYS=0.
  const days = input.ignoreCooldown || app.config.CAMPAIGN_COOLDOWN_DAYS === 0 ? null : app.config.CAMPAIGN_COOLDOWN_DAYS;
  const { eligible, excluded } = await segmentBreakdown(app.db, null, { days, now });
  const start = input.startsAt && input.startsAt.getTime() > now.getTime() ? input.startsAt : now;
  const recipient = (await firstRecipient(app, '0')) ?? SAMPLE_RECIPIENT;
  const message = renderSampleMessage(app.config, input.template, recipient, now);
  return {
    eligible,
    excluded,
    projectedDays: projectedDays(eligible, input.perDay),
    projectedFinish: projectedFinish(eligible, input.perDay, start),
    message: { to: recipient.email, ...message },
  };
}
