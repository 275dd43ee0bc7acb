import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { preparedDb } from '../../src/db/connect.js';
import type { UnverifyReason } from '../../src/db/database.js';
import { sampleSesEvent, type SampleEventOptions } from '../../src/dev/sample-events.js';
import { ADDRESS_EVENT_KINDS, decide, TRANSITIONS, type AddressEventKind, type AddressState, type HistoryEntry } from '../../src/ses-events/state-machine.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, addressState, post, TOPIC, useWebhook } from './helpers.js';

const SOFT_BOUNCE_LIMIT = 3;
const env = useTestEnv();
const hook = useWebhook(env, { overrides: { SOFT_BOUNCE_LIMIT: String(SOFT_BOUNCE_LIMIT) } });

/** Posts one signed SES event and returns the webhook's answer body. */
async function send(kind: AddressEventKind, options: SampleEventOptions): Promise<{ status: string; outcome?: string }> {
  const message = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent(kind, options) });
  const response = await post(hook.server, message);
  expect(response.statusCode).toBe(200);
  return response.json();
}

async function auditRows(emailId: string) {
  return env.db.selectFrom('audit_log').select(['actor', 'action', 'reason', 'details']).where('email_id', '=', emailId).orderBy('id').execute();
}

describe('SES events change the address as the contract says', () => {
  it('a permanent bounce unverifies with hard_bounce, suppresses, and writes the audit row', async () => {
    const address = await addAddress(env.db, { verified: true });
    await send('hard_bounce', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'hard_bounce', transientBounces: 0, suppression: 'hard_bounce' });
    const audit = await auditRows(address.emailId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'ses-webhook', action: 'email.unverified', reason: 'hard_bounce' });
    expect(audit[0]?.details).toMatchObject({ previous: { verified: true, reason: null }, sesEvent: { eventType: 'Bounce', subType: 'Permanent/General' } });
    // The audit row and the suppression point at the stored event.
    const stored = await env.db.selectFrom('email_events').select(['id', 'sns_message_id']).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(audit[0]?.details).toMatchObject({ emailEventId: stored.id, snsMessageId: stored.sns_message_id });
    const suppression = await env.db.selectFrom('suppressions').select(['reason', 'email_event_id']).where('email', '=', address.email.toLowerCase()).executeTakeFirstOrThrow();
    expect(suppression).toEqual({ reason: 'hard_bounce', email_event_id: stored.id });
  });

  it(`transient bounces count up and unverify with soft_bounce above SOFT_BOUNCE_LIMIT (${SOFT_BOUNCE_LIMIT})`, async () => {
    const address = await addAddress(env.db);
    for (let i = 1; i <= SOFT_BOUNCE_LIMIT; i += 1) {
      await send('soft_bounce', { to: address.email });
      expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: null, transientBounces: i, suppression: null });
    }
    await send('soft_bounce', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toEqual({
      verified: false,
      reason: 'soft_bounce',
      transientBounces: SOFT_BOUNCE_LIMIT + 1,
      suppression: 'soft_bounce',
    });
    expect((await auditRows(address.emailId)).map((row) => row.reason)).toEqual(['soft_bounce']);
  });

  it('bounces that arrive after a later delivery still unverify once more than the limit happened before it', async () => {
    const address = await addAddress(env.db, { verified: true });
    const at = (minute: number) => new Date(Date.now() - (60 - minute) * 60_000);
    await send('delivery', { to: address.email, at: at(10), sesMessageId: randomUUID() });
    for (let minute = 1; minute <= SOFT_BOUNCE_LIMIT; minute += 1) {
      expect((await send('soft_bounce', { to: address.email, at: at(minute), sesMessageId: randomUUID() })).outcome).toBe('superseded');
    }
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: true, reason: null, transientBounces: 0, suppression: null });
    // In order, this one would have passed the limit before the delivery came.
    await send('soft_bounce', { to: address.email, at: at(SOFT_BOUNCE_LIMIT + 1), sesMessageId: randomUUID() });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'soft_bounce', transientBounces: 0, suppression: 'soft_bounce' });
    expect((await auditRows(address.emailId)).map((row) => row.reason)).toEqual(['soft_bounce']);
  });

  it('undetermined bounces count like transient ones', async () => {
    const address = await addAddress(env.db, { transientBounces: SOFT_BOUNCE_LIMIT });
    await send('undetermined_bounce', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: 'soft_bounce', transientBounces: SOFT_BOUNCE_LIMIT + 1 });
  });

  it('a transient bounce after a delivery of the same message is an out-of-office reply and counts nothing', async () => {
    const address = await addAddress(env.db, { transientBounces: 2 });
    const sesMessageId = randomUUID();
    await send('delivery', { to: address.email, sesMessageId });
    const answer = await send('soft_bounce', { to: address.email, sesMessageId });
    expect(answer.outcome).toBe('out_of_office');
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: null, transientBounces: 0, suppression: null });
  });

  it('a delivery resets the transient bounce count', async () => {
    const address = await addAddress(env.db);
    await send('soft_bounce', { to: address.email });
    await send('soft_bounce', { to: address.email });
    await send('delivery', { to: address.email });
    expect((await addressState(env.db, address.emailId)).transientBounces).toBe(0);
  });

  it('a complaint unverifies and suppresses the address, and no other address of the user is touched', async () => {
    const address = await addAddress(env.db, { verified: true });
    const second = await env.db
      .insertInto('emails')
      .values({ user_id: address.userId, email: `second-${randomUUID()}@example.net`, verified: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    await send('complaint', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'complaint', transientBounces: 0, suppression: 'complaint' });
    expect(await addressState(env.db, second.id)).toEqual({ verified: true, reason: null, transientBounces: 0, suppression: null });
    expect((await auditRows(address.emailId))[0]?.details).toMatchObject({ sesEvent: { eventType: 'Complaint', subType: 'abuse' } });
  });

  it('a delivery after a bounce neither re-verifies nor clears the reason', async () => {
    const address = await addAddress(env.db, { verified: true });
    const sesMessageId = randomUUID();
    await send('hard_bounce', { to: address.email, sesMessageId });
    await send('delivery', { to: address.email, sesMessageId });
    await send('delivery', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'hard_bounce', transientBounces: 0, suppression: 'hard_bounce' });
  });

  it('a stronger reason is never replaced by a weaker one', async () => {
    const address = await addAddress(env.db, { transientBounces: SOFT_BOUNCE_LIMIT });
    await send('complaint', { to: address.email });
    await send('hard_bounce', { to: address.email });
    await send('soft_bounce', { to: address.email });
    expect(await addressState(env.db, address.emailId)).toMatchObject({ reason: 'complaint', suppression: 'complaint' });
    expect((await auditRows(address.emailId)).map((row) => row.reason)).toEqual(['complaint']);
  });

  it('a bounce that happened before the address was last verified is stale; a complaint still applies', async () => {
    const verifiedAt = new Date(Date.now() - 60_000);
    const address = await addAddress(env.db, { verified: true, verifiedAt });
    const before = new Date(verifiedAt.getTime() - 60_000);
    expect((await send('hard_bounce', { to: address.email, at: before })).outcome).toBe('stale');
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: true, reason: null, transientBounces: 0, suppression: null });
    await send('complaint', { to: address.email, at: before });
    expect(await addressState(env.db, address.emailId)).toMatchObject({ verified: false, reason: 'complaint' });
  });

  it('handles every recipient of one bounce, in the identity-notification shape too', async () => {
    const first = await addAddress(env.db);
    const second = await addAddress(env.db);
    await send('hard_bounce', { to: [first.email, second.email, 'stranger@example.net'], shape: 'notification' });
    expect(await addressState(env.db, first.emailId)).toMatchObject({ reason: 'hard_bounce' });
    expect(await addressState(env.db, second.emailId)).toMatchObject({ reason: 'hard_bounce' });
  });

  it('the same bounce reported through both identity notifications and event publishing counts once', async () => {
    const address = await addAddress(env.db);
    const sesMessageId = randomUUID();
    await send('soft_bounce', { to: address.email, sesMessageId, shape: 'notification' });
    expect((await send('soft_bounce', { to: address.email, sesMessageId, shape: 'event' })).outcome).toBe('repeat');
    expect((await addressState(env.db, address.emailId)).transientBounces).toBe(1);
  });

  it('two events of one message arriving at once for one address end as one of their two orders would', async () => {
    const address = await addAddress(env.db, { transientBounces: SOFT_BOUNCE_LIMIT });
    const sesMessageId = randomUUID();
    // Hold the address row so both requests queue on its lock, then let them go.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = env.db.transaction().execute(async (trx) => {
      await sql`SELECT id FROM emails WHERE id = ${address.emailId} FOR UPDATE`.execute(trx);
      locked();
      await released;
    });
    await isLocked;
    const delivery = send('delivery', { to: address.email, sesMessageId });
    const bounce = send('soft_bounce', { to: address.email, sesMessageId });
    for (let waiting = 0; waiting < 2; ) {
      const row = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(env.db);
      waiting = Number(row.rows[0]?.n);
    }
    release();
    await Promise.all([holder, delivery, bounce]);
    const state = await addressState(env.db, address.emailId);
    expect([
      // delivery first: the bounce is an out-of-office reply
      { verified: false, reason: null, transientBounces: 0, suppression: null },
      // bounce first: over the limit, then the delivery resets the count but not the reason
      { verified: false, reason: 'soft_bounce', transientBounces: 0, suppression: 'soft_bounce' },
    ]).toContainEqual(state);
  });

  it.each(['send', 'reject', 'delivery_delay', 'unknown'] as const)('a %s event is recorded and changes no address', async (kind) => {
    const address = await addAddress(env.db, { transientBounces: 2 });
    await send(kind, { to: address.email });
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: null, transientBounces: 2, suppression: null });
  });
});

