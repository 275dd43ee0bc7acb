import { CompiledQuery, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { insertCampaign } from '../../src/campaigns/campaigns.js';
import { planBatch, planCampaign } from '../../src/campaigns/planner.js';
import { countSegment, segmentBreakdown, segmentQuery } from '../../src/campaigns/eligibility/segment.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, insertPeople } from './helpers.js';

const env = useTestEnv();
const now = new Date('2026-03-01T10:00:00Z');
let campaignId: string;
let otherCampaignId: string;
let ids: Map<string, string>;

const campaignInput = { name: 'segment test', template: 'reverify-email', segment: 'unverified-role-holders', perDay: 200, schedule: '0 * * * *', startsAt: now, allowExternalLinks: false, eligibleAtCreate: 0, cooldownDays: null };
// No cooldown here: a person another campaign mailed is in this one (the cooldown's traps: cooldown.test.ts).

beforeAll(async () => {
  ids = await insertPeople(env.db, [
    ...eligiblePeople('ok', 6),
    { username: 'ok-many-roles', roles: 3, email: 'Many.Roles@Example.COM' },
    { username: 'ok-in-other-campaign' },
    { username: 'trap-inactive', active: false },
    { username: 'trap-temporary', temporary: true },
    { username: 'trap-verified', verified: true },
    { username: 'trap-hard-bounce', unverifyReason: 'hard_bounce' },
    { username: 'trap-complaint', unverifyReason: 'complaint' },
    { username: 'trap-manual', unverifyReason: 'manual' },
    { username: 'trap-no-role', roles: 0 },
    { username: 'trap-suppressed', suppressed: 'hard_bounce', email: 'Trap.Suppressed@Example.com' },
    { username: 'trap-no-primary', noPrimary: true },
    { username: 'trap-already-mailed' },
    { username: 'trap-complained-elsewhere' },
    { username: 'trap-stopped-elsewhere' },
  ]);
  // Their primary looks eligible, but another of their addresses complained:
  // a complaint is never answered by mailing another address of the person.
  await env.db
    .insertInto('emails')
    .values({ user_id: ids.get('trap-complained-elsewhere')!, email: 'old-complained@example.net', unverify_reason: 'complaint' })
    .execute();
  // The same when another address of theirs asked to stop (a suppression, the address itself left as it was).
  await env.db.insertInto('emails').values({ user_id: ids.get('trap-stopped-elsewhere')!, email: 'Old-Stopped@Example.net' }).execute();
  await env.db.insertInto('suppressions').values({ email: 'old-stopped@example.net', reason: 'recipient_request' }).execute();
  campaignId = (await insertCampaign(env.db, campaignInput, now)).id;
  otherCampaignId = (await insertCampaign(env.db, { ...campaignInput, name: 'other' }, now)).id;
  for (const [campaign, username] of [[campaignId, 'trap-already-mailed'], [otherCampaignId, 'ok-in-other-campaign']] as const) {
    const email = await env.db.selectFrom('emails').select(['id', 'email']).where('user_id', '=', ids.get(username)!).executeTakeFirstOrThrow();
    await env.db
      .insertInto('campaign_recipients')
      .values({ campaign_id: campaign, user_id: ids.get(username)!, email_id: email.id, email: email.email, status: 'sent', sent_at: now, created_at: now, updated_at: now })
      .execute();
  }
});

describe('segment unverified-role-holders', () => {
  it('counts exactly the active, non-temporary, unverified, unsuppressed role holders not yet in the campaign', async () => {
    expect(await countSegment(env.db, campaignId)).toBe(8);
  });

  it('explains every excluded user by the first rule they fail', async () => {
    const { eligible, excluded } = await segmentBreakdown(env.db, campaignId);
    expect(eligible).toBe(8);
    expect(excluded).toEqual({
      inactive: 1,
      temporary: 1,
      verified: 1,
      has_unverify_reason: 3,
      no_role: 1,
      suppressed: 1,
      complained_other_address: 2,
      no_primary_address: 1,
      already_mailed: 1,
    });
  });

  it('plans a ledger row for each eligible person exactly once, in small keyset batches, and never again', async () => {
    const planned = await planCampaign(env.db, campaignId, { now, batchSize: 3 });
    expect(planned).toBe(8);
    const rows = await env.db
      .selectFrom('campaign_recipients as cr')
      .innerJoin('users as u', 'u.id', 'cr.user_id')
      .select(['u.username', 'cr.status', 'cr.email'])
      .where('cr.campaign_id', '=', campaignId)
      .where('cr.status', '=', 'pending')
      .orderBy('u.username')
      .execute();
    expect(rows.map((row) => row.username)).toEqual([
      'ok-000', 'ok-001', 'ok-002', 'ok-003', 'ok-004', 'ok-005', 'ok-in-other-campaign', 'ok-many-roles',
    ]);
    expect(rows.find((row) => row.username === 'ok-many-roles')?.email).toBe('Many.Roles@Example.COM');

    expect(await planCampaign(env.db, campaignId, { now, batchSize: 3 })).toBe(0);
    expect(await countSegment(env.db, campaignId)).toBe(0);
    const total = await env.db.selectFrom('campaign_recipients').select((eb) => eb.fn.countAll<string>().as('n')).where('campaign_id', '=', campaignId).executeTakeFirstOrThrow();
    expect(Number(total.n)).toBe(9);
  });

  it('picks up someone who joins the segment after the walk finished, on the next walk', async () => {
    await insertPeople(env.db, [{ username: 'late-joiner' }]);
    expect(await planCampaign(env.db, campaignId, { now, batchSize: 3 })).toBe(1);
    expect(await planCampaign(env.db, campaignId, { now, batchSize: 3 })).toBe(0);
  });
});

describe('segment query plans', () => {
  it('look a person up in the ledger by user, even when the statistics have never seen the campaign', async () => {
    // The statistics know only an earlier campaign's rows, as after an
    // autovacuum ANALYZE; a new campaign's id is missing from them, so the
    // planner believes it has one ledger row. Probing the ledger by campaign
    // would then scan every row the new campaign already has, for every
    // person of every batch: planning a large campaign went quadratic
    // (a 10,000-row batch ran for minutes at 120,000 planned rows).
    await insertPeople(env.db, eligiblePeople('plan-stats', 400));
    const earlier = (await insertCampaign(env.db, { ...campaignInput, name: 'plan stats earlier' }, now)).id;
    await planCampaign(env.db, earlier, { now });
    await sql`ANALYZE campaign_recipients`.execute(env.db);
    const fresh = (await insertCampaign(env.db, { ...campaignInput, name: 'plan stats fresh' }, now)).id;
    await planBatch(env.db, fresh, null, 200, now);

    const batch = segmentQuery(env.db, fresh, '0').orderBy('e.user_id').limit(10_000).compile();
    const explained = await env.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${batch.sql}`, [...batch.parameters]));
    const plan = explained.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toContain('campaign_recipients');
    expect(plan).not.toMatch(/Index Cond: \(campaign_id = /);
  });
});

