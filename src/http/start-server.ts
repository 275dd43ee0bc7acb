import type { FastifyInstance } from 'fastify';
import type { App } from '../app/app.js';
import { metricsRoutes } from './routes/metrics.js';
import { buildServer, createServer, type CreateServerOptions } from './server.js';

export interface RunningServer {
  readonly server: FastifyInstance;
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  readonly url: string;
  /** Where /metrics is served when METRICS_PORT gives it a listener of its own. */
  readonly metricsUrl?: string;
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

/**
 * Builds the full server and listens on `port` (default PORT) on every
 * interface. With METRICS_PORT set, /metrics moves to a second listener on
 * that port (same interfaces), so it need not be reachable where the webhook
 * and the verification links are.
 */
export async function startServer(
  app: App,
  options: CreateServerOptions & { port?: number; host?: string; metricsPort?: number } = {},
): Promise<RunningServer> {
  const metricsPort = options.metricsPort ?? app.config.METRICS_PORT;
  const server = await createServer(app, { ...options, metrics: metricsPort === undefined });
  const host = options.host ?? '0.0.0.0';
  const port = await listen(server, options.port ?? app.config.PORT, host);
  const metricsServer = metricsPort === undefined ? undefined : await buildServer(app, { routes: [metricsRoutes], limits: options.limits });
  const boundMetricsPort = metricsServer ? await listen(metricsServer, metricsPort as number, host).catch(async (error: unknown) => {
    await server.close();
    throw error;
  }) : undefined;
  const urlOf = (p: number) => `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${p}`;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: urlOf(port),
    metricsUrl: boundMetricsPort === undefined ? undefined : `${urlOf(boundMetricsPort)}/metrics`,
    close() {
      closing ??= Promise.all([server.close(), metricsServer?.close()]).then(() => undefined);
      return closing;
    },
  };
}

async function listen(server: FastifyInstance, port: number, host: string): Promise<number> {
  await server.listen({ port, host });
  const address = server.server.address();
  return typeof address === 'object' && address ? address.port : port;
}
