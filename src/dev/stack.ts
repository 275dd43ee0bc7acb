import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createApp, type App } from '../app/app.js';
import { reconcile } from '../campaigns/reconcile.js';
import { loadConfig, type Config } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { startServer } from '../http/start-server.js';
import { startProcessing } from '../app/processing.js';
import { ensureDemoCampaign, ensureDemoData } from './demo.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startLocalSes } from './local-ses.js';
import { freePort } from './ports.js';
import { startDevRedis } from './redis-server.js';
import { startSesSimulator } from './ses-simulator.js';

export interface DevOptions {
  /** Where the embedded PostgreSQL, Redis and certificates keep their files. */
  dataDir: string;
  /** Users to seed on the first run. */
  users: number;
  /** The demo campaign's daily budget. */
  perDay: number;
  /** The environment; any configuration variable set here overrides the dev default. */
  env: NodeJS.ProcessEnv;
}

/** What `reverify dev` prints when it is ready. */
export interface DevInfo {
  dashboardUrl: string;
  campaignsUrl: string;
  inboxUrl: string;
  adminUser: string;
  adminPassword: string;
  passwordGenerated: boolean;
  databaseUrl: string;
  redis: string;
  demoCampaignId: string;
  users: number;
}

export interface DevStack {
  readonly info: DevInfo;
  readonly app: App;
  stop(): Promise<void>;
}

/** The dev topic: the webhook accepts it because dev sets SNS_TOPIC_ARNS to it. */
export const DEV_TOPIC_ARN = 'arn:aws:sns:us-east-1:000000000000:reverify-dev-ses-events';

/**
 * Starts everything `reverify dev` runs, in order, and stops what already
 * started when a later step fails: embedded PostgreSQL, Redis, the local SES,
 * migrations and demo data, the server, the workers, the demo campaign and the
 * SES event simulator.
 */
export async function startDevStack(options: DevOptions): Promise<DevStack> {
  const given = (name: string) => (options.env[name] ? options.env[name] : undefined);
  const log = createLogger({ level: given('LOG_LEVEL') ?? 'warn' });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log.warn({ err: error }, 'a dev service did not stop cleanly'));
    stops.length = 0;
  };
  try {
    const dataDir = path.resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });

    let databaseUrl = given('DATABASE_URL');
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), log });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    let redisUrl = given('REDIS_URL');
    let redisSource = `REDIS_URL (${redisUrl ?? ''})`;
    if (!redisUrl) {
      const redis = await startDevRedis({ dataDir: path.join(dataDir, 'redis'), log });
      stops.push(() => redis.stop());
      redisUrl = redis.url;
      redisSource = redis.source;
    }
    let sesEndpoint = given('SES_ENDPOINT');
    let inboxUrl = sesEndpoint ? `${sesEndpoint.replace(/\/$/, '')}/` : '';
    if (!sesEndpoint) {
      const ses = await startLocalSes();
      stops.push(() => ses.stop());
      sesEndpoint = ses.endpoint;
      inboxUrl = ses.inboxUrl;
    }

    const port = given('PORT') ? Number(given('PORT')) : await freePort(3000);
    const generatedPassword = randomBytes(12).toString('hex');
    const defaults: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: '{reverify-dev}',
      SES_ENDPOINT: sesEndpoint,
      AWS_REGION: 'us-east-1',
      MAIL_FROM: 'reverify demo <noreply@reverify.test>',
      SES_CONFIGURATION_SET: 'reverify-dev',
      SES_MAX_SEND_RATE: '20',
      PUBLIC_BASE_URL: `http://localhost:${port}`,
      SNS_TOPIC_ARNS: DEV_TOPIC_ARN,
      SNS_CERT_CACHE_DIR: path.join(dataDir, 'sns-certs'),
      ADMIN_PASSWORD: generatedPassword,
      LOG_LEVEL: 'warn',
    };
    const env: Record<string, string> = { ...defaults };
    for (const [name, value] of Object.entries(options.env)) if (value) env[name] = value;
    Object.assign(env, { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, SES_ENDPOINT: sesEndpoint, PORT: String(port) });
    // The local SES accepts any credentials; the SDK only needs some to sign with.
    process.env.AWS_ACCESS_KEY_ID ??= 'reverify-dev';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'reverify-dev';
    const config: Config = loadConfig(env, ['MAIL_FROM', 'ADMIN_PASSWORD', 'SNS_TOPIC_ARNS']);

    const app = createApp(config, { log });
    stops.push(() => app.close());
    await migrateToLatest(app.db);
    const demo = await ensureDemoData(app.db, { users: options.users, now: app.clock() });

    const server = await startServer(app, { port, host: '127.0.0.1' });
    stops.push(() => server.close());
    const workers = await startProcessing(app);
    stops.push(() => workers.close(10_000));
    // The dev Redis starts empty: put back the schedules and send jobs of a campaign an earlier run left unfinished.
    await reconcile(app);
    const campaign = await ensureDemoCampaign(app, { perDay: options.perDay });

    const topicArn = config.SNS_TOPIC_ARNS[0] ?? DEV_TOPIC_ARN;
    const simulator = await startSesSimulator({
      sesEndpoint,
      webhookUrl: `${server.url}/webhooks/ses`,
      topicArn,
      certCacheDir: config.SNS_CERT_CACHE_DIR,
      region: config.AWS_REGION,
      db: app.db,
      log,
    });
    stops.push(() => simulator.stop());

    const base = `http://localhost:${server.port}`;
    return {
      app,
      info: {
        dashboardUrl: `${base}/admin/queues`,
        campaignsUrl: `${base}/admin/campaigns`,
        inboxUrl,
        adminUser: config.ADMIN_USER,
        adminPassword: config.ADMIN_PASSWORD ?? '',
        passwordGenerated: config.ADMIN_PASSWORD === generatedPassword,
        databaseUrl,
        redis: redisSource,
        demoCampaignId: campaign.id,
        users: demo.users,
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
