import { Writable } from 'node:stream';
import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendEmailJob } from '../../jobs/send-email.js';
import { createApp, type App } from '../../src/app/app.js';
import { startJobWorkers, startProcessing } from '../../src/app/processing.js';
import { checkAccountAndEnforce } from '../../src/campaigns/account-enforcement.js';
import { CampaignStateError, getCampaign } from '../../src/campaigns/campaigns.js';
import { deliverCampaignBatch } from '../../src/campaigns/deliver.js';
import { resumeCampaign } from '../../src/campaigns/operations.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { healthyAccount, startSesAccountStandIn, type SesAccountStandIn } from '../../src/dev/ses-account-stand-in.js';
import { createSesClient, useSesClient } from '../../src/mail/ses-client.js';
import { registry } from '../../src/metrics.js';
import { sendIntervalMs } from '../../src/pace/pace.js';
import { peakInWindow } from '../../src/pace/sliding-window.js';
import { checkSesAccount } from '../../src/ses-account/account-check.js';
import { accountPacedGate, accountSendRate } from '../../src/ses-account/account-limits.js';
import { readAccountState } from '../../src/ses-account/account-state.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';
import { campaignForNewPeople, FakeSes, startLocalSes, waitFor } from './helpers.js';

/**
 * The worker keeps within what the SES account allows (GetAccount): its
 * rate, its 24-hour quota less SES_QUOTA_RESERVE, and its enforcement status.
 * SES is an SESv2-speaking stand-in (src/dev/ses-account-stand-in.ts) that the
 * tests turn into an account with a low quota, on probation, or without
 * permission; everything else is the real database and queue.
 */
const env = useTestEnv();
let ses: SesAccountStandIn;
let open = true;

beforeAll(async () => {
  ses = await startSesAccountStandIn();
  track('SES account stand-in', () => open);
});
afterAll(async () => {
  await ses.stop();
  open = false;
});

/** Log lines an app wrote, parsed. */
type Lines = Array<{ level: number; msg: string } & Record<string, unknown>>;

/** An app on the stand-in with its own log lines and clock; closed by the caller. */
function accountApp(overrides: Record<string, string> = {}, clock?: () => Date): { app: App; lines: Lines } {
  const lines: Lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Lines[number]);
      done();
    },
  });
  const app = createApp(env.config({ SES_ENDPOINT: ses.endpoint, LOG_LEVEL: 'info', ...overrides }), { log: pino({ level: 'info' }, sink), clock });
  return { app, lines };
}

/** GetAccount is allowed once a second across processes: the next call of a test waits that out. */
const secondLater = () => new Promise((resolve) => setTimeout(resolve, 1_100));

async function metric(name: string): Promise<string> {
  return (await registry.getSingleMetricAsString(name)).split('\n').filter((line) => !line.startsWith('#')).join('\n');
}

