import { Migrator, sql, type MigrationResult } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { Db } from './connect.js';

/** Arbitrary constant that names reverify's migration lock among advisory locks. */
const MIGRATION_LOCK_KEY = 7_347_112_001;

export interface MigrateOutcome {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations. Idempotent, and safe when several processes run
 * it at once: a session-level advisory lock serialises them, so the second one
 * waits, then finds nothing to do (Kysely's own lock table is created without
 * a lock, which races on a fresh database).
 */
export async function migrateToLatest(db: Db): Promise<MigrateOutcome> {
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      const migrator = new Migrator({ db: conn, provider: { getMigrations: async () => migrations } });
      const before = (await migrator.getMigrations()).filter((m) => m.executedAt !== undefined).length;
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r: MigrationResult) => r.status === 'Error');
        throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed; nothing after it was applied`, {
          cause: error,
        });
      }
      return { applied: (results ?? []).map((r) => r.migrationName), alreadyApplied: before };
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}
