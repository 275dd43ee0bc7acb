import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createApp, type App } from '../app/app.js';
import { reconcile } from '../campaigns/reconcile.js';
import { loadConfig, type Config } from '../config.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger, type Logger } from '../logger.js';
import { startServer } from '../http/start-server.js';
import { startProcessing } from '../app/processing.js';
import { ensureDemoCampaign, ensureDemoData } from './demo.js';
import { DEFAULT_SEND_RATE } from './dev-packages.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { devExports, writeEnvFile } from './env-file.js';
import { startLocalSes } from './local-ses.js';
import { startSesAccountStandIn, type StandInAccount } from './ses-account-stand-in.js';
import { reservePort, type PortReservation } from './ports.js';
import { startDevRedis } from './redis-server.js';
import { startSesSimulator, type SesSimulator } from './ses-simulator.js';
import { startSesTagRecorder } from './ses-tag-recorder.js';

export interface DevOptions {
  /** Where the embedded PostgreSQL, Redis, certificates and the env file live. */
  dataDir: string;
  /** Users to seed on the first run. */
  users: number;
  /** The demo campaign's daily budget (first run only: the campaign is reused after). */
  perDay: number;
  /** SES_MAX_SEND_RATE (what paces the demo), over the environment's; else the environment's, else DEFAULT_SEND_RATE. */
  sendRate?: number;
  /** Queues on Redis (a private redis-server) instead of the embedded PostgreSQL. */
  redis: boolean;
  /** The environment; any configuration variable set here overrides the dev default. */
  env: NodeJS.ProcessEnv;
  /** Aborted by a Ctrl-C while starting: what started is stopped and the start rejects. */
  signal?: AbortSignal;
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
  queueBackend: 'redis' | 'postgres';
  /** Where the queues live (the backend's own description). */
  queues: string;
  /** The file of export lines, for `source`. */
  envFile: string;
  /** The same variables as an object. */
  exports: Record<string, string>;
  demoCampaignId: string;
  /** False when an earlier run's demo campaign was reused. */
  demoCampaignCreated: boolean;
  sendRate: number;
  users: number;
}

export interface DevStack {
  readonly info: DevInfo;
  readonly app: App;
  stop(): Promise<void>;
}

/**
 * The demo's send rate (messages per second, in dev-packages.ts): the default
 * 3000 users give about 500 eligible role holders, which this mails in about
 * 8 minutes, slow enough to watch the funnel move.
 */
export { DEFAULT_SEND_RATE };

/** The dev topic: the webhook accepts it because dev sets SNS_TOPIC_ARNS to it. */
/** The dev stack's SES account: healthy, with room for any demo rate and day. */
export const DEV_SES_ACCOUNT: StandInAccount = {
  SendQuota: { MaxSendRate: 1_000, Max24HourSend: 1_000_000, SentLast24Hours: 0 },
  EnforcementStatus: 'HEALTHY',
  SendingEnabled: true,
};

export const DEV_TOPIC_ARN = 'arn:aws:sns:us-east-1:000000000000:reverify-dev-ses-events';

type Stops = Array<() => Promise<void>>;

interface Services {
  databaseUrl: string;
  /** QUEUE_BACKEND and REDIS_URL as dev decided them. */
  queueEnv: Record<string, string>;
  sesEndpoint: string;
  inboxUrl: string;
  /** The tags of each message sent through the local SES (its tag recorder); absent with an SES_ENDPOINT of one's own. */
  tagsOf?: (messageId: string) => Record<string, string> | undefined;
}

/**
 * Starts everything `reverify dev` runs, in order, and stops what already
 * started when a later step fails (or a Ctrl-C aborts the start): embedded
 * PostgreSQL, Redis when asked for, the local SES, migrations and demo data,
 * the server, the workers, the demo campaign and the SES event simulator.
 */
