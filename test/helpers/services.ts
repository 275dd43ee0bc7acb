/**
 * Where the tests find PostgreSQL and Redis: DATABASE_URL / REDIS_URL when
 * given, else the local services on their standard ports.
 */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The migrated database every test database of one run is copied from; test databases share its name as prefix. */
export function templateDatabaseName(runId: number, project: string): string {
  return `rv_test_${runId}_${project.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
