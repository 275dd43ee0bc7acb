import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/http/server.js';
import { csrfToken } from '../../src/http/admin/csrf.js';
import { useTestEnv } from '../helpers/env.js';
import { routesUnder } from '../helpers/route-table.js';
import { insertFixtureCampaign } from './campaign-fixture.js';

const env = useTestEnv();
const PASSWORD = 'cross-site-test-password';
const app = env.app({ overrides: { ADMIN_USER: 'operator', ADMIN_PASSWORD: PASSWORD } });
const serverPromise = createServer(app);
const AUTH = `Basic ${Buffer.from(`operator:${PASSWORD}`).toString('base64')}`;
const OWN_ORIGIN = new URL(app.config.PUBLIC_BASE_URL).origin;
let campaignId = '';

beforeAll(async () => {
  campaignId = await insertFixtureCampaign(env.db, { name: 'cross-site target', tag: 'xsite' });
});

afterAll(async () => {
  await (await serverPromise).close();
});

/** How a foreign page (or a script without an Origin) may send a request with the browser's cached credentials. */
const CROSS_SITE: Array<{ name: string; headers: Record<string, string>; payload?: string }> = [
  { name: 'foreign Origin, JSON', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, payload: '{}' },
  { name: 'foreign Origin, form body', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' },
  { name: 'foreign Origin, text/plain body', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, payload: '{"name":"x"}' },
  { name: 'no-cors POST without a content type', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', origin: 'https://evil.example' }, payload: 'x' },
  { name: 'Sec-Fetch-Site cross-site (own Origin spoofed)', headers: { 'sec-fetch-site': 'cross-site', origin: OWN_ORIGIN } },
  { name: 'Sec-Fetch-Site same-site', headers: { 'sec-fetch-site': 'same-site', origin: 'https://other.example.org' } },
  { name: 'Sec-Fetch-Site none', headers: { 'sec-fetch-site': 'none' } },
  { name: 'Origin null (sandboxed frame)', headers: { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' },
  { name: 'Origin on another port', headers: { origin: `${OWN_ORIGIN}:8443` } },
  { name: 'neither Origin nor Sec-Fetch-Site', headers: { 'content-type': 'application/json' }, payload: '{}' },
];

async function send(method: string, url: string, headers: Record<string, string>, payload?: string) {
  const server = await serverPromise;
  return server.inject({ method: method as 'POST', url, headers: { authorization: AUTH, ...headers }, ...(payload === undefined ? {} : { payload }) });
}

async function state() {
  const campaigns = await env.db.selectFrom('campaigns').select(['id', 'status']).orderBy('id').execute();
  const send = app.queues.get('send');
  return { campaigns, sendPaused: await send.isPaused(), sendJobs: await send.count() };
}

describe('cross-site requests under /admin', () => {
  it('refuses every mutating admin route, Bull Board API included, for every cross-site variant, and changes nothing', async () => {
    const routes = (await routesUnder(await serverPromise, '/admin', campaignId)).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    // The routes an attacker wants most are among them.
    const urls = routes.map((r) => `${r.method} ${r.url}`);
    expect(urls).toContain('PUT /admin/queues/api/queues/:queueName/pause'.replace(':queueName', campaignId));
    expect(urls).toContain('POST /admin/api/campaigns');
    expect(urls).toContain(`POST /admin/api/campaigns/${campaignId}/${campaignId}`);
    expect(urls).toContain('POST /admin/campaigns/new');
    const extra = [
      { method: 'PUT', url: '/admin/queues/api/queues/send/pause' },
      { method: 'POST', url: '/admin/queues/api/queues/send/add' },
      ...['pause', 'resume', 'cancel'].flatMap((action) => [
        { method: 'POST', url: `/admin/api/campaigns/${campaignId}/${action}` },
        { method: 'POST', url: `/admin/campaigns/${campaignId}/${action}` },
      ]),
      { method: 'DELETE', url: '/admin/campaigns' },
      { method: 'OPTIONS', url: '/admin/api/campaigns' },
    ];
    const before = await state();
    for (const route of [...routes, ...extra]) {
      for (const variant of CROSS_SITE) {
        const response = await send(route.method, route.url, variant.headers, variant.payload);
        expect(response.statusCode, `${route.method} ${route.url}: ${variant.name}`).toBe(403);
        expect(response.json().error, variant.name).toMatch(/^refused: /);
      }
    }
    expect(await state()).toEqual(before);
  });

  it('accepts the same requests from the console itself: Sec-Fetch-Site same-origin, or Origin equal to PUBLIC_BASE_URL or to the address used', async () => {
    const pause = await send('POST', `/admin/api/campaigns/${campaignId}/pause`, { 'sec-fetch-site': 'same-origin' });
    expect(pause.statusCode).toBe(200);
    expect(pause.json().status).toBe('paused');
    const resume = await send('POST', `/admin/api/campaigns/${campaignId}/resume`, { origin: OWN_ORIGIN });
    expect(resume.statusCode).toBe(200);
    expect(resume.json().status).toBe('running');
    // Reached directly (port-forward, dev stack): the origin of the Host header used.
    const direct = await send('POST', `/admin/api/campaigns/${campaignId}/pause`, { host: '127.0.0.1:3999', origin: 'http://127.0.0.1:3999' });
    expect(direct.statusCode).toBe(200);
    const audit = await env.db.selectFrom('audit_log').select(['actor', 'action']).where('action', 'like', 'campaign.%').orderBy('id').execute();
    expect(audit).toEqual([
      { actor: 'web:operator', action: 'campaign.paused' },
      { actor: 'web:operator', action: 'campaign.resumed' },
      { actor: 'web:operator', action: 'campaign.paused' },
    ]);

    const boardPause = await send('PUT', '/admin/queues/api/queues/send/pause', { 'sec-fetch-site': 'same-origin' });
    expect(boardPause.statusCode).toBe(200);
    expect(await app.queues.get('send').isPaused()).toBe(true);
    expect((await send('PUT', '/admin/queues/api/queues/send/resume', { origin: OWN_ORIGIN })).statusCode).toBe(200);
    expect(await app.queues.get('send').isPaused()).toBe(false);
  });

  it('also wants the CSRF token on the console forms, even same-origin', async () => {
    await send('POST', `/admin/api/campaigns/${campaignId}/resume`, { 'sec-fetch-site': 'same-origin' });
    const form = { 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
    for (const payload of ['', '_csrf=', '_csrf=forged-token-value-of-some-length']) {
      const refused = await send('POST', `/admin/campaigns/${campaignId}/pause`, form, payload);
      expect(refused.statusCode, payload).toBe(403);
      expect(refused.body).toContain('CSRF token');
    }
    expect((await env.db.selectFrom('campaigns').select('status').where('id', '=', campaignId).executeTakeFirstOrThrow()).status).toBe('running');
    const token = csrfToken('operator', PASSWORD);
    const accepted = await send('POST', `/admin/campaigns/${campaignId}/pause`, form, `_csrf=${encodeURIComponent(token)}`);
    expect(accepted.statusCode).toBe(303);
    expect(accepted.headers.location).toBe(`/admin/campaigns/${campaignId}?done=pause`);
    expect((await env.db.selectFrom('campaigns').select('status').where('id', '=', campaignId).executeTakeFirstOrThrow()).status).toBe('paused');
    // The token is in the pages' forms, and a foreign page cannot read our pages to learn it.
    const page = await send('GET', `/admin/campaigns/${campaignId}`, {});
    expect(page.body).toContain(`name="_csrf" value="${token}"`);
  });
});

describe('headers of every admin answer', () => {
  it('forbids framing and caching on every page, asset, API answer, Bull Board and error', async () => {
    const urls = [
      '/admin/campaigns',
      '/admin/campaigns?status=paused&page=2',
      `/admin/campaigns/${campaignId}`,
      `/admin/campaigns/${campaignId}/cancel`,
      '/admin/campaigns/new',
      '/admin/campaigns/424242',
      '/admin/addresses',
      '/admin/addresses?q=xsite-1%40example.org',
      '/admin/sweeps',
      '/admin/assets/console.css',
      '/admin/assets/console.js',
      '/admin/api/campaigns',
      '/admin/queues',
      '/admin/queues/queue/send',
      '/admin/queues/api/queues',
      '/admin/queues/static/favicon-32x32.png',
      '/admin/no-such-page',
    ];
    for (const url of urls) {
      for (const authorization of [AUTH, undefined]) {
        const server = await serverPromise;
        const response = await server.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
        const label = `${url} ${authorization ? 'logged in' : 'anonymous'} (${response.statusCode})`;
        expect(response.headers['content-security-policy'], label).toMatch(/frame-ancestors 'none'/);
        expect(response.headers['x-frame-options'], label).toBe('DENY');
        expect(response.headers['cache-control'], label).toBe('no-store');
        expect(response.headers['x-content-type-options'], label).toBe('nosniff');
      }
    }
    // The console's own pages allow no inline script at all.
    const page = await (await serverPromise).inject({ method: 'GET', url: '/admin/campaigns', headers: { authorization: AUTH } });
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';/);
  });
});
