import { randomBytes } from 'node:crypto';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createApp, type App, type Clock } from '../../src/app/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDb, type Db } from '../../src/db/connect.js';
import { createLogger } from '../../src/logger.js';
import { track } from './resources.js';
import { withDatabase } from './services.js';

/** A test file's own world: a database copied from the migrated template and a queue prefix. */
export interface TestEnv {
  /** URL of this file's database. */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** The queue backend this file runs on: its vitest project's (QUEUE_BACKEND). */
  readonly queueBackend: 'redis' | 'postgres';
  /** This file's queue prefix, e.g. {rv-test-ab12cd}. */
  readonly queuePrefix: string;
  /** A Kysely handle on this file's database, closed after the file. */
  readonly db: Db;
  /** Environment variables pointing at this file's services, for child processes and loadConfig. */
  env(overrides?: Record<string, string>): Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  /** An App on this file's database and prefix; closed after the file. */
  app(options?: { overrides?: Record<string, string>; clock?: Clock }): App;
  /** Registers a worker so the file fails if it is left running. */
  trackWorker(worker: Worker, name?: string): Worker;
}

/**
 * Gives the calling test file its own database (copied from the template) and
 * queue prefix, and removes both after the file. Set KEEP_TEST_DATABASES=1 to
 * keep the database of a failing run for inspection.
 */
export function useTestEnv(): TestEnv {
  const suffix = randomBytes(4).toString('hex');
  const template = inject('templateDatabase');
  const database = `${template}_${suffix}`;
  const adminUrl = inject('adminDatabaseUrl');
  const redisUrl = inject('redisUrl');
  const queueBackend = inject('queueBackend');
  const databaseUrl = withDatabase(adminUrl, database);
  const queuePrefix = `{rv-test-${suffix}}`;
  let db: Db | undefined;
  const apps: App[] = [];

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database} TEMPLATE ${template}`);
    } finally {
      await admin.end();
    }
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    if (db) await db.destroy();
    // On the PostgreSQL backend the queues live in this file's database, dropped below.
    if (queueBackend === 'redis') await deleteQueueKeys(redisUrl, queuePrefix);
    if (process.env.KEEP_TEST_DATABASES === '1') return;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_BACKEND: queueBackend,
    QUEUE_PREFIX: queuePrefix,
    MAIL_FROM: 'reverify tests <noreply@example.org>',
    PUBLIC_BASE_URL: 'https://example.org',
    LOG_LEVEL: 'silent',
    ...overrides,
  });

  return {
    databaseUrl,
    redisUrl,
    queueBackend,
    queuePrefix,
    get db() {
      if (!db) {
        const opened = createDb(databaseUrl, { max: 5 });
        let destroyed = false;
        const destroy = opened.destroy.bind(opened);
        opened.destroy = async () => {
          destroyed = true;
          await destroy();
        };
        track(`database handle on ${database}`, () => !destroyed);
        db = opened;
      }
      return db;
    },
    env,
    config: (overrides) => loadConfig(env(overrides)),
    app(options = {}) {
      const config = loadConfig(env(options.overrides));
      const app = createApp(config, { clock: options.clock, log: createLogger({ level: config.LOG_LEVEL, pretty: false }) });
      let closed = false;
      const close = app.close.bind(app);
      const tracked: App = {
        ...app,
        async close() {
          closed = true;
          await close();
        },
      };
      track('App (database pool and queue connections)', () => !closed);
      apps.push(tracked);
      return tracked;
    },
    trackWorker(worker, name = `worker on ${worker.name}`) {
      track(name, () => worker.isRunning());
      return worker;
    },
  };
}

/** Deletes every Redis key under `prefix`: what losing the queue looks like on Redis. */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