export async function startDevStack(options: DevOptions): Promise<DevStack> {
  const log = createLogger({ level: options.env.LOG_LEVEL || 'warn' });
  const stops: Stops = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log.warn({ err: error }, 'a dev service did not stop cleanly'));
    stops.length = 0;
  };
  try {
    const dataDir = path.resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    const services = await startServices(options, dataDir, log, stops);
    const reservation = options.env.PORT ? undefined : await reservePort(3000);
    if (reservation) stops.push(() => reservation.release());
    const port = reservation?.port ?? Number(options.env.PORT);
    const generatedPassword = randomBytes(12).toString('hex');
    const env = devEnvironment(options, { ...services, dataDir, port, generatedPassword });
    const config: Config = loadConfig(env, ['MAIL_FROM', 'ADMIN_PASSWORD', 'SNS_TOPIC_ARNS']);
    const started = await startApplication(config, { ...options, dataDir, port, reservation, log, services, stops });

    const envFile = path.join(dataDir, 'env');
    const exports = devExports(env);
    await writeEnvFile(envFile, exports, started.app.clock());
    const base = `http://localhost:${port}`;
    const info: DevInfo = {
      dashboardUrl: `${base}/admin/queues`,
      campaignsUrl: `${base}/admin/campaigns`,
      inboxUrl: services.inboxUrl,
      adminUser: config.ADMIN_USER,
      adminPassword: config.ADMIN_PASSWORD ?? '',
      passwordGenerated: config.ADMIN_PASSWORD === generatedPassword,
      databaseUrl: services.databaseUrl,
      queueBackend: config.QUEUE_BACKEND,
      queues: started.app.queueBackend.location,
      envFile,
      exports,
      demoCampaignId: started.campaign.id,
      demoCampaignCreated: started.campaign.created,
      sendRate: config.SES_MAX_SEND_RATE,
      users: started.users,
    };
    return { app: started.app, info, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * PostgreSQL (unless DATABASE_URL is given), the queues' store and the local
 * SES (unless SES_ENDPOINT is given). The queues live in that PostgreSQL
 * unless Redis is asked for (--redis, REDIS_URL or QUEUE_BACKEND=redis).
 */
async function startServices(options: DevOptions, dataDir: string, log: Logger, stops: Stops): Promise<Services> {
  const given = (name: string) => options.env[name] || undefined;
  let databaseUrl = given('DATABASE_URL');
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), log });
    stops.push(() => pg.stop());
    databaseUrl = pg.url;
  }
  options.signal?.throwIfAborted();
  let queueEnv: Record<string, string> = { QUEUE_BACKEND: 'postgres' };
  if (options.redis || given('REDIS_URL') || given('QUEUE_BACKEND') === 'redis') {
    let redisUrl = given('REDIS_URL');
    if (!redisUrl) {
      const redis = await startDevRedis({ dataDir: path.join(dataDir, 'redis'), log });
      stops.push(() => redis.stop());
      redisUrl = redis.url;
    }
    queueEnv = { QUEUE_BACKEND: 'redis', REDIS_URL: redisUrl };
  }
  options.signal?.throwIfAborted();
  const sesEndpoint = given('SES_ENDPOINT');
  if (sesEndpoint) return { databaseUrl, queueEnv, sesEndpoint, inboxUrl: `${sesEndpoint.replace(/\/$/, '')}/` };
  const ses = await startLocalSes();
  stops.push(() => ses.stop());
  // The senders reach it through the tag recorder, so the simulator's events carry each message's own tags.
  const recorder = await startSesTagRecorder(ses.endpoint);
  stops.push(() => recorder.stop());
  // GetAccount and the suppression list, which aws-ses-v2-local lacks, answered in front of them (the guard and quota run in dev too).
  const account = await startSesAccountStandIn({ upstream: recorder.endpoint, account: DEV_SES_ACCOUNT });
  stops.push(() => account.stop());
  return { databaseUrl, queueEnv, sesEndpoint: account.endpoint, inboxUrl: ses.inboxUrl, tagsOf: recorder.tagsOf };
}

