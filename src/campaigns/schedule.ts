import type { App } from '../app/app.js';
import type { Campaign } from '../db/database.js';
import { enqueueJob, scheduleJob } from '../../jobs/contract/client.js';
import { campaignTick } from '../../jobs/contract/definitions.js';
import { QUEUE_NAMES } from '../queue/names.js';

/**
 * Each campaign ticks on its own BullMQ job scheduler (id `campaign-<id>`,
 * its cron in UTC, starting at starts_at) plus one delayed job for the first
 * tick at starts_at. Upserting by a fixed id never duplicates a schedule, so
 * restoring them on every worker start is safe.
 */

/** The scheduler id of a campaign. */
export function schedulerId(campaignId: string): string {
  return `campaign-${campaignId}`;
}

/**
 * Registers (or refreshes) the campaign's tick schedule, and its first tick
 * when it is scheduled but has not started. A draft gets no first tick: a
 * worker could take it before the campaign is scheduled, and a tick ignores
 * a draft (see createCampaign).
 */
export async function scheduleCampaign(app: App, campaign: Pick<Campaign, 'id' | 'schedule' | 'starts_at' | 'status'>): Promise<void> {
  await scheduleJob(app, campaignTick.name, schedulerId(campaign.id), { pattern: campaign.schedule, startDate: campaign.starts_at }, { campaignId: campaign.id });
  if (campaign.status === 'scheduled') await queueFirstTick(app, campaign);
}

/** Adds the campaign's first tick at starts_at (once: a fixed job id). */
export async function queueFirstTick(app: App, campaign: Pick<Campaign, 'id' | 'starts_at'>): Promise<void> {
  // BullMQ delays run on the real clock; the tick itself checks starts_at against app.clock.
  const delay = Math.max(0, campaign.starts_at.getTime() - Date.now());
  await enqueueJob(app, campaignTick.name, { campaignId: campaign.id }, { jobId: `campaign-${campaign.id}-start`, delay });
}

/** Removes the campaign's tick schedule (completed, cancelled). */
export async function unscheduleCampaign(app: App, campaignId: string): Promise<void> {
  await app.queues.get(QUEUE_NAMES.campaigns).removeJobScheduler(schedulerId(campaignId));
}

/** True when the campaign's scheduler exists in the queue store. */
export async function hasSchedule(app: App, campaignId: string): Promise<boolean> {
  return (await app.queues.get(QUEUE_NAMES.campaigns).getJobScheduler(schedulerId(campaignId))) !== undefined;
}

/**
 * Registers the schedule of every campaign that still ticks (scheduled,
 * running, paused); the worker calls it on start. Returns how many it
 * registered that were missing.
 */
export async function restoreCampaignSchedules(app: App): Promise<number> {
  const campaigns = await app.db
    .selectFrom('campaigns')
    .select(['id', 'schedule', 'starts_at', 'status'])
    .where('status', 'in', ['scheduled', 'running', 'paused'])
    .execute();
  let restored = 0;
  for (const campaign of campaigns) {
    if (await hasSchedule(app, campaign.id)) continue;
    await scheduleCampaign(app, campaign);
    restored += 1;
  }
  if (restored > 0) app.log.info({ restored }, 'restored campaign tick schedules');
  return restored;
}
