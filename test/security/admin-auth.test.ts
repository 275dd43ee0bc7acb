import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/http/server.js';
import { useTestEnv } from '../helpers/env.js';
import { routesUnder } from '../helpers/route-table.js';

/**
 * Every admin route the server registers, found from its route table (so a
 * route added later is covered without touching this file), refuses a
 * request without the right credentials.
 */

const env = useTestEnv();
const PASSWORD = 'security-test-password';
const app = env.app({ overrides: { ADMIN_USER: 'operator', ADMIN_PASSWORD: PASSWORD } });
// Sends many wrong credentials on purpose: failed-login throttling (tested in admin-console-security) would answer 429.
const serverPromise = createServer(app, { loginThrottle: false });

afterAll(async () => {
  await (await serverPromise).close();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Every (method, path) under /admin from Fastify's route table, with parameters filled in. */
async function adminRoutes(): Promise<Array<{ method: string; url: string }>> {
  return routesUnder(await serverPromise, '/admin');
}

describe('admin routes without valid credentials', () => {
  it('finds the admin routes in the route table (dashboard, campaigns page, JSON API)', async () => {
    const urls = new Set((await adminRoutes()).map((route) => route.url));
    expect([...urls].some((url) => url.startsWith('/admin/queues'))).toBe(true);
    expect(urls.has('/admin/api/campaigns')).toBe(true);
    expect(urls.has('/admin/api/campaigns/1')).toBe(true);
  });

  it('answers 401 on every admin route and method without credentials, with a wrong password, a wrong user or a malformed header', async () => {
    const server = await serverPromise;
    const attempts: Array<string | undefined> = [
      undefined,
      basic('operator', 'wrong'),
      basic('operator', ''),
      basic('operator', `${PASSWORD}${'x'.repeat(5000)}`),
      basic('operator', PASSWORD.slice(0, -1)),
      basic('admin', PASSWORD),
      basic('', ''),
      'Basic',
      'Basic %%%',
      `Bearer ${PASSWORD}`,
      `basic ${Buffer.from(`operator${PASSWORD}`).toString('base64')}`,
    ];
    const routes = await adminRoutes();
    expect(routes.length).toBeGreaterThan(5);
    expect(routes.some((route) => route.method === 'PUT' && route.url.endsWith('/obliterate'))).toBe(true);
    for (const { method, url } of routes) {
      for (const authorization of attempts) {
        const response = await server.inject({
          method: method as 'GET',
          url,
          headers: authorization === undefined ? {} : { authorization },
          ...(method === 'POST' || method === 'PUT' || method === 'PATCH' ? { payload: {} } : {}),
        });
        expect(response.statusCode, `${method} ${url} with ${authorization ?? 'no credentials'}`).toBe(401);
      }
    }
  });

  it('lets the right credentials through (so the 401s above are the guard, not a broken route)', async () => {
    const server = await serverPromise;
    const response = await server.inject({ method: 'GET', url: '/admin/api/campaigns', headers: { authorization: basic('operator', PASSWORD) } });
    expect(response.statusCode).toBe(200);
  });
});
