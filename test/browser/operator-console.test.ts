import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNCOUNTED_BOUNCE_TYPES } from '../../src/campaigns/reputation.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { useTestEnv } from '../helpers/env.js';
import { launchChromium } from '../helpers/browser.js';
import { insertFixtureCampaign } from '../http/campaign-fixture.js';
import { addAddress, post, TOPIC, useWebhook } from '../ses-events/helpers.js';

const env = useTestEnv();
const hook = useWebhook(env);
const PASSWORD = 'operator-console-password';
const BOUNCED = 'bounced.reader@example.net';
let server: RunningServer | undefined;
let browser: Browser | undefined;
let fixtureId = '';
const cspViolations: string[] = [];

async function addRoleHolders(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const user = await env.db.insertInto('users').values({ username: `maintainer-${i}` }).returning('id').executeTakeFirstOrThrow();
    await env.db.insertInto('emails').values({ user_id: user.id, email: `maintainer-${i}@example.org`, is_primary: true, verified: i % 4 === 0 }).execute();
    await env.db.insertInto('roles').values({ user_id: user.id, project_name: `project-${i}`, role_name: 'Owner' }).execute();
  }
}

beforeAll(async () => {
  const app = env.app({ overrides: { ADMIN_PASSWORD: PASSWORD } });
  fixtureId = await insertFixtureCampaign(env.db, { name: 'Re-verify role holders (spring)', tag: 'console', now: new Date('2026-03-02T09:00:00Z') });
  // Spread its activity over six hours, so the chart has something to show per hour.
  await sql`UPDATE campaign_recipients SET sent_at = sent_at + (id % 6) * interval '1 hour',
      delivered_at = delivered_at + (id % 6) * interval '1 hour' + interval '2 minutes',
      bounced_at = bounced_at + (id % 6) * interval '1 hour' + interval '3 minutes',
      verified_at = verified_at + (id % 6) * interval '1 hour' + interval '40 minutes'
    WHERE campaign_id = ${fixtureId}`.execute(env.db);
  await addRoleHolders(12);
  await addAddress(env.db, { email: BOUNCED, verified: true });
  const bounce = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('hard_bounce', { to: BOUNCED }) });
  expect((await post(hook.server, bounce)).statusCode).toBe(200);
  await env.db
    .insertInto('sweep_runs')
    .values({ kind: 'expire', as_of: new Date('2026-03-02T03:00:00Z'), dry_run: false, started_at: new Date('2026-03-02T03:00:00Z'), finished_at: new Date('2026-03-02T03:00:04Z'), outcome: 'completed', processed: 1234, sessions_revoked: 1500, tokens_revoked: 310, batches: 2, longest_batch_ms: 1850 })
    .execute();
  server = await startServer(app, { port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function withPage(work: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser!.newContext({ httpCredentials: { username: 'admin', password: PASSWORD }, viewport: { width: 1180, height: 900 } });
  try {
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${new URL(page.url()).pathname}: ${message.text()}`);
    });
    await work(page, context);
  } finally {
    await context.close();
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  const file = path.resolve('docs', name);
  await mkdir(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
}

async function statusOf(id: string): Promise<string> {
  return (await env.db.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
}

describe('operator console in a browser', () => {
  let createdId = '';

  it('creates a campaign through the form after its preview', { timeout: 90_000 }, async () => {
    await withPage(async (page) => {
      await page.goto(`${server!.url}/admin/campaigns/new`);
      await page.fill('#name', 'Console spring campaign');
      await page.fill('#perDay', '4');
      await page.fill('#schedule', '0 * * * *');
      // The live preview follows the form (the console's script, under its CSP).
      await expect.poll(() => page.locator('#live-preview').textContent(), { timeout: 15_000 }).toMatch(/days at this budget/);
      await page.getByRole('button', { name: 'Preview' }).click();
      const eligible = Number((await page.locator('[data-field="eligible"]').textContent())?.replace(/,/g, ''));
      expect(eligible).toBe(9);
      expect(await page.locator('[data-field="projection"]').textContent()).toMatch(/takes 3 day\(s\)/);
      expect(await page.locator('[data-excluded="verified"]').textContent()).toBe('3');
      expect(await page.locator('[data-field="subject"]').textContent()).toMatch(/\S/);
      await screenshot(page, 'console-new-campaign.png');
      await page.getByRole('button', { name: 'Create campaign' }).click();
      await page.waitForURL(/\/admin\/campaigns\/\d+\?done=created$/);
      createdId = /campaigns\/(\d+)/.exec(page.url())?.[1] ?? '';
      expect(await page.locator('[data-field="status"]').textContent()).toBe('scheduled');
    });
    const created = await env.db.selectFrom('campaigns').selectAll().where('id', '=', createdId).executeTakeFirstOrThrow();
    expect(created).toMatchObject({ name: 'Console spring campaign', per_day: 4, schedule: '0 * * * *', eligible_at_create: 9 });
    const audit = await env.db.selectFrom('audit_log').select('actor').where('action', '=', 'campaign.created').executeTakeFirstOrThrow();
    expect(audit.actor).toBe('web:admin');
  });

  it('pauses, resumes and (after confirming) cancels it', { timeout: 90_000 }, async () => {
    await withPage(async (page) => {
      await page.goto(`${server!.url}/admin/campaigns/${createdId}`);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.waitForURL(/done=pause$/);
      expect(await page.locator('[data-field="status"]').textContent()).toBe('paused');
      expect(await page.locator('[data-field="reason"]').textContent()).toContain('paused by web:admin');
      expect(await statusOf(createdId)).toBe('paused');
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.waitForURL(/done=resume$/);
      expect(await statusOf(createdId)).toBe('running');
      await page.getByRole('button', { name: 'Cancel…' }).click();
      await page.waitForURL(/\/cancel\??$/);
      expect(await statusOf(createdId)).toBe('running');
      await page.getByRole('button', { name: 'Yes, cancel it' }).click();
      await page.waitForURL(/done=cancel$/);
      expect(await page.locator('[data-field="status"]').textContent()).toBe('cancelled');
    });
    expect(await statusOf(createdId)).toBe('cancelled');
  });

  it('shows a campaign page with the funnel, percentages, guard figures and the chart per hour', async () => {
    await withPage(async (page) => {
      // One bounce SES answered from its suppression list: shown, but not in the guard's rate (as SES counts).
      const suppressedBounce = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', fixtureId).where('bounced_at', 'is not', null).executeTakeFirstOrThrow();
      await env.db.updateTable('campaign_recipients').set({ bounce_type: UNCOUNTED_BOUNCE_TYPES[0] }).where('id', '=', suppressedBounce.id).execute();
      await page.goto(`${server!.url}/admin/campaigns/${fixtureId}`);
      const counts = await env.db
        .selectFrom('campaign_recipients')
        .select((eb) => [eb.fn.count<string>('sent_at').as('sent'), eb.fn.count<string>('delivered_at').as('delivered'), eb.fn.count<string>('bounced_at').as('bounced'), eb.fn.count<string>('verified_at').as('verified')])
        .where('campaign_id', '=', fixtureId)
        .executeTakeFirstOrThrow();
      for (const kind of ['sent', 'delivered', 'verified'] as const) {
        expect(await page.locator(`.funnel [data-count="${kind}"]`).textContent(), kind).toBe(String(counts[kind]));
      }
      expect(await page.locator('[data-percent="delivered"]').textContent()).toContain(`${((Number(counts.delivered) / Number(counts.sent)) * 100).toFixed(1)}% of sent`);
      expect(await page.locator('[data-figure="bounce-rate"] .value').textContent()).toBe(`${(((Number(counts.bounced) - 1) / Number(counts.sent)) * 100).toFixed(1)}%`);
      expect(await page.locator('[data-figure="bounce-rate"] .limit').textContent()).toContain('limit 5.0%');
      expect(await page.locator('[data-figure="bounce-rate"] .limit').textContent()).toContain("not counted: 1 from SES's suppression list");
      const chart = page.locator('#activity svg');
      expect(await chart.getAttribute('data-unit')).toBe('hour');
      for (const kind of ['sent', 'delivered', 'bounced', 'verified'] as const) {
        const drawn = await chart.locator(`rect[data-kind="${kind}"]`).evaluateAll((rects) => rects.reduce((sum, r) => sum + Number(r.getAttribute('data-count')), 0));
        expect(drawn, kind).toBe(Number(counts[kind]));
      }
      expect(await chart.locator('rect[data-kind="sent"]').count()).toBe(6);
      await screenshot(page, 'console-campaign.png');
      await page.goto(`${server!.url}/admin/campaigns?status=running`);
      expect(await page.locator(`#campaign-${fixtureId}`).count()).toBe(1);
    });
  });

  it('looks up an address with a bounce and shows the reason and the event', async () => {
    await withPage(async (page) => {
      await page.goto(`${server!.url}/admin/addresses`);
      await page.fill('#q', BOUNCED.toUpperCase());
      await page.getByRole('button', { name: 'Look up' }).click();
      expect(await page.locator('[data-field="unverify-reason"]').textContent()).toBe('hard_bounce');
      expect(await page.locator('[data-field="suppression"]').textContent()).toMatch(/^hard_bounce since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
      const event = page.locator('tr[data-kind="ses_event"]');
      expect(await event.textContent()).toContain('Bounce Permanent/General "smtp; 550 5.1.1 user unknown"');
      expect(await page.locator('tr[data-kind="audit"]').first().textContent()).toContain('email.unverified by ses-webhook');
      await screenshot(page, 'console-address.png');
    });
  });

  it('shows the sweeps: runs with thousands separators, the next scheduled run and the temporary accounts falling due', async () => {
    const now = Date.now();
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const ttl = 365 * 86_400_000;
    const temporary = async (username: string, createdAt: number) =>
      env.db.insertInto('users').values({ username, is_temporary: true, created_at: new Date(createdAt) }).execute();
    await temporary('temp-overdue', now - ttl - 86_400_000);
    await temporary('temp-in-3-days', now - ttl + 3 * 86_400_000);
    await temporary('temp-in-12-days', now - ttl + 12 * 86_400_000);
    await withPage(async (page) => {
      await page.goto(`${server!.url}/admin/sweeps`);
      const due = async (ms: number, field: string) => page.locator(`tr[data-day="${day(ms)}"] [data-field="${field}"]`).textContent();
      expect(await due(now, 'expiring')).toBe('1');
      expect(await due(now + 3 * 86_400_000, 'expiring')).toBe('1');
      expect(await due(now + 12 * 86_400_000, 'expiring')).toBe('1');
      // Reminders open TEMP_ACCOUNT_REMINDER_DAYS (10) before expiry: in 2 days for the account expiring in 12.
      expect(await due(now + 2 * 86_400_000, 'reminders')).toBe('1');
      // The others' reminder windows opened before today: they are not due any more.
      const reminders = (await page.locator('[data-field="reminders"]').allTextContents()).map(Number);
      expect(reminders.reduce((sum, n) => sum + n, 0)).toBe(1);
      const run = page.locator('tr[data-run]').first();
      expect(await run.textContent()).toContain('1,234');
      expect(await run.textContent()).toContain('1,850 ms');
      expect(await page.locator('[data-field="next-run"]').textContent()).toMatch(/ 03:00 UTC$/);
      await screenshot(page, 'console-sweeps.png');
    });
  });

  it('runs Bull Board under its policy, with a link back to the campaigns, and no page broke its Content Security Policy', { timeout: 60_000 }, async () => {
    await withPage(async (page) => {
      await page.goto(`${server!.url}/admin/queues`);
      // The board is a client-side app: its queues appear once its script ran and its API answered.
      await page.getByText('send', { exact: true }).first().waitFor({ timeout: 30_000 });
      // The link back sits in the board's menu (its uiConfig miscLinks), the last entry of its header actions.
      await page.locator('header ul li').last().locator('button').click();
      const back = page.getByRole('menuitem', { name: 'Campaigns', exact: true });
      await back.waitFor({ timeout: 15_000 });
      await back.click();
      await page.waitForURL(/\/admin\/campaigns$/, { timeout: 15_000 });
    });
    // The console's pages break nothing. Bull Board's page asks for Google Fonts: its policy refuses
    // every other host, so nothing is fetched from outside and the board falls back to local fonts.
    const outsideBoard = cspViolations.filter((violation) => !violation.startsWith('/admin/queues'));
    expect(outsideBoard.join('\n')).toBe('');
    const board = cspViolations.filter((violation) => violation.startsWith('/admin/queues'));
    for (const violation of board) expect(violation).toMatch(/Loading the stylesheet 'https:\/\/fonts\.googleapis\.com\/.*The action has been blocked/);
  });
});
