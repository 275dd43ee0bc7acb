import { readFile } from 'node:fs/promises';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createWebhookRoutes } from '../src/http/routes/webhook.js';
import { buildServer } from '../src/http/server.js';
import { createLogger } from '../src/logger.js';
import { CertificateStore } from '../src/ses-events/cert-store.js';

/**
 * The webhook server of bench/webhook.ts, in its own process so the load
 * generator does not share its event loop. Configuration comes from the
 * environment; the signing certificate is "downloaded" from the file
 * BENCH_CERT_PEM_FILE by a fetch that counts. Talks to the parent over IPC:
 * sends { port } when listening, answers 'stats' with { fetchCount }, exits on 'stop'.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const pemFile = process.env.BENCH_CERT_PEM_FILE as string;
  const certificates = new CertificateStore({
    cacheDir: config.SNS_CERT_CACHE_DIR,
    fetch: async () => {
      const pem = await readFile(pemFile, 'utf8');
      return { ok: true, status: 200, text: async () => pem };
    },
  });
  const app = createApp(config, { log: createLogger({ level: config.LOG_LEVEL, pretty: false }), dbPoolSize: Number(process.env.BENCH_WEBHOOK_POOL ?? 10) });
  const server = await buildServer(app, { routes: [createWebhookRoutes({ certificates })] });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  process.on('message', (message) => {
    if (message === 'stats') process.send?.({ fetchCount: certificates.fetchCount });
    if (message === 'stop') {
      void server
        .close()
        .then(() => app.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.({ port: address.port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
