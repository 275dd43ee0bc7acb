import { readFile } from 'node:fs/promises';
import { createApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config.js';
import { createWebhookRoutes } from '../../src/http/routes/webhook.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { CertificateStore } from '../../src/ses-events/cert-store.js';

/**
 * The webhook benchmark's server, run as its own process so that it does not
 * share an event loop with the load generator (SNS is never in the same
 * process as the webhook). Configured from the environment like reverify;
 * BENCH_CERT_PEM names the file the counted certificate "download" returns.
 * Prints `listening <port>` when ready, and `fetches <n>` when asked on stdin.
 */
const config = loadConfig(process.env);
const certificatePem = await readFile(process.env.BENCH_CERT_PEM ?? '', 'utf8');
const certificates = new CertificateStore({
  cacheDir: config.SNS_CERT_CACHE_DIR,
  fetch: async () => ({ ok: true, status: 200, text: async () => certificatePem }),
});
const app = createApp(config, { log: createLogger({ level: 'error', pretty: false }), dbPoolSize: Number(process.env.BENCH_WEBHOOK_POOL ?? 10) });
const server = await buildServer(app, { routes: [createWebhookRoutes({ certificates })] });
await server.listen({ host: '127.0.0.1', port: 0 });
const address = server.server.address();
if (address === null || typeof address === 'string') throw new Error('webhook server has no port');
process.stdout.write(`listening ${address.port}\n`);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  if (line.trim() === 'fetches') process.stdout.write(`fetches ${certificates.fetchCount}\n`);
});
process.stdin.on('end', () => {
  void server
    .close()
    .then(() => app.close())
    .then(() => process.exit(0));
});
