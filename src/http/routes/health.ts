import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import type { DependencyState } from '../../queue/backend.js';
import { withTimeout } from '../../queue/timeout.js';

/** How long a readiness probe waits for each dependency before calling it down. */
const PROBE_TIMEOUT_MS = 2_000;

/** `SELECT 1` on the database: 'ok' or why not. */
export async function checkPostgres(app: App, timeoutMs = PROBE_TIMEOUT_MS): Promise<DependencyState> {
  try {
    await withTimeout(sql`SELECT 1`.execute(app.db), timeoutMs, 'postgres');
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

/**
 * `/healthz` (the process answers) and `/readyz` (PostgreSQL and the queue
 * store answer: `checks.redis` on Redis, `checks.queue` on the PostgreSQL backend).
 * /readyz is public: it names what is down ('down') and nothing more; the
 * reason (an address, a driver's message) goes to the log only.
 */
export async function healthRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.get('/healthz', async () => ({ status: 'ok' }));

  server.get('/readyz', async (_request, reply) => {
    const [postgres, queue] = await Promise.all([checkPostgres(app), app.queueBackend.check(PROBE_TIMEOUT_MS)]);
    const details = { postgres, [app.queueBackend.checkName]: queue };
    const down = Object.entries(details).filter(([, state]) => state !== 'ok').map(([name]) => name);
    const checks = Object.fromEntries(Object.entries(details).map(([name, state]) => [name, state === 'ok' ? 'ok' : 'down']));
    if (down.length === 0) return { status: 'ready', checks };
    app.log.warn({ checks: details }, `/readyz: not ready, ${down.join(' and ')} did not answer`);
    return reply.code(503).send({ status: 'unavailable', error: `not ready: ${down.join(' and ')} did not answer`, down, checks });
  });
}
