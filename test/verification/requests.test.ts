import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { waitFor } from '../../src/dev/wait.js';
import { startRequestListener, type RequestListener } from '../../src/verification/requests/listener.js';
import { hashToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { FakeSes, startLocalSes } from '../campaigns/helpers.js';
import { MessageRejected } from '@aws-sdk/client-sesv2';
import { Slots } from '../../src/pace/send-slots.js';
import { processVerificationRequest } from '../../src/verification/requests/deliver.js';
import { insertAsSite, person, requestRow } from './request-fixtures.js';
import { forgetCachedAccountState } from '../../src/ses-account/account-limits.js';
import { claimAccountCall, recordAccountCheck } from '../../src/ses-account/account-state.js';

const env = useTestEnv();
const REPLY_ADDRESS = /^v(\d+)-confirm-[a-z2-7]{32}@reply\.example\.org$/;

let local: Awaited<ReturnType<typeof startLocalSes>>;
let app: App;
let listener: RequestListener;
/** Moves the workers' clock (the throttle counts in real hours). */
let offsetMs = 0;

beforeAll(async () => {
  local = await startLocalSes();
  app = env.app({
    overrides: { SES_ENDPOINT: local.endpoint, REPLY_DOMAIN: 'reply.example.org', PUBLIC_BASE_URL: 'https://pypi.example.org', SES_MAX_SEND_RATE: '50' },
    clock: () => new Date(Date.now() + offsetMs),
  });
  // A poll so slow that only a notification can explain a pick-up within seconds.
  listener = startRequestListener(app, { pollMs: 600_000 });
});

afterAll(async () => {
  await listener.close();
  await local.close();
});

async function mailsTo(address: string) {
  return (await local.emails()).filter((email) => email.destination.to.includes(address));
}

async function processed(id: string) {
  await listener.drain();
  await waitFor(`request ${id} processed`, async () => (await requestRow(env.db, id)).processed_at !== null, 10_000);
  return requestRow(env.db, id);
}

describe('verification requests the site inserts', () => {
  it('is picked up by its notification, without waiting for the poll, and mails a link and a reply address', async () => {
    const someone = await person(env.db);
    const started = Date.now();
    const id = await insertAsSite(env.databaseUrl, someone.userId);
    await waitFor('the request processed', async () => (await requestRow(env.db, id)).processed_at !== null, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const row = await requestRow(env.db, id);
    expect(row).toMatchObject({ outcome: 'sent', reason: null, requested_by: 'user', email: someone.email, email_id: someone.emailId });
    expect(row.ses_message_id).toBeTruthy();
    const [mail, ...more] = await mailsTo(someone.email);
    expect(more).toEqual([]);
    expect(mail!.messageId).toBe(row.ses_message_id);
    expect(mail!.replyTo).toHaveLength(1);
    expect(mail!.replyTo![0]).toMatch(REPLY_ADDRESS);
    expect(REPLY_ADDRESS.exec(mail!.replyTo![0]!)![1]).toBe(someone.emailId);
    expect(mail!.body.text).toContain('reply to this message');
    const token = /https:\/\/pypi\.example\.org\/verify\/([A-Za-z0-9_-]{43})/.exec(mail!.body.text ?? '')![1]!;
    const stored = await env.db.selectFrom('verification_tokens').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ purpose: 'user_request', email_id: someone.emailId, used_at: null });
    expect(stored.id).toBe(row.token_id);
  });

  it('throttles an address: one mail per 10 minutes and VERIFICATION_REQUESTS_PER_DAY (3) per 24 hours', async () => {
    const someone = await person(env.db);
    const at = async (minutes: number) => {
      offsetMs = minutes * 60_000;
      const id = await insertAsSite(env.databaseUrl, someone.userId);
      const row = await processed(id);
      return `${row.outcome}${row.reason ? `:${row.reason}` : ''}`;
    };
    try {
      expect(await at(0)).toBe('sent');
      expect(await at(5)).toBe('throttled:one_per_10_minutes');
      expect(await at(11)).toBe('sent');
      expect(await at(22)).toBe('sent');
      expect(await at(40)).toBe('throttled:3_per_24_hours');
      expect(await at(24 * 60 + 1)).toBe('sent');
    } finally {
      offsetMs = 0;
    }
    expect(await mailsTo(someone.email)).toHaveLength(4);
  });

  it('ends a request for an unknown, inactive, expired, temporary or already verified user with its reason, and mails nothing', async () => {
    const cases = [
      { name: 'inactive', person: await person(env.db, { active: false }), expected: ['not_eligible', 'inactive_user'] },
      { name: 'expired', person: await person(env.db, { expired: true }), expected: ['not_eligible', 'inactive_user'] },
      { name: 'temporary', person: await person(env.db, { temporary: true }), expected: ['not_eligible', 'temporary_account'] },
      { name: 'verified', person: await person(env.db, { verified: true }), expected: ['not_eligible', 'already_verified'] },
      { name: 'no primary', person: await person(env.db, { noPrimary: true }), expected: ['not_eligible', 'no_primary_address'] },
    ];
    for (const c of cases) {
      const row = await processed(await insertAsSite(env.databaseUrl, c.person.userId));
      expect([row.outcome, row.reason], c.name).toEqual(c.expected);
      expect(row.sending_at, c.name).toBeNull();
      expect(await mailsTo(c.person.email), c.name).toEqual([]);
    }
    const unknown = await processed(await insertAsSite(env.databaseUrl, '987654321'));
    expect(unknown).toMatchObject({ outcome: 'unknown_user', token_id: null });
    expect(await env.db.selectFrom('verification_tokens').select('id').where('user_id', 'in', [...cases.map((c) => c.person.userId), '987654321']).execute()).toEqual([]);
  });

  it('mails a suppressed (bounced) address, the one mail the policy allows there', async () => {
    const bounced = await person(env.db, { unverifyReason: 'hard_bounce', suppressed: 'hard_bounce' });
    expect((await processed(await insertAsSite(env.databaseUrl, bounced.userId))).outcome).toBe('sent');
    expect(await mailsTo(bounced.email)).toHaveLength(1);
  });

  it('mails an address that complained only when its own user asks, never on an operator request', async () => {
    const complained = await person(env.db, { unverifyReason: 'complaint', suppressed: 'complaint' });
    const byOperator = await processed(await insertAsSite(env.databaseUrl, complained.userId, 'operator'));
    expect([byOperator.outcome, byOperator.reason]).toEqual(['not_eligible', 'suppressed_complaint']);
    expect(await mailsTo(complained.email)).toEqual([]);
    const byUser = await processed(await insertAsSite(env.databaseUrl, complained.userId, 'user'));
    expect(byUser.outcome).toBe('sent');
    expect(await mailsTo(complained.email)).toHaveLength(1);
  });

  it('makes one mail of requests inserted at once for one user, with two worker processes listening', async () => {
    const other = env.app({ overrides: { SES_ENDPOINT: local.endpoint, SES_MAX_SEND_RATE: '50' } });
    const second = startRequestListener(other, { pollMs: 600_000 });
    try {
      const someone = await person(env.db);
      const ids = await Promise.all(Array.from({ length: 6 }, () => insertAsSite(env.databaseUrl, someone.userId)));
      const rows = await Promise.all(ids.map((id) => processed(id)));
      expect(rows.map((row) => row.outcome).sort()).toEqual(['sent', 'throttled', 'throttled', 'throttled', 'throttled', 'throttled']);
      expect(await mailsTo(someone.email)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('processes rows inserted while no worker listened once one starts; a send SES did not take is tried again, one SES refused fails', async () => {
    await listener.close();
    const waiting = await person(env.db);
    const refused = await person(env.db);
    const id = await insertAsSite(env.databaseUrl, waiting.userId);
    const refusedId = await insertAsSite(env.databaseUrl, refused.userId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await requestRow(env.db, id)).processed_at).toBeNull();

    const outage = new FakeSes((to) => (to === waiting.email ? Object.assign(new Error('service unavailable'), { name: 'InternalFailure', $metadata: { httpStatusCode: 503 } }) : new MessageRejected({ message: 'Email address is not verified', $metadata: { httpStatusCode: 400 } })));
    const down = { ses: outage, gate: undefined, slots: new Slots(1) };
    expect((await processVerificationRequest(app, id, down)).outcome).toBe('retrying');
    const retrying = await requestRow(env.db, id);
    expect(retrying).toMatchObject({ processed_at: null, sending_at: null, token_id: null, attempts: 1 });
    expect(retrying.next_attempt_at!.getTime()).toBeGreaterThan(Date.now());
    expect(await env.db.selectFrom('verification_tokens').select('id').where('user_id', '=', waiting.userId).execute()).toEqual([]);
    expect(await processVerificationRequest(app, refusedId, down)).toMatchObject({ outcome: 'failed' });
    expect(await requestRow(env.db, refusedId)).toMatchObject({ outcome: 'failed', ses_message_id: null });

    offsetMs = 60_000;
    listener = startRequestListener(app, { pollMs: 600_000 });
    try {
      expect(await processed(id)).toMatchObject({ outcome: 'sent', attempts: 2 });
      expect(await mailsTo(waiting.email)).toHaveLength(1);
      expect(await mailsTo(refused.email)).toEqual([]);
    } finally {
      offsetMs = 0;
    }
  });

  it('fails a request at once, saying why, while the SES account sends nothing (SHUTDOWN, sending disabled); mails it under PROBATION', async () => {
    await listener.close();
    const account = async (enforcementStatus: string, sendingEnabled: boolean) => {
      const figures = { maxSendRate: 50, max24HourSend: 50_000, sentLast24Hours: 0, enforcementStatus, sendingEnabled };
      await claimAccountCall(env.db, new Date()); // the one-row table's row, as a worker's first check makes it
      await recordAccountCheck(env.db, { now: new Date(), outcome: 'ok', problem: null, figures });
      forgetCachedAccountState(app);
    };
    const ses = new FakeSes();
    const ctx = { ses, gate: undefined, slots: new Slots(1) };
    try {
      for (const [status, enabled, reason] of [['SHUTDOWN', true, /^ses_account_shutdown: .*SHUTDOWN/], ['HEALTHY', false, /^ses_sending_disabled: /]] as const) {
        await account(status, enabled);
        const who = await person(env.db);
        const id = await insertAsSite(env.databaseUrl, who.userId);
        expect(await processVerificationRequest(app, id, ctx)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(reason) });
        expect(await requestRow(env.db, id)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(reason), ses_message_id: null });
      }
      expect(ses.calls).toBe(0);

      await account('PROBATION', true);
      const asked = await person(env.db);
      const id = await insertAsSite(env.databaseUrl, asked.userId);
      expect(await processVerificationRequest(app, id, ctx)).toMatchObject({ outcome: 'sent' });
      expect(ses.accepted.map((mail) => mail.to)).toEqual([asked.email]);
    } finally {
      await account('HEALTHY', true);
      listener = startRequestListener(app, { pollMs: 600_000 });
    }
  });
});
