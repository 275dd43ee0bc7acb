import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { App } from '../app/app.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { verifyRoutes } from './routes/verify.js';
import { webhookRoutes } from './routes/webhook.js';

/** A Fastify plugin of one area; routes stay thin and call domain code. */
export type RoutePlugin = (server: FastifyInstance, app: App) => Promise<void> | void;

export interface ServerOptions {
  /** Routes to mount; each domain contributes a Fastify plugin. */
  readonly routes?: readonly RoutePlugin[];
}

/**
 * Builds a bare Fastify server over an App with only `routes`. Tests of one
 * area use it; `reverify server` uses createServer.
 */
export async function buildServer(app: App, options: ServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify({
    loggerInstance: app.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Request lines would drown the job logs; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  for (const register of options.routes ?? []) await register(server, app);
  return server;
}

export interface CreateServerOptions {
  /** Mount Bull Board, the campaigns page and the admin API (needs ADMIN_PASSWORD). Default true. */
  readonly dashboard?: boolean;
}

/**
 * The whole HTTP surface of `reverify server`, `start` and `dev`: health,
 * metrics, the SES webhook, verification links and the admin area. Throws
 * AdminPasswordMissingError when the dashboard is on without ADMIN_PASSWORD.
 */
export async function createServer(app: App, options: CreateServerOptions = {}): Promise<FastifyInstance> {
  const routes: RoutePlugin[] = [healthRoutes, metricsRoutes, webhookRoutes, verifyRoutes];
  if (options.dashboard !== false) routes.push(adminRoutes);
  return buildServer(app, { routes });
}
