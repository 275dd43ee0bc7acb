import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { AdminPasswordMissingError } from '../../src/http/routes/admin.js';
import { createServer } from '../../src/http/server.js';
import { useTestEnv } from '../helpers/env.js';
import { insertFixtureCampaign } from './campaign-fixture.js';

const env = useTestEnv();
const PASSWORD = 'correct horse battery staple';
const app = env.app({ overrides: { ADMIN_USER: 'operator', ADMIN_PASSWORD: PASSWORD } });
// Sends many wrong credentials on purpose: failed-login throttling (tested in admin-console-security) would answer 429.
const serverPromise = createServer(app, { loginThrottle: false });
let campaignId = '';
let pausedId = '';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = basic('operator', PASSWORD);

beforeAll(async () => {
  campaignId = await insertFixtureCampaign(env.db, { name: 'Spring <re>verification & "friends"', tag: 'admin-a' });
  pausedId = await insertFixtureCampaign(env.db, {
    name: 'paused one',
    tag: 'admin-b',
    status: 'paused',
    reason: 'bounce rate 7.1% passed 5% after 212 sends',
  });
});

afterAll(async () => {
  await (await serverPromise).close();
});

async function get(url: string, authorization?: string) {
  const server = await serverPromise;
  return server.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
}

describe('admin area', () => {
  const routes = () => [
    '/admin/queues',
    '/admin/queues/api/queues',
    '/admin/queues/static/favicon-32x32.png',
    '/admin/campaigns',
    '/admin/api/campaigns',
    `/admin/api/campaigns/${campaignId}`,
  ];

  it('answers 401 with a WWW-Authenticate challenge on every admin route without credentials', async () => {
    for (const url of [...routes(), '/admin', '/admin/no-such-page', '/%61dmin/queues', '//admin/campaigns']) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(401);
      expect(response.headers['www-authenticate'], url).toBe('Basic realm="reverify"');
      expect(response.body, url).not.toContain('campaign');
    }
  });

  it('answers 401 to a wrong password, a wrong user and a malformed header', async () => {
    for (const authorization of [basic('operator', 'wrong'), basic('admin', PASSWORD), basic('operator', `${PASSWORD}x`), 'Basic !!!', 'Bearer x']) {
      for (const url of routes()) {
        const response = await get(url, authorization);
        expect(response.statusCode, `${url} ${authorization}`).toBe(401);
        expect(response.headers['www-authenticate']).toBe('Basic realm="reverify"');
      }
    }
  });

  it('answers 200 on every admin route with the right credentials', async () => {
    for (const url of routes()) {
      const response = await get(url, GOOD);
      expect(response.statusCode, `${url} ${response.body.slice(0, 300)}`).toBe(200);
    }
  });

  it('shows every queue on the board', async () => {
    const response = await get('/admin/queues/api/queues', GOOD);
    const names = (response.json().queues as Array<{ name: string; readOnlyMode: boolean }>).map((q) => q.name).sort();
    expect(names).toEqual(['campaigns', 'maintenance', 'send', 'sweeps']);
    expect(response.json().queues.every((q: { readOnlyMode: boolean }) => !q.readOnlyMode)).toBe(true);
  });

  it('gives each campaign as its `campaign show --json` object', async () => {
    const response = await get(`/admin/api/campaigns/${campaignId}`, GOOD);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual(JSON.parse(JSON.stringify(await getCampaignSummary(env.db, campaignId))));
    expect(body.id).toBe(campaignId);
    expect(body.status).toBe('running');
    expect(body.counts).toMatchObject({ sent: 16, delivered: 9, bounced: 2, complained: 1, failed: 1, skipped: 2, verified: 4 });

    const list = (await get('/admin/api/campaigns', GOOD)).json();
    expect(list.campaigns.map((c: { id: string }) => c.id).sort()).toEqual([campaignId, pausedId].sort());
    expect(list.campaigns.find((c: { id: string }) => c.id === campaignId)).toEqual(body);
  });

  it('gives what `reverify campaign show --json` prints', async () => {
    const child = spawn(process.execPath, ['bin/reverify.mjs', 'campaign', 'show', campaignId, '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const api = (await get(`/admin/api/campaigns/${campaignId}`, GOOD)).json();
    expect(api).toEqual(JSON.parse(stdout));
  });

  it('answers 404 for an unknown campaign and 400 for an id that is not a number', async () => {
    const missing = await get('/admin/api/campaigns/987654321', GOOD);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatch(/no campaign with id 987654321/);
    const bad = await get('/admin/api/campaigns/abc', GOOD);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/must be a number/);
  });

  it('renders the campaigns page with state, budget, funnel, pause reason and escaped names', async () => {
    const response = await get('/admin/campaigns', GOOD);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const html = response.body;
    expect(html).toContain('Spring &lt;re&gt;verification &amp; &quot;friends&quot;');
    expect(html).not.toContain('<re>');
    expect(html).toContain('bounce rate 7.1% passed 5% after 212 sends');
    expect(html).toContain('0 * * * *');
    expect(html).toMatch(/data-field="per-day">200</);
    expect(html).toContain('href="/admin/queues/queue/send"');
    const section = html.slice(html.indexOf(`id="campaign-${campaignId}"`));
    expect(section).toMatch(/data-count="sent">16</);
    expect(section).toMatch(/data-count="verified">4</);
    expect(section).toMatch(/data-count="bounced">2</);
  });
});

describe('dashboard password', () => {
  it('createServer refuses to mount the dashboard without ADMIN_PASSWORD', async () => {
    const bare = env.app();
    await expect(createServer(bare)).rejects.toThrow(AdminPasswordMissingError);
    const server = await createServer(bare, { dashboard: false });
    expect((await server.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(404);
    await server.close();
  });

  it('reverify server exits 2 naming ADMIN_PASSWORD when it is not set', async () => {
    const child = spawn(process.execPath, ['bin/reverify.mjs', 'server'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.env({ PORT: '0' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/ADMIN_PASSWORD is missing/);
  });

  it('ADMIN_READ_ONLY=true makes the board read-only', async () => {
    const readOnly = env.app({ overrides: { ADMIN_PASSWORD: 'read-only-password', ADMIN_READ_ONLY: 'true' } });
    const server = await createServer(readOnly);
    const response = await server.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: basic('admin', 'read-only-password') } });
    expect(response.json().queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
    // Enforced by the server, not only hidden in the UI: adding a job is refused and nothing is added.
    const add = await server.inject({
      method: 'POST',
      url: '/admin/queues/api/queues/sweeps/add',
      // Same-origin, so the refusal is the read-only mode's, not the cross-site check's.
      headers: { authorization: basic('admin', 'read-only-password'), 'sec-fetch-site': 'same-origin' },
      payload: { name: 'sweep-expire', data: {} },
    });
    expect(add.statusCode).toBe(405);
    expect(await readOnly.queues.get('sweeps').count()).toBe(0);
    await server.close();
  });
});
