import pg from 'pg';
import { Redis } from 'ioredis';
import { createDb, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { chaosQueueBackend, listPostgresSchedulers, losePostgresQueueStore, type PostgresLoss } from './backend.js';
import { listSchedulers } from './schedulers.js';

/** The server the suite creates its scratch databases on. */
export const ADMIN_URL = process.env.CHAOS_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.CHAOS_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** ADMIN_URL pointed at `database`. */
export function databaseUrl(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs one statement on the admin database. */
export async function adminQuery(statement: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(statement, values);
  } finally {
    await client.end();
  }
}

export interface Scratch {
  readonly name: string;
  readonly url: string;
  readonly db: Db;
  /** `{rv-chaos-<scenario>}`: a queue prefix of its own, since other people share this Redis. */
  readonly queuePrefix: string;
  /** Terminates every other connection to this database (the allowed injury). */
  terminateBackends(): Promise<number>;
  /** Deletes every Redis key under the queue prefix (a FLUSHALL limited to this suite). */
  flushQueueKeys(redisUrl?: string): Promise<number>;
  /**
   * Loses the scenario's whole queue store on the backend the run uses
   * (chaosQueueBackend): every Redis key under the prefix, or the PostgreSQL
   * queue schema dropped (`how`, or its tables truncated). Says what was lost.
   */
  loseQueueStore(how?: PostgresLoss): Promise<string>;
  /** The job schedulers in the scenario's queue store, as "queue/id". */
  listSchedulers(): Promise<string[]>;
  drop(): Promise<void>;
}

/** A fresh, migrated database `rv_chaos_<scenario>` and a queue prefix of its own. */
export async function createScratch(scenario: string): Promise<Scratch> {
  const safe = scenario.replace(/[^a-z0-9_]/g, '_');
  const name = `rv_chaos_${safe}`;
  const queuePrefix = `{rv-chaos-${safe}}`;
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = databaseUrl(name);
  const db = createDb(url, { max: 4, applicationName: 'reverify-chaos' });
  await migrateToLatest(db);
  await deleteKeys(REDIS_URL, `${queuePrefix}*`);
  return {
    name,
    url,
    db,
    queuePrefix,
    async terminateBackends() {
      const result = await adminQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> 'reverify-chaos'`,
        [name],
      );
      return result.rowCount ?? 0;
    },
    flushQueueKeys: (redisUrl = REDIS_URL) => deleteKeys(redisUrl, `${queuePrefix}*`),
    async loseQueueStore(how: PostgresLoss = 'drop-schema') {
      if (chaosQueueBackend() === 'postgres') return losePostgresQueueStore(db, queuePrefix, how);
      return `${await deleteKeys(REDIS_URL, `${queuePrefix}*`)} Redis keys deleted`;
    },
    listSchedulers: () => (chaosQueueBackend() === 'postgres' ? listPostgresSchedulers(db, queuePrefix) : listSchedulers(REDIS_URL, queuePrefix)),
    async drop() {
      await db.destroy();
      await deleteKeys(REDIS_URL, `${queuePrefix}*`);
      if (process.env.CHAOS_KEEP_DATABASES === '1') return;
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Deletes the keys matching `pattern` on one Redis; returns how many. */
export async function deleteKeys(redisUrl: string, pattern: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
