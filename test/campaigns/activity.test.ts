import { describe, expect, it } from 'vitest';
import { campaignActivity, campaignProgress } from '../../src/campaigns/activity.js';
import { getCampaign } from '../../src/campaigns/campaigns.js';
import { campaignCounts } from '../../src/campaigns/summary.js';
import { useTestEnv } from '../helpers/env.js';
import { insertFixtureCampaign } from '../http/campaign-fixture.js';

const env = useTestEnv();

describe('a campaign over time (the console\'s chart and projection)', () => {
  it('counts per day once the activity spans more than two days, with empty days as zeros', async () => {
    const id = await insertFixtureCampaign(env.db, { name: 'daily', tag: 'daily', now: new Date('2026-03-02T09:00:00Z') });
    // Half the sends four days later: the chart switches to days and shows the three quiet days between.
    await env.db.updateTable('campaign_recipients').set({ sent_at: new Date('2026-03-06T23:59:00Z') }).where('campaign_id', '=', id).where('status', '=', 'sent').execute();
    const activity = await campaignActivity(env.db, id);
    expect(activity.unit).toBe('day');
    expect(activity.buckets.map((b) => b.start)).toEqual(['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'].map((d) => `${d}T00:00:00Z`));
    expect(activity.buckets.map((b) => b.counts.sent)).toEqual([12, 0, 0, 0, 4]);
    expect(activity.buckets[0]?.counts).toMatchObject({ delivered: 9, bounced: 2, verified: 4 });
  });

  it('projects the finish from what is left of today\'s budget, then per_day a day', async () => {
    const id = await insertFixtureCampaign(env.db, { name: 'projection', tag: 'projection', now: new Date('2026-03-02T09:00:00Z') });
    await env.db.updateTable('campaigns').set({ per_day: 2 }).where('id', '=', id).execute();
    const campaign = await getCampaign(env.db, id);
    const counts = await campaignCounts(env.db, campaign);
    // Today (2026-03-02) already queued the 3 fixture rows marked queued, and more: the budget of 2 is spent.
    await env.db.updateTable('campaign_recipients').set({ send_day: '2026-03-02' }).where('campaign_id', '=', id).where('status', '=', 'queued').execute();
    const spent = await campaignProgress(env.db, campaign, counts, new Date('2026-03-02T12:00:00Z'));
    expect(spent).toMatchObject({ usedToday: 3, perDay: 2, remaining: 5 });
    // 5 pending people at 2 a day from tomorrow: 03-03, 03-04, 03-05.
    expect(spent.projectedFinish).toBe('2026-03-05');
    const nextDay = await campaignProgress(env.db, campaign, counts, new Date('2026-03-03T00:30:00Z'));
    expect(nextDay).toMatchObject({ usedToday: 0, projectedFinish: '2026-03-05' });
    const cancelled = await campaignProgress(env.db, { ...campaign, status: 'cancelled' }, counts, new Date('2026-03-02T12:00:00Z'));
    expect(cancelled.projectedFinish).toBeNull();
  });
});
