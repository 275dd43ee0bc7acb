import pg from 'pg';
import { createDb, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/** Admin connection for benchmarks: DATABASE_URL's server, or the local one. */
export const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `ADMIN_URL` pointed at another database. */
export function databaseUrl(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates (replacing) a migrated scratch database and returns a handle on it.
 * `keep`: an existing one is kept (migrated to the latest schema) and not
 * dropped at the end, so a large seed can serve several runs.
 */
export async function createScratchDatabase(database: string, options: { keep?: boolean } = {}): Promise<{ url: string; db: Db; kept: boolean; drop(): Promise<void> }> {
  const kept = options.keep === true && (await databaseExists(database));
  if (!kept) {
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await adminQuery(`CREATE DATABASE ${database}`);
  }
  const url = databaseUrl(database);
  const db = createDb(url, { max: 8 });
  await migrateToLatest(db);
  return {
    url,
    db,
    kept,
    async drop() {
      await db.destroy();
      if (options.keep !== true) await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

async function databaseExists(database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Runs one statement on the admin database. */
export async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
