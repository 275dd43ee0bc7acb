import type { App } from '../app/app.js';
import type { CampaignStatus } from '../db/database.js';
import { findCampaign, tryTransitionCampaign } from './campaigns.js';
import { enqueueSends } from './enqueue.js';
import { countUnfinishedRows, planCampaign, queueTodaysShare, releaseStaleQueuedRows } from './planner.js';
import { enforceReputationGuard } from './reputation.js';
import { pauseIfAccountBlocked } from './account-enforcement.js';
import { campaignQuotaLeftNow } from '../ses-account/account-limits.js';
import { unscheduleCampaign } from './schedule.js';
import { countSegment } from './eligibility/segment.js';

/** What one tick did, for the job's log line and for tests. */
export interface TickResult {
  status: CampaignStatus | 'missing';
  planned: number;
  released: number;
  queued: number;
  usedToday: number;
  /** What this tick's budget allowed but the SES account's 24-hour quota did not: it waits for a later tick. */
  deferred: number;
  completed: boolean;
}

/**
 * One campaign tick: start the campaign if its time has come, write ledger
 * rows for every segment member not yet in it, release rows queued for an
 * earlier day, queue this tick's share of today's budget and enqueue their
 * send jobs, and complete the campaign once nobody is left and every row is
 * final. Safe to run twice at once or again after a crash: budget choices hold
 * the campaign row lock and every write is idempotent.
 */
export async function runCampaignTick(app: App, campaignId: string): Promise<TickResult> {
  const result: TickResult = { status: 'missing', planned: 0, released: 0, queued: 0, usedToday: 0, deferred: 0, completed: false };
  let campaign = await findCampaign(app.db, campaignId);
  if (!campaign) return result;
  const now = app.clock();
  result.status = campaign.status;
  if (campaign.status === 'completed' || campaign.status === 'cancelled') {
    await unscheduleCampaign(app, campaignId);
    return result;
  }
  if (campaign.status === 'draft' || campaign.status === 'paused') return result;
  if (now.getTime() < campaign.starts_at.getTime()) return result;
  if (campaign.status === 'scheduled') {
    campaign = (await tryTransitionCampaign(app.db, campaignId, 'running', { now, from: ['scheduled'] })) ?? campaign;
    result.status = campaign.status;
    if (campaign.status !== 'running') return result;
  }

  const guard = await enforceReputationGuard(app.db, app.config, campaignId);
  if (guard.paused || (await pauseIfAccountBlocked(app, campaignId))) {
    result.status = 'paused';
    return result;
  }
  result.planned = await planCampaign(app.db, campaignId, { now });
  result.released = await releaseStaleQueuedRows(app.db, campaignId, now);
  const share = await queueTodaysShare(app.db, campaignId, { now, quotaLeft: (trx) => campaignQuotaLeftNow(app, trx) });
  result.queued = share.queued.length;
  result.deferred = share.deferred;
  if (share.deferred > 0) app.log.info({ campaignId, queued: share.queued.length, deferred: share.deferred }, 'the SES account’s 24-hour quota (less SES_QUOTA_RESERVE) defers part of this tick’s budget to a later tick');
  result.usedToday = share.usedToday + share.queued.length;
  // Enqueued after the commit: a crash in between leaves queued rows without jobs, which reconcile finds.
  await enqueueSends(app, share.queued);

  if ((await countUnfinishedRows(app.db, campaignId)) === 0 && (await countSegment(app.db, campaignId)) === 0) {
    const completed = await tryTransitionCampaign(app.db, campaignId, 'completed', { now, from: ['running'] });
    if (completed) {
      result.completed = true;
      result.status = 'completed';
      await unscheduleCampaign(app, campaignId);
      app.log.info({ campaignId }, 'campaign completed: everyone in the segment has a final ledger row');
    }
  }
  return result;
}
