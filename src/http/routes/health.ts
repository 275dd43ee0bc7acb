import { once } from 'node:events';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';

/** How long a readiness probe waits for each dependency before calling it down. */
const PROBE_TIMEOUT_MS = 2_000;

export type DependencyState = 'ok' | string;

/** Resolves `promise`, or rejects after `ms` with a message naming what timed out. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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
 * PING on the producer connection: 'ok' or why not. A connection that is not
 * ready yet (the process just started, or Redis is away and it reconnects)
 * is given the probe's time to become ready, and the PING is sent only then:
 * ioredis would queue it until Redis comes back. Reporting "connecting" at
 * once answered 503 to a server's first probe whenever its connection took
 * longer than its listening did.
 */
export async function checkRedis(app: App, timeoutMs = PROBE_TIMEOUT_MS): Promise<DependencyState> {
  if (app.redis.status !== 'ready') {
    if (app.redis.status === 'end') return 'connection is end';
    const ready = await withTimeout(once(app.redis, 'ready'), timeoutMs, 'redis').then(
      () => true,
      () => false,
    );
    if (!ready) return `connection is ${app.redis.status}`;
  }
  try {
    const answer = await withTimeout(app.redis.ping(), timeoutMs, 'redis');
    return answer === 'PONG' ? 'ok' : `unexpected answer ${answer}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** `/healthz` (the process answers) and `/readyz` (PostgreSQL and Redis answer). */
export async function healthRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.get('/healthz', async () => ({ status: 'ok' }));

  server.get('/readyz', async (_request, reply) => {
    const [postgres, redis] = await Promise.all([checkPostgres(app), checkRedis(app)]);
    const checks = { postgres, redis };
    const down = Object.entries(checks).filter(([, state]) => state !== 'ok').map(([name]) => name);
    if (down.length === 0) return { status: 'ready', checks };
    return reply.code(503).send({ status: 'unavailable', error: `not ready: ${down.join(' and ')} did not answer`, down, checks });
  });
}
