import { MessageRejected, SendingPausedException, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { afterEach, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import type { App } from '../../src/app/app.js';
import { pauseCampaign, resumeCampaign, cancelCampaign } from '../../src/campaigns/operations.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { findExternalLinks } from '../../src/mail/link-lint.js';
import { useSesClient } from '../../src/mail/ses-client.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { startJobWorkers } from '../../src/app/processing.js';
import type { RunningWorkers } from '../../src/queue/worker.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { peakInWindow } from '../../src/pace/sliding-window.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, eligiblePeople, FakeSes, startLocalSes, waitFor } from './helpers.js';

const env = useTestEnv();
const running: RunningWorkers[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const workers of running.splice(0)) await workers.close(5_000);
  for (const close of closers.splice(0)) await close();
});

async function campaignFor(app: App, people: number, prefix: string, perDay = 1000): Promise<string> {
  return (await campaignForNewPeople(app, prefix, people, { perDay, tick: true })).campaignId;
}

async function startSendWorker(app: App): Promise<RunningWorkers> {
  const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send] });
  for (const worker of workers.workers) env.trackWorker(worker);
  running.push(workers);
  return workers;
}

async function sendQueueDrained(app: App): Promise<boolean> {
  const counts = await app.queues.get(QUEUE_NAMES.send).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(counts).every((n) => n === 0);
}

function sesApp(ses: FakeSes, overrides: Record<string, string> = {}): App {
  const app = env.app({ overrides: { SES_MAX_SEND_RATE: '200', ...overrides } });
  closers.push(() => app.close());
  useSesClient(app, ses);
  return app;
}

const meta = (httpStatusCode: number, message: string) => ({ $metadata: { httpStatusCode }, message });

