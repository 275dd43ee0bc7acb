import type { FastifyInstance } from 'fastify';
import type { App } from '../app/app.js';
import { createServer, type CreateServerOptions } from './server.js';

export interface RunningServer {
  readonly server: FastifyInstance;
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  readonly url: string;
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

/** Builds the full server and listens on `port` (default PORT) on every interface. */
export async function startServer(
  app: App,
  options: CreateServerOptions & { port?: number; host?: string } = {},
): Promise<RunningServer> {
  const server = await createServer(app, options);
  const host = options.host ?? '0.0.0.0';
  await server.listen({ port: options.port ?? app.config.PORT, host });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? app.config.PORT);
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url,
    close() {
      closing ??= server.close();
      return closing;
    },
  };
}
