import { sql, type Kysely } from 'kysely';
import type { Database, SweepKind } from '../db/database.js';

/**
 * One sweep of a kind at a time, across every process and host: a
 * session-level PostgreSQL advisory lock held on one connection for the whole
 * run. If the process dies, PostgreSQL drops the connection and the lock with
 * it, so a crash never leaves sweeps blocked. Reminders and expiry have their
 * own keys: they touch disjoint accounts at any instant, so cron may run them
 * side by side.
 */

/** Arbitrary first key of the two-key advisory lock space ("rvsw"); the second key is the kind. */
const SWEEP_LOCK_CLASS = 0x72767377;
const SWEEP_LOCK_KIND: Record<SweepKind, number> = { remind: 1, expire: 2 };

export type LockedResult<T> = { acquired: true; value: T } | { acquired: false };

/**
 * Runs `work` on one reserved connection while holding the sweep lock of
 * `kind`, or returns `{ acquired: false }` at once if another sweep holds it.
 * `work` receives a Kysely bound to that connection; its transactions run on
 * it too, so a pool of one connection is enough.
 */
export async function withSweepLock<T>(
  db: Kysely<Database>,
  kind: SweepKind,
  work: (conn: Kysely<Database>) => Promise<T>,
): Promise<LockedResult<T>> {
  const key = SWEEP_LOCK_KIND[kind];
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`
      SELECT pg_try_advisory_lock(${SWEEP_LOCK_CLASS}::int, ${key}::int) AS locked`.execute(conn);
    if (rows[0]?.locked !== true) return { acquired: false } as const;
    // Unlock before the connection returns to the pool, or an idle pooled
    // connection would keep every later sweep out. If the connection died, the
    // lock went with it; the work's own error is the one worth reporting.
    const unlock = () => sql`SELECT pg_advisory_unlock(${SWEEP_LOCK_CLASS}::int, ${key}::int)`.execute(conn);
    let value: T;
    try {
      value = await work(conn);
    } catch (error) {
      await unlock().catch(() => undefined);
      throw error;
    }
    await unlock();
    return { acquired: true, value } as const;
  });
}
