import { Kysely, PostgresDialect, type RawBuilder } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';

// bigint (int8) stays a string: ids beyond 2^53 must not be rounded. COUNT(*)
// results are converted explicitly where they are read.
// timestamptz arrives as a JS Date (pg default).

export type Db = Kysely<Database>;

/** Opens a pooled Kysely connection to PostgreSQL. Close it with `db.destroy()`. */
export function createDb(connectionString: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'reverify',
    // A dead database must surface as an error (→ 503, retry), not a hang.
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its server (restart, pg_terminate_backend) emits
  // 'error' on the pool; without a listener that would crash the process.
  pool.on('error', () => undefined);
  // A checked-out client that loses its server between queries emits 'error'
  // on itself; the query that next uses it fails and is retried by its caller.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

const pools = new WeakMap<Db, pg.Pool>();

/**
 * Runs `query` as a named prepared statement: each pooled connection parses
 * and plans it once, then only executes it. For the few statements on the
 * send path that run hundreds of times a second, where planning cost as much
 * as running; everything else goes through Kysely's unnamed statements. The
 * SQL text must not vary between calls (arrays, not lists of parameters).
 */
export async function executePrepared<Row>(db: Db, name: string, query: RawBuilder<Row>): Promise<Row[]> {
  const pool = pools.get(db);
  if (!pool) throw new Error(`prepared statement ${name}: this database handle was not opened by createDb`);
  const compiled = query.compile(db);
  const result = await pool.query({ name, text: compiled.sql, values: [...compiled.parameters] });
  return result.rows as Row[];
}