describe('SES account check', () => {
  it('sends at the account’s MaxSendRate when it is below SES_MAX_SEND_RATE, in every worker process, and says so once', async () => {
    ses.account = healthyAccount(5);
    const first = accountApp({ SES_MAX_SEND_RATE: '50' });
    const second = accountApp({ SES_MAX_SEND_RATE: '50' });
    const fake = new FakeSes();
    for (const { app } of [first, second]) useSesClient(app, fake);
    try {
      await secondLater();
      // Only the first process checks; the second reads what it recorded.
      expect((await checkSesAccount(first.app)).called).toBe(true);
      expect(await accountSendRate(second.app)).toBe(5);
      expect((await accountPacedGate(second.app)).intervalMs).toBeCloseTo(sendIntervalMs({ SES_MAX_SEND_RATE: 5 }), 6);
      expect(await metric('reverify_ses_quota')).toContain('reverify_ses_quota{kind="send_rate"} 5');
      expect(await metric('reverify_ses_quota')).toContain('reverify_ses_quota{kind="max_send_rate"} 5');
      expect(await metric('reverify_ses_enforcement_status')).toContain('reverify_ses_enforcement_status{status="HEALTHY"} 1');
      await secondLater();
      await checkSesAccount(first.app);
      const clipped = first.lines.filter((line) => /MaxSendRate 5\/s, below SES_MAX_SEND_RATE 50\/s/.test(line.msg));
      expect(clipped).toHaveLength(1);

      // Twelve people through two workers' send jobs: no second holds more than the account's 5.
      const { rows } = await campaignForNewPeople(first.app, 'clip', 12, { tick: true });
      // One after the other: two processes preparing a new PostgreSQL queue schema at the same instant can collide on CREATE TABLE IF NOT EXISTS.
      const workers = [];
      for (const { app } of [first, second]) workers.push(await startJobWorkers(app, [sendEmailJob], { queues: ['send'] }));
      try {
        await waitFor('every message sent', async () => fake.accepted.length >= rows.length, 20_000, 50);
      } finally {
        await Promise.all(workers.map((running) => running.close(5_000)));
      }
      const times = fake.accepted.map((sent) => sent.at);
      expect(times).toHaveLength(12);
      expect(peakInWindow(times)).toBeLessThanOrEqual(5);
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(11 * 200 - 30);
    } finally {
      await Promise.all([first.app.close(), second.app.close()]);
    }
  });

  it('falls back to the configured figures without permission for GetAccount, saying so once', async () => {
    ses.account = 'AccessDenied';
    const { app, lines } = accountApp({ SES_MAX_SEND_RATE: '40' });
    try {
      await secondLater();
      const check = await checkSesAccount(app);
      expect(check.state).toMatchObject({ outcome: 'access_denied', figures: null });
      await secondLater();
      await checkSesAccount(app);
      const warnings = lines.filter((line) => line.level === 40 && /AccessDenied/.test(line.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toContain('SES_MAX_SEND_RATE');
      expect(await accountSendRate(app)).toBe(40);
      expect(await metric('reverify_ses_enforcement_status')).toContain('reverify_ses_enforcement_status{status="UNKNOWN"} 1');
      // No 24-hour quota is known: a tick queues the whole day's budget.
      const { campaignId } = await campaignForNewPeople(app, 'denied', 30, { perDay: 30 });
      expect(await runCampaignTick(app, campaignId)).toMatchObject({ queued: 30, deferred: 0 });
    } finally {
      await app.close();
    }
  });

  it('logs and ignores an answer with absurd figures (a negative rate, a zero quota)', async () => {
    ses.account = { SendQuota: { MaxSendRate: -3, Max24HourSend: 0, SentLast24Hours: 0 }, EnforcementStatus: 'HEALTHY' };
    const { app, lines } = accountApp({ SES_MAX_SEND_RATE: '30' });
    try {
      await secondLater();
      const check = await checkSesAccount(app);
      expect(check.state.outcome).toBe('invalid');
      expect(check.state.problem).toContain('MaxSendRate is -3');
      expect(check.state.problem).toContain('Max24HourSend is 0');
      expect(lines.some((line) => line.level === 40 && /cannot be right/.test(line.msg))).toBe(true);
      expect(await accountSendRate(app)).toBe(30);
    } finally {
      await app.close();
    }
  });
});

describe('the worker and the dev stack’s SES', () => {
  it('reads the account at worker start, through the local SES’s stand-in, which passes SendEmail on to aws-ses-v2-local', async () => {
    const local = await startLocalSes();
    const front = await startSesAccountStandIn({ upstream: local.endpoint, account: healthyAccount(9) });
    const { app } = accountApp({ SES_MAX_SEND_RATE: '20' });
    const proxied = accountApp({ SES_MAX_SEND_RATE: '20', SES_ENDPOINT: front.endpoint });
    try {
      await secondLater();
      const workers = await startProcessing(proxied.app);
      for (const worker of workers.workers) env.trackWorker(worker);
      try {
        await waitFor('the start-up account check', async () => (await readAccountState(app.db, new Date())).figures?.maxSendRate === 9, 15_000, 50);
      } finally {
        await workers.close(5_000);
      }
      expect(front.calls.getAccount).toBe(1);
      await createSesClient(proxied.app.config).send(
        new SendEmailCommand({
          FromEmailAddress: 'noreply@example.org',
          Destination: { ToAddresses: ['someone@example.com'] },
          Content: { Simple: { Subject: { Data: 'through the stand-in' }, Body: { Text: { Data: 'hello' } } } },
        }),
      );
      expect((await local.emails()).map((email) => email.subject)).toContain('through the stand-in');
    } finally {
      await Promise.all([app.close(), proxied.app.close()]);
      await front.stop();
      await local.close();
    }
  });
});

describe('the 24-hour quota', () => {
  it('defers what the quota less SES_QUOTA_RESERVE does not allow, and the rest goes out the next day', async () => {
    let now = new Date('2026-05-04T09:00:00Z');
    const { app } = accountApp({ SES_MAX_SEND_RATE: '1000' }, () => now);
    const fake = new FakeSes();
    useSesClient(app, fake);
    try {
      // The quota is the account's: the earlier tests' campaign messages would count against it too.
      await app.db.deleteFrom('campaign_recipients').execute();
      // 100 a day, 50 already used by the site's other mail, 20% (20) kept for it: 30 left for campaigns.
      ses.account = { ...healthyAccount(50), SendQuota: { MaxSendRate: 50, Max24HourSend: 100, SentLast24Hours: 50 } };
      await secondLater();
      await checkSesAccount(app);
      const { campaignId } = await campaignForNewPeople(app, 'quota', 50, { perDay: 50 });
      const first = await runCampaignTick(app, campaignId);
      expect(first).toMatchObject({ queued: 30, deferred: 20 });
      const queued = await app.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', campaignId).where('status', '=', 'queued').orderBy('id').execute();
      await deliverCampaignBatch(app, queued.map((row) => row.id), { ses: fake, attemptsMade: 0, maxAttempts: 5 });
      expect(fake.accepted).toHaveLength(30);

      // Later that day: the 30 sent since SES counted use what was left; nothing more goes.
      now = new Date('2026-05-04T15:00:00Z');
      expect(await runCampaignTick(app, campaignId)).toMatchObject({ queued: 0, deferred: 20 });

      // The next day SES counts 40 in the last 24 hours (the site's mail): 40 left, the 20 go.
      now = new Date('2026-05-05T09:00:00Z');
      ses.account = { ...healthyAccount(50), SendQuota: { MaxSendRate: 50, Max24HourSend: 100, SentLast24Hours: 40 } };
      await secondLater();
      await checkSesAccount(app);
      expect(await runCampaignTick(app, campaignId)).toMatchObject({ queued: 20, deferred: 0 });
      const summary = await getCampaignSummary(app.db, campaignId);
      expect(summary?.counts).toMatchObject({ sent: 30, pending: 0, waiting: 20 });
    } finally {
      await app.close();
    }
  });
});

describe('enforcement status', () => {
  it('pauses every running campaign on PROBATION, refuses to resume while it lasts, and resumes nothing by itself', async () => {
    ses.account = healthyAccount(50);
    const { app } = accountApp();
    try {
      const a = await campaignForNewPeople(app, 'probation-a', 3, { tick: true });
      const b = await campaignForNewPeople(app, 'probation-b', 3, { tick: true });
      expect((await getCampaign(app.db, a.campaignId)).status).toBe('running');

      ses.account = { ...healthyAccount(50), EnforcementStatus: 'PROBATION' };
      await secondLater();
      const enforced = await checkAccountAndEnforce(app);
      expect(enforced.paused).toEqual(expect.arrayContaining([a.campaignId, b.campaignId]));
      expect(await app.db.selectFrom('campaigns').select('id').where('status', 'in', ['running', 'scheduled']).execute()).toEqual([]);
      for (const { campaignId } of [a, b]) {
        const campaign = await getCampaign(app.db, campaignId);
        expect(campaign.status).toBe('paused');
        expect(campaign.status_reason).toContain('PROBATION');
      }
      const audits = await app.db.selectFrom('audit_log').select('details').where('action', '=', 'campaign.paused').where('reason', '=', 'ses_account_enforcement').execute();
      const pausedIds = audits.map((audit) => (audit.details as { campaignId: string }).campaignId);
      expect(pausedIds).toEqual(expect.arrayContaining([a.campaignId, b.campaignId]));
      expect(audits).toHaveLength(enforced.paused.length);
      expect(await metric('reverify_ses_enforcement_status')).toContain('reverify_ses_enforcement_status{status="PROBATION"} 1');

      await secondLater();
      const refused = await resumeCampaign(app, a.campaignId).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CampaignStateError);
      expect((refused as Error).message).toMatch(/cannot resume: the SES account is under PROBATION/);
      expect((await getCampaign(app.db, a.campaignId)).status).toBe('paused');

      // SES lifts it: nothing resumes by itself; an operator's resume now works (checked with SES at once).
      ses.account = healthyAccount(50);
      await secondLater();
      await checkAccountAndEnforce(app);
      expect((await getCampaign(app.db, b.campaignId)).status).toBe('paused');
      expect((await resumeCampaign(app, a.campaignId)).status).toBe('running');
      expect((await getCampaign(app.db, b.campaignId)).status).toBe('paused');
    } finally {
      await app.close();
    }
  });
});
