import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.js';
import { sampleSesEvent, type SampleEventOptions } from '../../src/dev/sample-events.js';
import { ingestNotification, type NotificationInput } from '../../src/ses-events/ingest.js';
import { GROUPS_IN_FLIGHT, ingestGroup, waitingToIngest } from '../../src/ses-events/ingest-group.js';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';
import type { AddressEventKind } from '../../src/ses-events/state-machine.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, addressState, post, TOPIC, useWebhook } from './helpers.js';

/**
 * Concurrent notifications are ingested in groups (src/ses-events/ingest-group.ts):
 * the end state and the answers must be those of the same events applied one
 * at a time, and a refused event or an outage must not take others with it.
 */

const SOFT_BOUNCE_LIMIT = 3;
const env = useTestEnv();
const hook = useWebhook(env, { overrides: { SOFT_BOUNCE_LIMIT: String(SOFT_BOUNCE_LIMIT) } });

function signed(kind: AddressEventKind, options: SampleEventOptions) {
  return hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent(kind, options) });
}

async function postAll(messages: ReadonlyArray<ReturnType<typeof signed>>) {
  return Promise.all(messages.map(async (message) => {
    const response = await post(hook.server, message);
    return { status: response.statusCode, body: response.json() as { status: string; outcome?: string } };
  }));
}

