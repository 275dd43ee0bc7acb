import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/connect.js';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { useTestEnv } from '../helpers/env.js';

/**
 * Which database errors are worth trying again shortly (the database out of
 * reach) and which would fail the same way again, told from errors a real
 * PostgreSQL and a real refused connection produce.
 */
const env = useTestEnv();

async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

describe('isDatabaseUnavailable', () => {
  it('is true for a connection refused, and for PostgreSQL saying it is starting, shutting down or refusing connections', async () => {
    const nowhere = createDb('postgres://postgres@127.0.0.1:1/nowhere', { max: 1 });
    try {
      expect(isDatabaseUnavailable(await errorOf(() => sql`SELECT 1`.execute(nowhere)))).toBe(true);
    } finally {
      await nowhere.destroy();
    }
    for (const code of ['57P03', '57P01', '08006', '53300', '55000']) {
      const error = await errorOf(() => sql`DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = ${sql.lit(code)}; END $$`.execute(env.db));
      expect([code, isDatabaseUnavailable(error)]).toEqual([code, true]);
    }
  });

  it('is true for a connection pg saw end, and false for a bug that has nothing to do with the database', () => {
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDatabaseUnavailable('not an error')).toBe(false);
  });

  it('is false for what the statement itself did wrong: a unique violation, bad data, a trigger refusing', async () => {
    await sql`CREATE TABLE database_errors_once (v int UNIQUE)`.execute(env.db);
    try {
      const errors = [
        await errorOf(() => sql`INSERT INTO database_errors_once VALUES (1), (1)`.execute(env.db)),
        await errorOf(() => sql`SELECT 'x'::int`.execute(env.db)),
        await errorOf(() => sql`DO $$ BEGIN RAISE EXCEPTION 'refused'; END $$`.execute(env.db)),
      ];
      expect(errors.map((error) => [(error as { code?: string }).code, isDatabaseUnavailable(error)])).toEqual([
        ['23505', false],
        ['22P02', false],
        ['P0001', false],
      ]);
    } finally {
      await sql`DROP TABLE database_errors_once`.execute(env.db);
    }
  });
});
