import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { App } from '../app.js';

export interface ServerOptions {
  /** Routes to mount; each domain contributes a Fastify plugin. */
  readonly routes?: ReadonlyArray<(server: FastifyInstance, app: App) => Promise<void> | void>;
}

/**
 * Builds the Fastify server over an App. Routes live in src/http/routes/, one
 * module per area; they stay thin and call domain code.
 */
export async function buildServer(app: App, options: ServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify({
    loggerInstance: app.log.child({ component: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: true,
  }) as unknown as FastifyInstance;
  for (const register of options.routes ?? []) await register(server, app);
  return server;
}
