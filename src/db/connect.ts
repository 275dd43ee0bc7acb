import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { PreparingClient } from './prepared.js';

// bigint (int8) stays a string: ids beyond 2^53 must not be rounded. COUNT(*)
// results are converted explicitly where they are read.
// timestamptz arrives as a JS Date (pg default).

export type Db = Kysely<Database>;

interface PoolOptions {
  max?: number;
  applicationName?: string;
}

/**
 * Opens a pooled Kysely connection to PostgreSQL. Close it with
 * `db.destroy()`, which also closes its prepared-statement pool (below).
 */
export function createDb(connectionString: string, options: PoolOptions = {}): Db {
  const main = openPool(connectionString, options);
  let prepared: Db | undefined;
  let preparedPool: pg.Pool | undefined;
  // What Kysely sees as its pool: the main one, and destroy() ends both.
  const pools = {
    connect: () => main.connect(),
    end: async () => {
      await main.end();
      await preparedPool?.end();
    },
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pools }) });
  preparedDbs.set(db, () => {
    if (!prepared) {
      preparedPool = openPool(connectionString, { max: options.max, applicationName: `${options.applicationName ?? 'reverify'}-prepared` }, PREPARED_SESSION);
      prepared = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparedPool }) });
    }
    return prepared;
  });
  return db;
}

/**
 * The prepared-statement pool's sessions: every statement on it is a named
 * prepared statement (PreparingClient) with a generic plan, planned once per
 * connection. Left to choose, PostgreSQL kept re-planning the send path's and
 * the webhook's statements on every execution (its cost model prefers custom
 * plans for them), and planning cost more than running them.
 *
 * A generic plan is kept for the connection's life, so it must not depend on
 * how big a table was when it was made: planned while ses_recipient_events
 * was nearly empty, the webhook's history lookup stayed a sequential scan as
 * the table grew and halved the webhook's throughput. With enable_seqscan off
 * these sessions take the index whatever the table's size. Only statements
 * written for this pool run on it: lookups by key, arrays as parameters. The
 * main pool keeps PostgreSQL's own choices.
 */
const PREPARED_SESSION = { Client: PreparingClient, options: '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off' };

const preparedDbs = new WeakMap<Db, () => Db>();

/**
 * The handle for hot statements on the same database as `db`: its own small
 * pool, opened on first use, whose statements are prepared with generic plans.
 * A handle not opened by createDb (a test's own Kysely) is returned as is.
 */
export function preparedDb(db: Db): Db {
  return preparedDbs.get(db)?.() ?? db;
}

function openPool(connectionString: string, options: PoolOptions, session: Partial<pg.PoolConfig> = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'reverify',
    // A dead database must surface as an error (→ 503, retry), not a hang.
    connectionTimeoutMillis: 5_000,
    ...session,
  });
  // An idle client losing its server (restart, pg_terminate_backend) emits
  // 'error' on the pool; without a listener that would crash the process.
  pool.on('error', () => undefined);
  // A checked-out client that loses its server between queries emits 'error'
  // on itself; the query that next uses it fails and is retried by its caller.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
