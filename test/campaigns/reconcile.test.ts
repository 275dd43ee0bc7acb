import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { deliverCampaignMessage } from '../../src/campaigns/deliver.js';
import { sendJobId } from '../../src/campaigns/enqueue.js';
import { reconcile } from '../../src/campaigns/reconcile.js';
import { enforceReputationGuard } from '../../src/campaigns/reputation.js';
import { hasSchedule, restoreCampaignSchedules, schedulerId } from '../../src/campaigns/schedule.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, FakeSes } from './helpers.js';

const env = useTestEnv();
let app: App;

beforeAll(async () => {
  app = env.app();
});
afterAll(async () => {
  await app.close();
});

async function newCampaign(prefix: string, people: number): Promise<string> {
  return (await campaignForNewPeople(app, prefix, people, { perDay: 100 })).campaignId;
}

describe('reconcile', () => {
  it('re-enqueues queued rows whose jobs Redis lost, once, and restores missing schedules without duplicates', async () => {
    const id = await newCampaign('lost', 3);
    await runCampaignTick(app, id);
    const send = app.queues.get(QUEUE_NAMES.send);
    const campaigns = app.queues.get(QUEUE_NAMES.campaigns);
    await send.obliterate({ force: true });
    await campaigns.removeJobScheduler(schedulerId(id));

    expect(await reconcile(app)).toMatchObject({ requeued: 3, schedulesRestored: 1 });
    const rows = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', id).execute();
    for (const row of rows) expect(await send.getJob(sendJobId([row.id]))).toBeDefined();
    expect(await hasSchedule(app, id)).toBe(true);

    expect(await reconcile(app)).toMatchObject({ requeued: 0, schedulesRestored: 0 });
    expect(await restoreCampaignSchedules(app)).toBe(0);
    expect((await campaigns.getJobSchedulers()).filter((scheduler) => scheduler.key === schedulerId(id) || scheduler.id === schedulerId(id))).toHaveLength(1);
  });

  it('never resends a row a dead process left in sending: it fails it as unknown_outcome_after_crash', async () => {
    const id = await newCampaign('crash', 1);
    await runCampaignTick(app, id);
    const row = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', id).executeTakeFirstOrThrow();
    await env.db.updateTable('campaign_recipients').set({ status: 'sending', sending_at: new Date() }).where('id', '=', row.id).execute();
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(app, row.id, { ses })).toBe('unknown_outcome');
    expect(ses.calls).toBe(0);
    expect(await countRowsByStatus(env.db, id)).toEqual({ failed: 1 });
    const failed = await env.db.selectFrom('campaign_recipients').select('reason').where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(failed.reason).toBe('unknown_outcome_after_crash');
  });
});

describe('retries', () => {
  it('puts a row back to queued on a network error, and fails it on the last attempt', async () => {
    const id = await newCampaign('network', 1);
    await runCampaignTick(app, id);
    const row = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', id).executeTakeFirstOrThrow();
    const ses = new FakeSes(() => Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error', code: 'ECONNREFUSED' }));
    await expect(deliverCampaignMessage(app, row.id, { ses, attemptsMade: 0, maxAttempts: 8 })).rejects.toThrow('ECONNREFUSED');
    expect(await countRowsByStatus(env.db, id)).toEqual({ queued: 1 });
    await expect(deliverCampaignMessage(app, row.id, { ses, attemptsMade: 7, maxAttempts: 8 })).rejects.toThrow('ECONNREFUSED');
    const failed = await env.db.selectFrom('campaign_recipients').select(['status', 'reason', 'attempts']).where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(failed).toMatchObject({ status: 'failed', attempts: 2 });
    expect(failed.reason).toContain('gave up after 8 attempts');
    expect(ses.accepted).toHaveLength(0);
  });
});

describe('reputation guard', () => {
  it('pauses a running campaign whose bounce rate passes the limit after the minimum sample, and show says why', async () => {
    const id = await newCampaign('guard', 0);
    await env.db.updateTable('campaigns').set({ status: 'running' }).where('id', '=', id).execute();
    const now = new Date();
    await sql`
      WITH u AS (
        INSERT INTO users (username) SELECT 'guard-bulk-' || i FROM generate_series(1, 200) AS i RETURNING id, username
      ), e AS (
        INSERT INTO emails (user_id, email, is_primary) SELECT id, username || '@example.net', true FROM u RETURNING id, user_id, email
      )
      INSERT INTO campaign_recipients (campaign_id, user_id, email_id, email, status, sent_at, bounced_at)
      SELECT ${id}, e.user_id, e.id, e.email, 'sent', ${now}, CASE WHEN row_number() OVER (ORDER BY e.id) <= 10 THEN ${now}::timestamptz END
      FROM e`.execute(env.db);
    expect(await enforceReputationGuard(env.db, app.config, id)).toEqual({ paused: false });

    await sql`UPDATE campaign_recipients SET bounced_at = ${now}, status = 'bounced'
              WHERE id = (SELECT min(id) FROM campaign_recipients WHERE campaign_id = ${id} AND bounced_at IS NULL)`.execute(env.db);
    const outcome = await enforceReputationGuard(env.db, app.config, id);
    expect(outcome.paused).toBe(true);
    const summary = await getCampaignSummary(env.db, id);
    expect(summary?.status).toBe('paused');
    expect(summary?.reason).toBe('paused by the reputation guard: bounce rate 5.5% (11 of 200 sent) is above REPUTATION_MAX_BOUNCE_RATE 5%');
    expect(summary?.counts).toMatchObject({ sent: 200, bounced: 11 });
  });
});
