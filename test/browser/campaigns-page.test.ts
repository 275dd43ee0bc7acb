import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/http/start-server.js';
import { startServer } from '../../src/http/start-server.js';
import { useTestEnv } from '../helpers/env.js';
import { launchChromium } from '../helpers/browser.js';
import { insertFixtureCampaign } from '../http/campaign-fixture.js';

const env = useTestEnv();
const PASSWORD = 'browser-test-password';
const SCREENSHOT = path.resolve('docs/campaigns-page.png');
let server: RunningServer | undefined;
let browser: Browser | undefined;
let runningId = '';

beforeAll(async () => {
  const app = env.app({ overrides: { ADMIN_PASSWORD: PASSWORD } });
  // Fixed instants, so the screenshot only changes when the page does.
  runningId = await insertFixtureCampaign(env.db, { name: 'Re-verify role holders (spring)', tag: 'browser-a', now: new Date('2026-03-02T09:00:00Z') });
  await insertFixtureCampaign(env.db, {
    name: 'Re-verify role holders (pilot)',
    tag: 'browser-b',
    now: new Date('2026-02-16T09:00:00Z'),
    status: 'paused',
    reason: 'bounce rate 7.4% is above the 5% limit after 216 sends; check the list, then "reverify campaign resume 1"',
  });
  server = await startServer(app, { port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The funnel as the database has it, counted from the ledger's timestamp columns. */
async function funnelFromDatabase(campaignId: string) {
  const row = await env.db
    .selectFrom('campaign_recipients')
    .select((eb) => [
      eb.fn.count<string>('sent_at').as('sent'),
      eb.fn.count<string>('delivered_at').as('delivered'),
      eb.fn.count<string>('verified_at').as('verified'),
      eb.fn.count<string>('bounced_at').as('bounced'),
      eb.fn.count<string>('complained_at').as('complained'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'failed').as('failed'),
      eb.fn.countAll<string>().filterWhere('status', '=', 'skipped').as('skipped'),
    ])
    .where('campaign_id', '=', campaignId)
    .executeTakeFirstOrThrow();
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

describe('campaigns page in a browser', () => {
  it('refuses the dashboard without credentials', async () => {
    const context = await browser!.newContext();
    try {
      // Chromium turns a bare 401 challenge into a navigation error, so ask through the context's request API.
      const response = await context.request.get(`${server!.url}/admin/queues`);
      expect(response.status()).toBe(401);
      expect(response.headers()['www-authenticate']).toBe('Basic realm="reverify"');
    } finally {
      await context.close();
    }
  });

  it('logs into the dashboard, shows the funnel the database holds, and saves a screenshot', async () => {
    const context = await browser!.newContext({
      httpCredentials: { username: 'admin', password: PASSWORD },
      viewport: { width: 1180, height: 900 },
    });
    try {
      const page = await context.newPage();
      const board = await page.goto(`${server!.url}/admin/queues`);
      expect(board?.status()).toBe(200);
      // The board is a client-side app: its queues appear once its API answered (through the same auth).
      await page.getByText('send', { exact: true }).first().waitFor({ timeout: 15_000 });

      const response = await page.goto(`${server!.url}/admin/campaigns`);
      expect(response?.status()).toBe(200);
      const section = page.locator(`#campaign-${runningId}`);
      await expect.poll(() => section.locator('[data-field="status"]').textContent(), { timeout: 15_000 }).toBe('running');
      const shown: Record<string, number> = {};
      for (const label of ['sent', 'delivered', 'verified', 'bounced', 'complained', 'failed', 'skipped']) {
        shown[label] = Number(await section.locator(`[data-count="${label}"]`).textContent());
      }
      expect(shown).toEqual(await funnelFromDatabase(runningId));
      await expect.poll(() => page.locator('.reason').first().textContent(), { timeout: 15_000 }).toContain('bounce rate 7.4%');

      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
