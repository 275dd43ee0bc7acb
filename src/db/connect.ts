import { Kysely, PostgresDialect } from 'kysely';
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
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