describe('sending through a local SES', () => {
  it('sends each recipient one message with a text and an HTML part, a fresh token and only links to the site, and stores the MessageId', async () => {
    const local = await startLocalSes();
    closers.push(() => local.close());
    const app = env.app({ overrides: { SES_ENDPOINT: local.endpoint, SES_MAX_SEND_RATE: '200' } });
    closers.push(() => app.close());
    const id = await campaignFor(app, 5, 'local');
    await startSendWorker(app);
    await waitFor('five sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 5);

    const emails = await local.emails();
    expect(emails).toHaveLength(5);
    const rows = await env.db.selectFrom('campaign_recipients').select(['id', 'email', 'ses_message_id']).where('campaign_id', '=', id).execute();
    expect(new Set(emails.map((email) => email.messageId))).toEqual(new Set(rows.map((row) => row.ses_message_id)));
    for (const email of emails) {
      expect(rows.map((row) => row.email)).toContain(email.destination.to[0]);
      expect(email.body.text).toContain('https://example.org/verify/');
      expect(email.body.html).toContain('https://example.org/verify/');
      expect(findExternalLinks({ subject: email.subject, text: email.body.text ?? '', html: email.body.html ?? '' }, 'https://example.org')).toEqual([]);
    }
    const tokens = await env.db.selectFrom('verification_tokens').select(['campaign_recipient_id', 'purpose']).execute();
    expect(tokens.filter((token) => token.purpose === 'campaign').map((token) => token.campaign_recipient_id).sort()).toEqual(rows.map((row) => row.id).sort());
  });
});

describe('sending with SES errors', () => {
  it('skips, right before sending, someone who verified, was deactivated, suppressed or complained since planning', async () => {
    const ses = new FakeSes();
    const app = sesApp(ses);
    const id = await campaignFor(app, 7, 'recheck');
    const user = async (name: string) => (await env.db.selectFrom('users').select('id').where('username', '=', name).executeTakeFirstOrThrow()).id;
    await env.db.updateTable('emails').set({ verified: true, verified_at: new Date() }).where('user_id', '=', await user('recheck-000')).execute();
    await env.db.updateTable('users').set({ is_active: false }).where('id', '=', await user('recheck-001')).execute();
    await env.db.insertInto('suppressions').values({ email: 'recheck-002@example.com', reason: 'hard_bounce' }).execute();
    await env.db.updateTable('emails').set({ unverify_reason: 'complaint' }).where('user_id', '=', await user('recheck-003')).execute();
    // A complaint from another of their addresses: this one is not mailed either.
    await env.db.insertInto('emails').values({ user_id: await user('recheck-006'), email: 'recheck-006-old@example.org', unverify_reason: 'complaint' }).execute();
    await startSendWorker(app);
    await waitFor('every row final', async () => {
      const byStatus = await countRowsByStatus(env.db, id);
      return (byStatus.sent ?? 0) + (byStatus.skipped ?? 0) === 7;
    });
    const skipped = await env.db
      .selectFrom('campaign_recipients')
      .select(['email', 'reason'])
      .where('campaign_id', '=', id)
      .where('status', '=', 'skipped')
      .orderBy('email')
      .execute();
    expect(skipped).toEqual([
      { email: 'recheck-000@example.com', reason: 'verified' },
      { email: 'recheck-001@example.com', reason: 'deactivated' },
      { email: 'recheck-002@example.com', reason: 'suppressed' },
      { email: 'recheck-003@example.com', reason: 'complained' },
      { email: 'recheck-006@example.com', reason: 'complained_other_address' },
    ]);
    expect(ses.accepted.map((message) => message.to).sort()).toEqual(['recheck-004@example.com', 'recheck-005@example.com']);
  });

  it('backs off on 429 and sends everything exactly once', async () => {
    const ses = new FakeSes((_to, call) => (call <= 3 ? new TooManyRequestsException(meta(429, 'Maximum sending rate exceeded.')) : undefined));
    const app = sesApp(ses);
    const id = await campaignFor(app, 4, 'throttle');
    await startSendWorker(app);
    await waitFor('four sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 4);
    await waitFor('send queue drained', () => sendQueueDrained(app));
    expect(ses.refused).toHaveLength(3);
    expect(ses.accepted.map((message) => message.to).sort()).toEqual(eligiblePeople('throttle', 4).map((p) => `${p.username}@example.com`));
    expect(await countRowsByStatus(env.db, id)).toEqual({ sent: 4 });
  });

  it('fails a rejected message without retrying it, retries a 500, and sends the rest', async () => {
    const calls = new Map<string, number>();
    const ses = new FakeSes((to) => {
      calls.set(to, (calls.get(to) ?? 0) + 1);
      if (to === 'reject-000@example.com') return new MessageRejected(meta(400, 'Email address is not verified.'));
      if (to === 'reject-001@example.com' && calls.get(to) === 1) return Object.assign(new Error('We encountered an internal error.'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
      return undefined;
    });
    const app = sesApp(ses);
    const id = await campaignFor(app, 3, 'reject');
    await startSendWorker(app);
    await waitFor('every row final', async () => {
      const byStatus = await countRowsByStatus(env.db, id);
      return byStatus.sent === 2 && byStatus.failed === 1;
    });
    const failed = await env.db.selectFrom('campaign_recipients').select(['email', 'reason']).where('campaign_id', '=', id).where('status', '=', 'failed').executeTakeFirstOrThrow();
    expect(failed.email).toBe('reject-000@example.com');
    expect(failed.reason).toContain('MessageRejected');
    expect(calls.get('reject-000@example.com')).toBe(1);
    expect(calls.get('reject-001@example.com')).toBe(2);
    expect(ses.accepted).toHaveLength(2);
  });

  it('pauses every running campaign when SES pauses the account, and sends the rest after resume', async () => {
    const ses = new FakeSes(() => new SendingPausedException(meta(400, 'Sending is paused for this account.')));
    const app = sesApp(ses);
    const id = await campaignFor(app, 3, 'paused-account');
    await startSendWorker(app);
    await waitFor('campaign paused', async () => (await getCampaignSummary(env.db, id))?.status === 'paused');
    await waitFor('send queue drained', () => sendQueueDrained(app));
    const summary = await getCampaignSummary(env.db, id);
    expect(summary?.reason).toContain('SendingPausedException');
    expect(await countRowsByStatus(env.db, id)).toEqual({ queued: 3 });

    ses.setBehaviour(() => undefined);
    await resumeCampaign(app, id);
    await waitFor('three sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 3);
    expect(ses.accepted).toHaveLength(3);
  });
});

describe('pause, resume, cancel', () => {
  it('a paused campaign’s queued messages wait, go out once on resume; a cancelled one skips them', async () => {
    const ses = new FakeSes();
    const app = sesApp(ses);
    const id = await campaignFor(app, 3, 'pause');
    await pauseCampaign(app, id);
    await startSendWorker(app);
    await waitFor('send queue drained', () => sendQueueDrained(app));
    expect(await countRowsByStatus(env.db, id)).toEqual({ queued: 3 });
    expect(ses.calls).toBe(0);

    await resumeCampaign(app, id);
    await waitFor('three sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 3);

    for (const workers of running.splice(0)) await workers.close(5_000);
    const cancelled = await campaignFor(app, 2, 'cancel');
    const before = ses.calls;
    await cancelCampaign(app, cancelled);
    await startSendWorker(app);
    await waitFor('send queue drained', () => sendQueueDrained(app));
    expect(ses.calls).toBe(before);
    const skipped = await env.db.selectFrom('campaign_recipients').select('reason').where('campaign_id', '=', cancelled).execute();
    expect(skipped.map((row) => row.reason)).toEqual(['campaign_cancelled', 'campaign_cancelled']);
    expect((await getCampaignSummary(env.db, cancelled))?.status).toBe('cancelled');
  });
});

describe('rate limit', () => {
  it('two worker processes share SES_MAX_SEND_RATE', async () => {
    const ses = new FakeSes();
    const first = sesApp(ses, { SES_MAX_SEND_RATE: '5' });
    const second = sesApp(ses, { SES_MAX_SEND_RATE: '5' });
    const id = await campaignFor(first, 15, 'rate');
    const done = new Map<string, number>();
    for (const [name, app] of [['first', first], ['second', second]] as const) {
      const workers = await startSendWorker(app);
      workers.workers[0]!.on('completed', () => done.set(name, (done.get(name) ?? 0) + 1));
    }
    await waitFor('fifteen sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 15, 20_000);
    expect(done.get('first')).toBeGreaterThan(0);
    expect(done.get('second')).toBeGreaterThan(0);
    // 15 messages at 5 per second take three limiter windows, whichever worker sends them.
    const times = ses.accepted.map((message) => message.at);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1_800);
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(15);
  });

  it('two worker processes sending jobs of several rows keep every sliding second within the rate', async () => {
    const ses = new FakeSes();
    // 40 a second: jobs of 4 rows, one let out every ~104 ms, the sends spaced 25.75 ms apart by the gate.
    const first = sesApp(ses, { SES_MAX_SEND_RATE: '40' });
    const second = sesApp(ses, { SES_MAX_SEND_RATE: '40' });
    const id = await campaignFor(first, 100, 'rate-rows');
    for (const app of [first, second]) await startSendWorker(app);
    await waitFor('a hundred sent rows', async () => (await countRowsByStatus(env.db, id)).sent === 100, 20_000);
    const times = ses.accepted.map((message) => message.at);
    expect(peakInWindow(times)).toBeLessThanOrEqual(40);
    expect(new Set(ses.accepted.map((message) => message.to)).size).toBe(100);
    expect(ses.accepted).toHaveLength(100);
  });
});
