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
 * ready is reported at once: ioredis would queue the PING until Redis comes back.
 */
export async function checkRedis(app: App, timeoutMs = PROBE_TIMEOUT_MS): Promise<DependencyState> {
  if (app.redis.status !== 'ready') return `connection is ${app.redis.status}`;
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
