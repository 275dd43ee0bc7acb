import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { App } from '../app/app.js';
import { clipEchoedErrors, fastifyLimitOptions, HTTP_LIMITS, type HttpLimits } from './limits.js';
import { adminRoutes, type AdminOptions } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { stopRoutes } from './routes/stop.js';
import { verifyRoutes } from './routes/verify.js';
import { webhookRoutes } from './routes/webhook.js';

/** A Fastify plugin of one area; routes stay thin and call domain code. */
export type RoutePlugin = (server: FastifyInstance, app: App) => Promise<void> | void;

export interface ServerOptions {
  /** Routes to mount; each domain contributes a Fastify plugin. */
  readonly routes?: readonly RoutePlugin[];
  /** Timeouts and keep-alive limits (tests shorten them); HTTP_LIMITS by default. */
  readonly limits?: Partial<HttpLimits>;
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
    ...fastifyLimitOptions({ ...HTTP_LIMITS, ...options.limits }),
  }) as unknown as FastifyInstance;
  clipEchoedErrors(server);
  for (const register of options.routes ?? []) await register(server, app);
  return server;
}

export interface CreateServerOptions extends AdminOptions {
  /** Mount Bull Board, the operator console and the admin API (needs ADMIN_PASSWORD). Default true. */
  readonly dashboard?: boolean;
  /** Mount /metrics here. Default true; false when METRICS_PORT gives it its own listener. */
  readonly metrics?: boolean;
  readonly limits?: Partial<HttpLimits>;
}

/**
 * The whole HTTP surface of `reverify server`, `start` and `dev`: health,
 * metrics, the SES webhook, verification and stop links and the admin area.
 * Throws AdminPasswordError when the dashboard is on without a long enough
 * ADMIN_PASSWORD.
 */
export async function createServer(app: App, options: CreateServerOptions = {}): Promise<FastifyInstance> {
  const routes: RoutePlugin[] = [healthRoutes, webhookRoutes, verifyRoutes, stopRoutes];
  if (options.metrics !== false) routes.push(metricsRoutes);
  if (options.dashboard !== false) routes.push((server, routeApp) => adminRoutes(server, routeApp, options));
  return buildServer(app, { routes, limits: options.limits });
}
