import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { createServer } from '../../src/http/server.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();
const servers: Array<{ close(): Promise<unknown> }> = [];

afterAll(async () => {
  for (const server of servers) await server.close();
});

async function serverFor(app: App) {
  const server = await createServer(app, { dashboard: false });
  servers.push(server);
  return server;
}

// Port 1 is reserved (tcpmux) and closed on any machine these tests run on.
const CLOSED_POSTGRES = 'postgres://postgres@127.0.0.1:1/reverify';
const CLOSED_REDIS = 'redis://127.0.0.1:1';

/** What /readyz calls the queue store: `redis` on Redis, `queue` on the PostgreSQL backend. */
const queueCheck = env.queueBackend === 'redis' ? 'redis' : 'queue';

describe('health endpoints', () => {
  it('/healthz answers 200 while the process runs', async () => {
    const server = await serverFor(env.app());
    const response = await server.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when PostgreSQL and the queue store answer, even before a new connection to them is ready', async () => {
    const app = env.app();
    expect(app.queueBackend.kind).toBe(env.queueBackend);
    const response = await (await serverFor(app)).inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', [queueCheck]: 'ok' } });
  });

  it('/readyz answers 503 naming PostgreSQL when the database does not answer', async () => {
    // The queues stay where they are (QUEUE_DATABASE_URL: this file's database) while the site's database is away.
    const app = env.app({ overrides: { DATABASE_URL: CLOSED_POSTGRES, QUEUE_DATABASE_URL: env.databaseUrl } });
    await app.queueBackend.prepare();
    const response = await (await serverFor(app)).inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body.down).toEqual(['postgres']);
    expect(body.error).toMatch(/postgres/);
    expect(body.checks[queueCheck]).toBe('ok');
    // Public: the name only, never the address or the driver's message (those go to the log).
    expect(body.checks.postgres).toBe('down');
    expect(response.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b/);
  });

  it('/readyz answers 503 naming the queue store when it does not answer', async () => {
    const app = env.app({ overrides: { REDIS_URL: CLOSED_REDIS, QUEUE_DATABASE_URL: CLOSED_POSTGRES } });
    const server = await serverFor(app);
    try {
      const response = await server.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      const body = response.json();
      expect(body.down).toEqual([queueCheck]);
      expect(body.error).toContain(queueCheck);
      expect(body.checks.postgres).toBe('ok');
      expect(body.checks[queueCheck]).toBe('down');
      expect(response.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
      // /healthz stays 200: the process is alive, only a dependency is not.
      expect((await server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
