import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createSnsWebhook } from '../../src/ses-events/webhook.js';
import { createApp } from '../../src/app/app.js';
import { reverifyEnv } from './env.js';
import { ReverifyProcess } from './processes.js';
import { createScratch, type Scratch } from './scratch.js';
import { freePort, insertAddresses, stateDigest, type SignedMessage, type StateDigest } from './webhook.js';

/** A `reverify server` on a scratch database, reading certificates from `certCacheDir`. */
export async function startServer(scratch: Scratch, certCacheDir: string, extraEnv: Record<string, string> = {}): Promise<{ server: ReverifyProcess; url: string; env: Record<string, string> }> {
  const port = await freePort();
  const env = reverifyEnv(scratch, { PORT: String(port), SNS_CERT_CACHE_DIR: certCacheDir, LOG_LEVEL: 'info', ...extraEnv });
  const server = new ReverifyProcess('server', ['server'], env);
  await server.start(/"msg":"server listening"/);
  const url = `http://127.0.0.1:${port}`;
  return { server, url: `${url}/webhooks/ses`, env };
}

/**
 * The state `messages` must lead to: a twin database with the same people,
 * each message applied once, in order, by the webhook's own decision code in
 * this process.
 */
export async function referenceState(scenario: string, addresses: number, certCacheDir: string, messages: readonly SignedMessage[]): Promise<{ digest: StateDigest; statuses: Map<number, number> }> {
  const scratch = await createScratch(`${scenario}_reference`);
  const config = loadConfig(reverifyEnv(scratch, { SNS_CERT_CACHE_DIR: certCacheDir, LOG_LEVEL: 'silent' }));
  const app = createApp(config, { log: createLogger({ level: 'silent', pretty: false }), db: scratch.db });
  const statuses = new Map<number, number>();
  try {
    await insertAddresses(scratch.db, addresses);
    const webhook = createSnsWebhook({ db: scratch.db, config, log: app.log, clock: app.clock });
    for (const message of messages) {
      const reply = await webhook.handle({ messageTypeHeader: message.type, body: message.body });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    }
    return { digest: await stateDigest(scratch.db), statuses };
  } finally {
    await app.close();
    await scratch.drop();
  }
}
