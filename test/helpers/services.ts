/**
 * Where the tests find PostgreSQL and Redis: DATABASE_URL / REDIS_URL when
 * given, else the local services on their standard ports.
 */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The name of the migrated database every test database is copied from. */
export const TEMPLATE_DATABASE = 'reverify_test_template';

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
