import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { deliverCampaignMessage } from '../../src/campaigns/deliver.js';
import { createCampaign, previewCampaign, type CreateCampaignInput } from '../../src/campaigns/operations.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, FakeSes, insertPeople } from './helpers.js';

/**
 * The cooldown across campaigns (CAMPAIGN_COOLDOWN_DAYS, 30 by default): a
 * person another campaign mailed within it is left out of a new campaign
 * (`recently_mailed`), at planning and again right before the send, unless
 * the campaign is created with --ignore-cooldown.
 */

const env = useTestEnv();
let app: App;
const DAY = 86_400_000;
let ids: Map<string, string>;
let earlier: string;

const input = (name: string, extra: Partial<CreateCampaignInput> = {}): CreateCampaignInput => ({
  name,
  template: 'reverify-email',
  segment: 'unverified-role-holders',
  perDay: 1000,
  schedule: '0 0 * * *',
  startsAt: new Date(),
  allowExternalLinks: false,
  ...extra,
});

/** A ledger row of campaign `campaignId` saying `username` was mailed `daysAgo` days ago. */
async function mailed(campaignId: string, username: string, daysAgo: number): Promise<void> {
  const userId = ids.get(username)!;
  const email = await env.db.selectFrom('emails').select(['id', 'email']).where('user_id', '=', userId).executeTakeFirstOrThrow();
  const at = new Date(Date.now() - daysAgo * DAY);
  await env.db
    .insertInto('campaign_recipients')
    .values({ campaign_id: campaignId, user_id: userId, email_id: email.id, email: email.email, status: 'sent', sending_at: at, sent_at: at, created_at: at, updated_at: at })
    .execute();
}

beforeAll(async () => {
  app = env.app();
  ids = await insertPeople(env.db, [...eligiblePeople('cool', 2), { username: 'mailed-29-days-ago' }, { username: 'mailed-31-days-ago' }, { username: 'being-sent-elsewhere' }]);
  earlier = (await createCampaign(app, input('earlier campaign', { ignoreCooldown: true }), { dryRun: false })).campaign!.id;
  await mailed(earlier, 'mailed-29-days-ago', 29);
  await mailed(earlier, 'mailed-31-days-ago', 31);
  // Claimed by another campaign a minute ago, its outcome not known yet: SES may have it.
  const userId = ids.get('being-sent-elsewhere')!;
  const email = await env.db.selectFrom('emails').select(['id', 'email']).where('user_id', '=', userId).executeTakeFirstOrThrow();
  await env.db
    .insertInto('campaign_recipients')
    .values({ campaign_id: earlier, user_id: userId, email_id: email.id, email: email.email, status: 'unconfirmed', sending_at: new Date(Date.now() - 60_000), created_at: new Date(), updated_at: new Date() })
    .execute();
});

async function plannedUsernames(campaignId: string): Promise<string[]> {
  const rows = await env.db
    .selectFrom('campaign_recipients as cr')
    .innerJoin('users as u', 'u.id', 'cr.user_id')
    .select('u.username')
    .where('cr.campaign_id', '=', campaignId)
    .orderBy('u.username')
    .execute();
  return rows.map((row) => row.username);
}

describe('cooldown across campaigns', () => {
  it('leaves out whom another campaign mailed 29 days ago or is mailing now, and takes whom it mailed 31 days ago', async () => {
    expect((await createCampaign(app, input('dry'), { dryRun: true })).eligible).toBe(3);
    const { campaign, eligible } = await createCampaign(app, input('new campaign'), { dryRun: false });
    expect(eligible).toBe(3);
    expect(campaign!.cooldown_days).toBe(30);
    const preview = await previewCampaign(app, campaign!.id);
    expect(preview.eligible).toBe(3);
    expect(preview.excluded.recently_mailed).toBe(2);
    await runCampaignTick(app, campaign!.id);
    expect(await plannedUsernames(campaign!.id)).toEqual(['cool-000', 'cool-001', 'mailed-31-days-ago']);
  });

  it('does not hold a campaign\'s own earlier message against it: that is already_mailed', async () => {
    const preview = await previewCampaign(app, earlier);
    expect(preview.excluded.already_mailed).toBe(3);
    expect(preview.excluded.recently_mailed).toBeUndefined();
  });

  it('with --ignore-cooldown takes everyone', async () => {
    expect((await createCampaign(app, input('dry ignoring', { ignoreCooldown: true }), { dryRun: true })).eligible).toBe(5);
    const { campaign, eligible } = await createCampaign(app, input('ignoring', { ignoreCooldown: true }), { dryRun: false });
    expect(eligible).toBe(5);
    expect(campaign!.cooldown_days).toBeNull();
    expect((await previewCampaign(app, campaign!.id)).excluded.recently_mailed).toBeUndefined();
  });

  it('checks again right before each send: a person another campaign mailed since planning is skipped as recently_mailed', async () => {
    const { campaign } = await createCampaign(app, input('re-check'), { dryRun: false });
    await runCampaignTick(app, campaign!.id);
    const row = await env.db
      .selectFrom('campaign_recipients')
      .select('id')
      .where('campaign_id', '=', campaign!.id)
      .where('user_id', '=', ids.get('cool-000')!)
      .executeTakeFirstOrThrow();
    // Meanwhile another campaign mails cool-000.
    await mailed(earlier, 'cool-000', 0);
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(app, row.id, { ses })).toBe('skipped');
    expect(ses.calls).toBe(0);
    const skipped = await env.db.selectFrom('campaign_recipients').select(['status', 'reason']).where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(skipped).toEqual({ status: 'skipped', reason: 'recently_mailed' });
    // Its neighbour, whom nobody mailed, is sent as usual.
    const other = await env.db
      .selectFrom('campaign_recipients')
      .select('id')
      .where('campaign_id', '=', campaign!.id)
      .where('user_id', '=', ids.get('cool-001')!)
      .executeTakeFirstOrThrow();
    expect(await deliverCampaignMessage(app, other.id, { ses })).toBe('sent');
  });
});