describe('every pairwise order of two events of one message ends in the state the table gives', () => {
  const starts: Record<string, { verified: boolean; reason: UnverifyReason | null; transientBounces: number; suppressed: boolean }> = {
    'a never-verified address': { verified: false, reason: null, transientBounces: 0, suppressed: false },
    'a verified address': { verified: true, reason: null, transientBounces: 0, suppressed: false },
    'an address at the soft-bounce limit': { verified: true, reason: null, transientBounces: SOFT_BOUNCE_LIMIT, suppressed: false },
    'a hard-bounced address': { verified: false, reason: 'hard_bounce', transientBounces: 1, suppressed: true },
  };
  const pairs = ADDRESS_EVENT_KINDS.flatMap((first) => ADDRESS_EVENT_KINDS.map((second) => [first, second] as const));

  it.each(Object.keys(starts).flatMap((name) => [[name, 'in event-time order'], [name, 'in reverse event-time order']]))('from %s, arriving %s', async (startName, timing) => {
    const start = starts[startName]!;
    const failures: string[] = [];
    await Promise.all(
      pairs.map(async ([first, second]) => {
        const verifiedAt = start.verified ? new Date(Date.now() - 86_400_000) : null;
        const address = await addAddress(env.db, { verified: start.verified, verifiedAt, reason: start.reason, transientBounces: start.transientBounces });
        if (start.suppressed && start.reason) {
          await env.db.insertInto('suppressions').values({ email: address.email.toLowerCase(), reason: start.reason, email_event_id: null }).execute();
        }
        const sesMessageId = randomUUID();
        const early = new Date(Date.now() - 120_000);
        const late = new Date(Date.now() - 60_000);
        const [firstAt, secondAt] = timing === 'in event-time order' ? [early, late] : [late, early];
        await send(first, { to: address.email, sesMessageId, at: firstAt });
        await send(second, { to: address.email, sesMessageId, at: secondAt });

        let model: AddressState = {
          verified: start.verified,
          verifiedAt,
          reason: start.reason,
          transientBounces: start.transientBounces,
          suppression: start.suppressed ? start.reason : null,
        };
        const history: HistoryEntry[] = [];
        for (const [kind, at] of [[first, firstAt], [second, secondAt]] as const) {
          const decision = decide(model, { kind, sesMessageId, occurredAt: at }, history, SOFT_BOUNCE_LIMIT);
          if (TRANSITIONS[kind].touchesAddress && decision.outcome !== 'repeat') history.push({ sesMessageId, kind, outcome: decision.outcome, occurredAt: at });
          model = decision.next;
        }
        const expected = { verified: model.verified, reason: model.reason, transientBounces: model.transientBounces, suppression: model.suppression };
        const actual = await addressState(env.db, address.emailId);
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          failures.push(`${first} then ${second}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
        }
        // Invariants the contract states outright, independent of the table.
        const pair = [first, second];
        const broken = (rule: string) => failures.push(`${first} then ${second}: ${rule} (got ${JSON.stringify(actual)})`);
        if (actual.verified && !start.verified) broken('an SES event never verifies an address');
        if (pair.includes('complaint') && (actual.reason !== 'complaint' || actual.suppression !== 'complaint')) broken('a complaint always unverifies and suppresses');
        if (pair.includes('hard_bounce') && !pair.includes('complaint') && actual.reason !== 'hard_bounce') broken('a hard bounce leaves hard_bounce');
        if (start.reason !== null && actual.reason === null) broken('no event clears a reason');
        if (first === 'delivery' && ['soft_bounce', 'undetermined_bounce'].includes(second) && actual.transientBounces !== 0) {
          broken('a transient bounce after the delivery of the same message counts nothing');
        }
      }),
    );
    expect(failures).toEqual([]);
  });
});

describe('campaign ledger', () => {
  async function campaignWithRecipients(count: number) {
    const campaign = await env.db
      .insertInto('campaigns')
      .values({ name: `c-${randomUUID()}`, template: 'reverify-email', segment: 'unverified-role-holders', per_day: 200, schedule: '0 * * * *', starts_at: new Date(), status: 'running' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const recipients = [];
    for (let i = 0; i < count; i += 1) {
      const address = await addAddress(env.db);
      const row = await env.db
        .insertInto('campaign_recipients')
        .values({
          campaign_id: campaign.id,
          user_id: address.userId,
          email_id: address.emailId,
          email: address.email,
          status: 'sent',
          ses_message_id: randomUUID(),
          sent_at: new Date(),
        })
        .returning(['id', 'ses_message_id'])
        .executeTakeFirstOrThrow();
      recipients.push({ ...address, recipientId: row.id, sesMessageId: row.ses_message_id as string });
    }
    return { campaignId: campaign.id, recipients };
  }

  it('fills delivered, bounced and complained from the events (tags or SES message id)', async () => {
    const { campaignId, recipients } = await campaignWithRecipients(4);
    const [delivered, bounced, complained, both] = recipients as [typeof recipients[0], typeof recipients[0], typeof recipients[0], typeof recipients[0]];
    const tags = (r: typeof delivered) => ({ campaign_id: campaignId, recipient_id: r.recipientId, kind: 'campaign' });
    await send('delivery', { to: delivered.email, sesMessageId: delivered.sesMessageId, tags: tags(delivered) });
    // Identity notifications carry no tags: matched by the SES message id.
    await send('hard_bounce', { to: bounced.email, sesMessageId: bounced.sesMessageId, shape: 'notification' });
    await send('complaint', { to: complained.email, sesMessageId: complained.sesMessageId, tags: tags(complained) });
    await send('delivery', { to: both.email, sesMessageId: both.sesMessageId, tags: tags(both) });
    await send('complaint', { to: both.email, sesMessageId: both.sesMessageId, tags: tags(both) });
    await send('delivery', { to: both.email, sesMessageId: both.sesMessageId, tags: tags(both) });

    const rows = await env.db
      .selectFrom('campaign_recipients')
      .select(['id', 'status', 'delivered_at', 'bounced_at', 'complained_at'])
      .where('campaign_id', '=', campaignId)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.status, r.delivered_at !== null, r.bounced_at !== null, r.complained_at !== null])).toEqual([
      ['delivered', true, false, false],
      ['bounced', false, true, false],
      ['complained', false, false, true],
      ['complained', true, false, true],
    ]);
    const counts = await env.db
      .selectFrom('campaign_recipients')
      .select((eb) => [eb.fn.count<string>('delivered_at').as('delivered'), eb.fn.count<string>('bounced_at').as('bounced'), eb.fn.count<string>('complained_at').as('complained')])
      .where('campaign_id', '=', campaignId)
      .executeTakeFirstOrThrow();
    expect(counts).toEqual({ delivered: '2', bounced: '1', complained: '2' });
    // The reputation guard is asked after each committed bounce or complaint of the campaign.
    expect(hook.guardCalls.filter((id) => id === campaignId)).toHaveLength(3);
    const event = await env.db.selectFrom('email_events').select(['campaign_id', 'campaign_recipient_id']).where('ses_message_id', '=', bounced.sesMessageId).executeTakeFirstOrThrow();
    expect(event).toEqual({ campaign_id: campaignId, campaign_recipient_id: bounced.recipientId });
  });

  it('an event that overtakes the sender fills in the SES message id and send time', async () => {
    const { campaignId, recipients } = await campaignWithRecipients(1);
    const [recipient] = recipients as [typeof recipients[0]];
    await env.db.updateTable('campaign_recipients').set({ status: 'sending', ses_message_id: null, sent_at: null }).where('id', '=', recipient.recipientId).execute();
    const sesMessageId = randomUUID();
    await send('delivery', { to: recipient.email, sesMessageId, tags: { campaign_id: campaignId, recipient_id: recipient.recipientId, kind: 'campaign' } });
    const row = await env.db.selectFrom('campaign_recipients').select(['status', 'ses_message_id', 'sent_at', 'delivered_at']).where('id', '=', recipient.recipientId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'delivered', ses_message_id: sesMessageId });
    expect(row.sent_at).not.toBeNull();
    expect(row.delivered_at).not.toBeNull();
  });

  it('a Reject marks the ledger row failed', async () => {
    const { recipients } = await campaignWithRecipients(1);
    const [recipient] = recipients as [typeof recipients[0]];
    await send('reject', { to: recipient.email, sesMessageId: recipient.sesMessageId });
    const row = await env.db.selectFrom('campaign_recipients').select(['status', 'reason']).where('id', '=', recipient.recipientId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'failed', reason: 'ses_rejected: Bad content' });
  });

  it('a webhook suppression only replaces a weaker reason: an operator\'s manual stands against a bounce, not against a complaint', async () => {
    const address = await addAddress(env.db, { verified: true });
    const lower = address.email.toLowerCase();
    await env.db.insertInto('suppressions').values({ email: lower, reason: 'manual', email_event_id: null }).execute();
    const suppression = () => env.db.selectFrom('suppressions').select(['reason', 'email_event_id']).where('email', '=', lower).executeTakeFirstOrThrow();

    await send('hard_bounce', { to: address.email });
    expect(await suppression()).toEqual({ reason: 'manual', email_event_id: null });
    expect((await addressState(env.db, address.emailId)).reason).toBe('hard_bounce');

    await send('complaint', { to: address.email });
    const complaint = await env.db.selectFrom('email_events').select('id').where('event_type', '=', 'Complaint').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(await suppression()).toEqual({ reason: 'complaint', email_event_id: complaint.id });
  });

  it('the ingest runs as prepared statements with generic plans, not re-planned per event', async () => {
    const address = await addAddress(env.db, { verified: true });
    for (let i = 0; i < 8; i += 1) await send(i % 2 === 0 ? 'delivery' : 'soft_bounce', { to: address.email });
    // Sent one after another, so the prepared pool kept reusing one connection: the one asked here.
    const { rows } = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
      SELECT statement, generic_plans::text, custom_plans::text FROM pg_prepared_statements`.execute(preparedDb(hook.app.db));
    const write = rows.filter((row) => row.statement.includes('INSERT INTO email_events'));
    const lock = rows.filter((row) => row.statement.includes('FOR NO KEY UPDATE'));
    expect(write.length).toBeGreaterThan(0);
    expect(lock).toHaveLength(1);
    expect(rows.every((row) => row.custom_plans === '0')).toBe(true);
    expect(Number(lock[0]?.generic_plans)).toBeGreaterThanOrEqual(8);
  });
});
