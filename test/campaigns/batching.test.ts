import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { utcDay } from '../../src/campaigns/budget.js';
import { claimAll, claimRecipients, type ClaimRequest } from '../../src/campaigns/eligibility/claim.js';
import { recordAllSent } from '../../src/campaigns/ledger/ledger.js';
import { pauseCampaign } from '../../src/campaigns/operations.js';
import { preparedDb } from '../../src/db/connect.js';
import { newStopTokens } from '../../src/verification/stop-tokens.js';
import { newVerificationToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople } from './helpers.js';

/**
 * Concurrent send jobs share their claim and MessageId statements. A batch
 * must behave exactly like the single statements it replaces: each request
 * gets its own row's answer, a row asked for twice is claimed once, and one
 * bad row fails only itself.
 */
const env = useTestEnv();

/** A campaign whose first tick queued `people` rows, with their send jobs removed: the tests drive the claims themselves. */
async function queuedCampaign(prefix: string, people: number): Promise<{ campaignId: string; rows: string[] }> {
  const app = env.app();
  const queued = await campaignForNewPeople(app, prefix, people, { tick: true });
  await app.queues.get('send').obliterate({ force: true });
  return queued;
}

function claimOf(recipientId: string, now = new Date()): ClaimRequest {
  return { recipientId, day: utcDay(now), now, token: newVerificationToken(now, 24), stopToken: newStopTokens(1)[0]! };
}

async function statusOf(id: string): Promise<{ status: string; ses_message_id: string | null }> {
  return env.db.selectFrom('campaign_recipients').select(['status', 'ses_message_id']).where('id', '=', id).executeTakeFirstOrThrow();
}

describe('batched claims and records', () => {
  it('a batch claim answers each request for its own row, claims a repeated row once and writes a token per claim', async () => {
    const { rows } = await queuedCampaign('batch-claim', 4);
    const [a, b, c, d] = rows as [string, string, string, string];
    const tomorrow = new Date(Date.now() + 86_400_000);
    const facts = await claimRecipients(env.db, [claimOf(a), claimOf(b), claimOf(a), claimOf(c, tomorrow), claimOf(d), claimOf('999999999')]);

    expect(facts.map((f) => f?.id ?? null)).toEqual([a, b, null, null, d, null]);
    expect(facts[0]).toMatchObject({ status: 'sending', campaignStatus: 'running', template: 'reverify-email', plannedEmail: 'batch-claim-000@example.com', hasRole: true });
    expect(facts[1]?.plannedEmail).toBe('batch-claim-001@example.com');
    expect((await statusOf(a)).status).toBe('sending');
    // c was asked for tomorrow while it is queued for today: untouched.
    expect((await statusOf(c)).status).toBe('queued');
    const tokens = await env.db.selectFrom('verification_tokens').select('campaign_recipient_id').where('campaign_recipient_id', 'in', rows).orderBy('campaign_recipient_id').execute();
    expect(tokens.map((t) => t.campaign_recipient_id)).toEqual([a, b, d]);
  });

  it('concurrent claims share statements and still claim a row for one caller only', async () => {
    const { rows } = await queuedCampaign('batch-race', 30);
    // Every row asked for by two jobs at once, as two racing jobs holding the same rows would.
    const jobs = await Promise.all([claimAll(env.db, rows.map((id) => claimOf(id))), claimAll(env.db, rows.map((id) => claimOf(id)))]);
    const winners = jobs.flat().flatMap((answer) => (answer.status === 'fulfilled' && answer.value !== undefined ? [answer.value.id] : []));
    expect(winners.sort()).toEqual([...rows].sort());
    const sending = await env.db.selectFrom('campaign_recipients').select('id').where('id', 'in', rows).where('status', '=', 'sending').execute();
    expect(sending).toHaveLength(30);
    const tokens = await env.db.selectFrom('verification_tokens').select('id').where('campaign_recipient_id', 'in', rows).execute();
    expect(tokens).toHaveLength(30);
  });

  it('the claim and record run as named statements with a generic plan, planned once per connection', async () => {
    const { rows } = await queuedCampaign('batch-prepared', 12);
    for (const id of rows) {
      await claimAll(env.db, [claimOf(id)]);
      await recordAllSent(env.db, [{ id, messageId: `prepared-${id}`, now: new Date() }]);
    }
    // One at a time, so the prepared pool used one connection: the one asked here (pg's pool hands out the last idle client).
    const statements = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
      SELECT statement, generic_plans::text, custom_plans::text FROM pg_prepared_statements`.execute(preparedDb(env.db));
    const claim = statements.rows.find((row) => row.statement.includes('WITH wanted AS'));
    const record = statements.rows.find((row) => row.statement.includes("SET status = 'sent'"));
    expect(claim).toMatchObject({ custom_plans: '0' });
    expect(record).toMatchObject({ custom_plans: '0' });
    expect(Number(claim?.generic_plans)).toBeGreaterThanOrEqual(12);
    expect(Number(record?.generic_plans)).toBeGreaterThanOrEqual(12);
  });

  it('a paused campaign is not claimed in a batch with a running one', async () => {
    const running = await queuedCampaign('batch-running', 1);
    const paused = await queuedCampaign('batch-paused', 1);
    await pauseCampaign(env.app(), paused.campaignId, 'paused for the test');
    const facts = await claimRecipients(env.db, [claimOf(paused.rows[0]!), claimOf(running.rows[0]!)]);
    expect(facts.map((f) => f?.id ?? null)).toEqual([null, running.rows[0]]);
    expect((await statusOf(paused.rows[0]!)).status).toBe('queued');
  });

  it('records concurrent sends in shared statements; a duplicate MessageId fails only its own row', async () => {
    const { rows } = await queuedCampaign('batch-record', 6);
    await claimAll(env.db, rows.map((id) => claimOf(id)));
    const now = new Date();
    const ids = rows.map((id, i) => (i === 5 ? 'dup-message-id' : i === 4 ? 'dup-message-id' : `message-${id}`));
    const results = await recordAllSent(env.db, rows.map((id, i) => ({ id, messageId: ids[i]!, now })));

    expect(results.slice(0, 4).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const lastTwo = results.slice(4);
    // One of the two holding the same id wins; the other is refused by the unique index.
    expect(lastTwo.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = lastTwo.find((r) => r.status === 'rejected');
    expect(String(refused?.reason)).toMatch(/campaign_recipients_ses_message_key|duplicate key/);
    const states = await Promise.all(rows.map(statusOf));
    expect(states.slice(0, 4)).toEqual(rows.slice(0, 4).map((id) => ({ status: 'sent', ses_message_id: `message-${id}` })));
    expect(states.slice(4).map((s) => s.status).sort()).toEqual(['sending', 'sent']);

    // Recording a row that is no longer sending changes nothing and says so.
    expect(await recordAllSent(env.db, [{ id: rows[0]!, messageId: 'another-id', now }])).toEqual([{ status: 'fulfilled', value: false }]);
    expect(await statusOf(rows[0]!)).toEqual({ status: 'sent', ses_message_id: `message-${rows[0]}` });
  });
});