/** Transactions that stored these events (xmin of their email_events rows). */
async function transactionsOf(snsMessageIds: readonly string[]): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(DISTINCT xmin::text) AS n FROM email_events WHERE sns_message_id = ANY(${[...snsMessageIds]}::text[])`.execute(env.db);
  return Number(rows[0]?.n);
}

/** Waits until `count` of the webhook's connections wait for a row lock. */
async function lockWaiters(count: number): Promise<void> {
  for (;;) {
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(env.db);
    if (Number(rows[0]?.n) >= count) return;
  }
}

/** Holds the row locks of some addresses until `release` is called. */
async function holdAddresses(db: Db, emailIds: readonly string[]) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = db.transaction().execute(async (trx) => {
    await sql`SELECT id FROM emails WHERE id = ANY(${[...emailIds]}::bigint[]) FOR UPDATE`.execute(trx);
    locked();
    await released;
  });
  await isLocked;
  return { release: async () => (release(), await holder) };
}

/** Every group slot taken by an event that waits for a held lock; the requests posted next wait for one group. */
async function occupyEveryGroup() {
  const blockers = await Promise.all(Array.from({ length: GROUPS_IN_FLIGHT }, () => addAddress(env.db)));
  const hold = await holdAddresses(env.db, blockers.map((b) => b.emailId));
  const answers: Array<Promise<unknown>> = [];
  // One at a time, so that each finds a free slot and is a group of its own.
  for (const [i, blocker] of blockers.entries()) {
    answers.push(postAll([signed('delivery', { to: blocker.email })]));
    await lockWaiters(i + 1);
  }
  return { release: async () => (await hold.release(), await Promise.all(answers)) };
}

async function untilWaiting(count: number): Promise<void> {
  while (waitingToIngest(hook.app.db) < count) await new Promise((resolve) => setImmediate(resolve));
}

const KINDS: AddressEventKind[] = ['hard_bounce', 'soft_bounce', 'complaint', 'delivery', 'send', 'reject', 'delivery_delay', 'undetermined_bounce', 'unknown'];

describe('concurrent notifications ingested together', () => {
  it('many concurrent events for different addresses end as the same events applied one by one, ledger included', async () => {
    const people = 48;
    const campaign = await env.db
      .insertInto('campaigns')
      .values({ name: `c-${randomUUID()}`, template: 'reverify-email', segment: 'unverified-role-holders', per_day: 200, schedule: '0 * * * *', starts_at: new Date(), status: 'running' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const twin = async (i: number) => {
      const address = await addAddress(env.db, { verified: i % 3 !== 0, transientBounces: i % 4 === 0 ? SOFT_BOUNCE_LIMIT : 0 });
      const sesMessageId = randomUUID();
      const row = await env.db
        .insertInto('campaign_recipients')
        .values({ campaign_id: campaign.id, user_id: address.userId, email_id: address.emailId, email: address.email, status: i % 5 === 0 ? 'unconfirmed' : 'sent', ses_message_id: i % 5 === 0 ? null : sesMessageId })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { ...address, recipientId: row.id, sesMessageId };
    };
    const oneByOne: Array<Awaited<ReturnType<typeof twin>>> = [];
    const together: Array<Awaited<ReturnType<typeof twin>>> = [];
    for (let i = 0; i < people; i += 1) {
      oneByOne.push(await twin(i));
      together.push(await twin(i));
    }
    const optionsFor = (person: Awaited<ReturnType<typeof twin>>, i: number): SampleEventOptions => ({
      to: person.email,
      sesMessageId: person.sesMessageId,
      // Half tagged (event publishing), half found by the SES message id (identity notifications).
      ...(i % 2 === 0 ? { tags: { campaign_id: campaign.id, recipient_id: person.recipientId, kind: 'campaign' } } : { shape: 'notification' as const }),
    });
    const kindOf = (i: number) => KINDS[i % KINDS.length] as AddressEventKind;

    const referenceOutcomes = [];
    for (let i = 0; i < people; i += 1) {
      const input: NotificationInput = { snsMessageId: randomUUID(), topicArn: TOPIC, event: parseSesEvent(sampleSesEvent(kindOf(i), optionsFor(oneByOne[i]!, i))), softBounceLimit: SOFT_BOUNCE_LIMIT };
      referenceOutcomes.push((await ingestNotification(env.db, input)).outcome);
    }
    const messages = together.map((person, i) => signed(kindOf(i), optionsFor(person, i)));
    const answers = await postAll(messages);

    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers.map((answer) => answer.body.outcome)).toEqual(referenceOutcomes);
    const ledger = (id: string) =>
      env.db.selectFrom('campaign_recipients').select(['status', 'reason', 'bounce_type', 'ses_message_id', 'sent_at', 'delivered_at', 'bounced_at', 'complained_at']).where('id', '=', id).executeTakeFirstOrThrow();
    const audits = (emailId: string) => env.db.selectFrom('audit_log').select('reason').where('email_id', '=', emailId).execute();
    for (let i = 0; i < people; i += 1) {
      const [a, b] = [oneByOne[i]!, together[i]!];
      expect(await addressState(env.db, b.emailId), `${kindOf(i)} #${i}`).toEqual(await addressState(env.db, a.emailId));
      const [rowA, rowB] = [await ledger(a.recipientId), await ledger(b.recipientId)];
      const shape = (row: typeof rowA, person: typeof a) => ({
        ...row,
        ses_message_id: row.ses_message_id === person.sesMessageId ? 'the event’s' : row.ses_message_id,
        sent_at: row.sent_at !== null,
        delivered_at: row.delivered_at !== null,
        bounced_at: row.bounced_at !== null,
        complained_at: row.complained_at !== null,
      });
      expect(shape(rowB, b), `${kindOf(i)} #${i}`).toEqual(shape(rowA, a));
      expect(await audits(b.emailId)).toEqual(await audits(a.emailId));
    }
    // They were stored in fewer transactions than events: groups did form.
    expect(await transactionsOf(messages.map((m) => m.MessageId))).toBeLessThan(people);
  });

  it('two concurrent soft bounces for one address go in separate groups and both count: the limit is crossed once', async () => {
    const address = await addAddress(env.db, { verified: true, transientBounces: SOFT_BOUNCE_LIMIT - 1 });
    const others = await Promise.all(Array.from({ length: 6 }, () => addAddress(env.db, { verified: true })));
    const occupied = await occupyEveryGroup();
    const bounces = [signed('soft_bounce', { to: address.email }), signed('soft_bounce', { to: address.email })];
    const messages = [bounces[0]!, ...others.map((o) => signed('delivery', { to: o.email })), bounces[1]!];
    const answers = postAll(messages);
    await untilWaiting(messages.length);
    await occupied.release();
    expect((await answers).map((answer) => answer.body)).toEqual(messages.map(() => ({ status: 'processed', outcome: 'applied' })));
    expect(await addressState(env.db, address.emailId)).toEqual({ verified: false, reason: 'soft_bounce', transientBounces: SOFT_BOUNCE_LIMIT + 1, suppression: 'soft_bounce' });
    expect(await env.db.selectFrom('audit_log').select('reason').where('email_id', '=', address.emailId).execute()).toEqual([{ reason: 'soft_bounce' }]);
    // The first bounce went with the deliveries, the second waited for a group of its own.
    expect(await transactionsOf(messages.slice(0, -1).map((m) => m.MessageId))).toBe(1);
    expect(await transactionsOf(bounces.map((b) => b.MessageId))).toBe(2);
  });

  it('the same SNS message arriving twice at once is stored once and answered duplicate once', async () => {
    const address = await addAddress(env.db, { verified: true });
    const message = signed('hard_bounce', { to: address.email });
    const answers = await postAll([message, message]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers.map((answer) => answer.body.status).sort()).toEqual(['duplicate', 'processed']);
    const rows = await env.db.selectFrom('email_events').select('outcome').where('sns_message_id', '=', message.MessageId).execute();
    expect(rows).toEqual([{ outcome: 'applied' }]);
    expect(await env.db.selectFrom('audit_log').select('reason').where('email_id', '=', address.emailId).execute()).toHaveLength(1);
  });

  it('an event the database refuses, in a group of good ones: the good ones commit and answer processed, it is recorded unstorable', async () => {
    const good = await Promise.all(Array.from({ length: 5 }, () => addAddress(env.db, { verified: true })));
    const victim = await addAddress(env.db, { verified: true });
    const occupied = await occupyEveryGroup();
    // An SES message id far beyond what a btree index entry can hold: PostgreSQL refuses the row (54000).
    const hugeId = Array.from({ length: 400 }, () => randomUUID()).join('');
    const poison = signed('hard_bounce', { to: victim.email, sesMessageId: hugeId });
    const messages = [...good.slice(0, 2).map((g) => signed('hard_bounce', { to: g.email })), poison, ...good.slice(2).map((g) => signed('complaint', { to: g.email }))];
    const answers = postAll(messages);
    await untilWaiting(messages.length);
    await occupied.release();
    const bodies = (await answers).map((answer) => answer.body);
    expect(bodies[2]).toEqual({ status: 'ignored', outcome: 'unstorable' });
    expect(bodies.filter((_, i) => i !== 2)).toEqual(good.map(() => ({ status: 'processed', outcome: 'applied' })));
    for (const [i, g] of good.entries()) expect((await addressState(env.db, g.emailId)).reason).toBe(i < 2 ? 'hard_bounce' : 'complaint');
    expect(await addressState(env.db, victim.emailId)).toMatchObject({ verified: true, reason: null });
    const stored = await env.db.selectFrom('email_events').select('outcome').where('sns_message_id', '=', poison.MessageId).execute();
    expect(stored).toEqual([{ outcome: 'unstorable' }]);
  });

  it('a database outage in the middle of a group answers 503 to each of its requests and writes none of them', async () => {
    const people = await Promise.all(Array.from({ length: 4 }, () => addAddress(env.db, { verified: true })));
    const held = await addAddress(env.db, { verified: true });
    const occupied = await occupyEveryGroup();
    const holdLast = await holdAddresses(env.db, [held.emailId]);
    const messages = [...people, held].map((p) => signed('hard_bounce', { to: p.email }));
    const answers = postAll(messages);
    await untilWaiting(messages.length);
    await occupied.release();
    // The group waits for the held address: its connection is cut, as when the database goes away.
    await lockWaiters(1);
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE '%prepared'`.execute(env.db);
    const statuses = (await answers).map((answer) => answer.status);
    await holdLast.release();
    expect(statuses).toEqual(messages.map(() => 503));
    expect(await env.db.selectFrom('email_events').select('id').where('sns_message_id', 'in', messages.map((m) => m.MessageId)).execute()).toEqual([]);
    for (const p of [...people, held]) expect(await addressState(env.db, p.emailId)).toEqual({ verified: true, reason: null, transientBounces: 0, suppression: null });
  });

  it('two events of a group naming one ledger row (one by its tag, one by its message id) both move it, as one after the other', async () => {
    const campaign = await env.db
      .insertInto('campaigns')
      .values({ name: `c-${randomUUID()}`, template: 'reverify-email', segment: 'unverified-role-holders', per_day: 200, schedule: '0 * * * *', starts_at: new Date(), status: 'running' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const states = [];
    for (const apply of ['one by one', 'in one group'] as const) {
      const address = await addAddress(env.db, { verified: true });
      const sesMessageId = randomUUID();
      const row = await env.db
        .insertInto('campaign_recipients')
        .values({ campaign_id: campaign.id, user_id: address.userId, email_id: address.emailId, email: address.email, status: 'sent', ses_message_id: sesMessageId, sent_at: new Date() })
        .returning('id')
        .executeTakeFirstOrThrow();
      const other = await addAddress(env.db, { verified: true });
      const inputs: NotificationInput[] = [
        // Tagged with the row, about another message: recorded as the row's second message.
        { snsMessageId: randomUUID(), topicArn: TOPIC, event: parseSesEvent(sampleSesEvent('delivery', { to: other.email, tags: { campaign_id: campaign.id, recipient_id: row.id } })), softBounceLimit: SOFT_BOUNCE_LIMIT },
        // Untagged, found by the row's own message id: bounced.
        { snsMessageId: randomUUID(), topicArn: TOPIC, event: parseSesEvent(sampleSesEvent('hard_bounce', { to: address.email, sesMessageId, shape: 'notification' })), softBounceLimit: SOFT_BOUNCE_LIMIT },
      ];
      if (apply === 'one by one') for (const input of inputs) await ingestNotification(env.db, input);
      else expect((await ingestGroup(env.db, inputs)).map((result) => result.outcome)).toEqual(['applied', 'applied']);
      const ledger = await env.db.selectFrom('campaign_recipients').select(['status', 'late_ses_message_id', 'bounced_at']).where('id', '=', row.id).executeTakeFirstOrThrow();
      states.push({ status: ledger.status, secondMessage: ledger.late_ses_message_id !== null, bounced: ledger.bounced_at !== null });
    }
    expect(states[0]).toEqual({ status: 'bounced', secondMessage: true, bounced: true });
    expect(states[1]).toEqual(states[0]);
  });
});