/** The dev defaults, overridden by whatever the environment sets, then the services dev started. */
function devEnvironment(
  options: DevOptions,
  context: Services & { dataDir: string; port: number; generatedPassword: string },
): Record<string, string> {
  const defaults: Record<string, string> = {
    QUEUE_PREFIX: '{reverify-dev}',
    AWS_REGION: 'us-east-1',
    MAIL_FROM: 'reverify demo <noreply@reverify.test>',
    SES_CONFIGURATION_SET: 'reverify-dev',
    // The simulator publishes Send events as SES does for a configuration set that includes them.
    SES_SEND_EVENTS: 'true',
    SES_MAX_SEND_RATE: String(DEFAULT_SEND_RATE),
    PUBLIC_BASE_URL: `http://localhost:${context.port}`,
    SNS_TOPIC_ARNS: DEV_TOPIC_ARN,
    SNS_CERT_CACHE_DIR: path.join(context.dataDir, 'sns-certs'),
    // Verification mail carries a reply address; "reverify dev reply ADDRESS" answers it.
    REPLY_DOMAIN: 'reply.reverify.test',
    ADMIN_PASSWORD: context.generatedPassword,
    LOG_LEVEL: 'warn',
  };
  const env: Record<string, string> = { ...defaults };
  for (const [name, value] of Object.entries(options.env)) if (value) env[name] = value;
  // --send-rate is explicit: it wins over an SES_MAX_SEND_RATE left in the shell.
  if (options.sendRate !== undefined) env.SES_MAX_SEND_RATE = String(options.sendRate);
  Object.assign(env, context.queueEnv, { DATABASE_URL: context.databaseUrl, SES_ENDPOINT: context.sesEndpoint, PORT: String(context.port) });
  // The local SES accepts any credentials; the SDK only needs some to sign with.
  process.env.AWS_ACCESS_KEY_ID ??= 'reverify-dev';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'reverify-dev';
  return env;
}

/** Migrations, demo data, the server, the workers, the demo campaign and the simulator. */
async function startApplication(
  config: Config,
  context: DevOptions & { dataDir: string; port: number; reservation?: PortReservation; log: Logger; services: Services; stops: Stops },
): Promise<{ app: App; users: number; campaign: { id: string; created: boolean } }> {
  const { log, stops } = context;
  const app = createApp(config, { log });
  stops.push(() => app.close());
  await migrateToLatest(app.db);
  const demo = await ensureDemoData(app.db, { users: context.users, now: app.clock() });
  context.signal?.throwIfAborted();

  await context.reservation?.release();
  const server = await startServer(app, { port: context.port, host: '127.0.0.1' });
  stops.push(() => server.close());
  // The simulator's final look at the local SES comes after the workers stopped sending.
  const later: { simulator?: SesSimulator } = {};
  stops.push(async () => later.simulator?.stop());
  const workers = await startProcessing(app);
  stops.push(() => workers.close(10_000));
  // Put back the schedules and send jobs of a campaign an earlier run left unfinished (a dev Redis starts empty).
  await reconcile(app);
  const campaign = await ensureDemoCampaign(app, { perDay: context.perDay });
  context.signal?.throwIfAborted();

  const simulator = await startSesSimulator({
    sesEndpoint: context.services.sesEndpoint,
    webhookUrl: `${server.url}/webhooks/ses`,
    topicArn: config.SNS_TOPIC_ARNS[0] ?? DEV_TOPIC_ARN,
    certCacheDir: config.SNS_CERT_CACHE_DIR,
    region: config.AWS_REGION,
    db: app.db,
    log,
    pendingFile: path.join(context.dataDir, 'ses-simulator-pending.json'),
    tagsOf: context.services.tagsOf,
    // SES reports within seconds, not at once: the funnel shows messages sent and not yet delivered.
    settleMs: 2_000,
  });
  later.simulator = simulator;
  stops.push(() => simulator.halt());
  return { app, users: demo.users, campaign };
}
