import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { deliverCampaignMessage } from '../../src/campaigns/deliver.js';
import { createCampaign } from '../../src/campaigns/operations.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, FakeSes, insertPeople } from './helpers.js';

const env = useTestEnv();
let now = new Date('2026-03-01T00:00:00Z');
let app: App;
const ses = new FakeSes();

beforeAll(async () => {
  app = env.app({ clock: () => now });
  await insertPeople(env.db, eligiblePeople('budget', 23));
});
afterAll(async () => {
  await app.close();
});

async function deliverQueued(campaignId: string): Promise<void> {
  const rows = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', campaignId).where('status', '=', 'queued').execute();
  for (const row of rows) await deliverCampaignMessage(app, row.id, { ses });
}

async function sentPerDay(campaignId: string): Promise<Record<string, number>> {
  const rows = await env.db
    .selectFrom('campaign_recipients')
    .select(['sent_at'])
    .where('campaign_id', '=', campaignId)
    .where('sent_at', 'is not', null)
    .execute();
  const days: Record<string, number> = {};
  for (const row of rows) {
    const day = row.sent_at!.toISOString().slice(0, 10);
    days[day] = (days[day] ?? 0) + 1;
  }
  return days;
}

describe('daily budget across ticks and days', () => {
  it('never sends more than per_day on a UTC day, spreads it over the day’s ticks, mails everyone once, then completes', async () => {
    const { campaign } = await createCampaign(
      app,
      { name: 'budget', template: 'reverify-email', segment: 'unverified-role-holders', perDay: 5, schedule: '0 */6 * * *', startsAt: now, allowExternalLinks: false },
      { dryRun: false },
    );
    const id = campaign!.id;
    const queuedPerTick: number[] = [];
    for (let day = 0; day < 6; day += 1) {
      for (const hour of [0, 6, 12, 18]) {
        now = new Date(Date.UTC(2026, 2, 1 + day, hour, 0, 0));
        const tick = await runCampaignTick(app, id);
        // A duplicate tick (a retried job, a second worker) must not spend the budget twice.
        const again = await runCampaignTick(app, id);
        queuedPerTick.push(tick.queued + again.queued);
        now = new Date(now.getTime() + 60_000);
        await deliverQueued(id);
      }
    }
    expect(queuedPerTick.slice(0, 4)).toEqual([2, 1, 1, 1]);
    expect(await sentPerDay(id)).toEqual({ '2026-03-01': 5, '2026-03-02': 5, '2026-03-03': 5, '2026-03-04': 5, '2026-03-05': 3 });
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(23);
    expect(ses.accepted).toHaveLength(23);
    const summary = await getCampaignSummary(env.db, id);
    expect(summary?.status).toBe('completed');
    expect(summary?.counts).toMatchObject({ eligible: 23, queued: 23, sent: 23, failed: 0, skipped: 0 });
  });

  it('does not send yesterday’s queued rows on top of today’s budget', async () => {
    await insertPeople(env.db, eligiblePeople('late', 6));
    now = new Date('2026-04-01T00:00:00Z');
    const { campaign } = await createCampaign(
      app,
      { name: 'stale', template: 'reverify-email', segment: 'unverified-role-holders', perDay: 4, schedule: '0 0 * * *', startsAt: now, allowExternalLinks: false },
      { dryRun: false },
    );
    const id = campaign!.id;
    expect((await runCampaignTick(app, id)).queued).toBe(4);
    const stale = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', id).where('status', '=', 'queued').execute();

    // The day passes with nothing sent (worker down). Next day, the old jobs run before the tick.
    now = new Date('2026-04-02T00:00:05Z');
    for (const row of stale) expect(await deliverCampaignMessage(app, row.id, { ses })).toBe('deferred');
    expect((await runCampaignTick(app, id)).queued).toBe(4);
    await deliverQueued(id);
    expect(await runCampaignTick(app, id)).toMatchObject({ queued: 0, usedToday: 4 });
    expect(await sentPerDay(id)).toEqual({ '2026-04-02': 4 });
  });
});
