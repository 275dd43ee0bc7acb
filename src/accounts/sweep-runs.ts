import { sql, type Kysely } from 'kysely';
import type { Database, SweepKind, SweepRun } from '../db/database.js';

/**
 * The `sweep_runs` repository: one row per sweep run, written when the run
 * starts and updated in the same transaction as each batch, so the row always
 * tells how far a run got — even one that was killed.
 */

/** Progress of one committed batch, added to the run's totals. */
export interface BatchProgress {
  processed: number;
  sessionsRevoked?: number;
  tokensRevoked?: number;
  batchMs: number;
  cursor?: string | null;
}

/** Inserts the row of a run that holds the lock and is starting. Returns its id. */
export async function startRun(db: Kysely<Database>, kind: SweepKind, asOf: Date, dryRun: boolean): Promise<string> {
  const row = await db
    .insertInto('sweep_runs')
    .values({ kind, as_of: asOf, dry_run: dryRun, outcome: 'running' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Adds a batch to the run's totals; call it inside the batch's transaction. */
export async function recordBatch(trx: Kysely<Database>, runId: string, progress: BatchProgress): Promise<void> {
  const ms = Math.round(progress.batchMs);
  await trx
    .updateTable('sweep_runs')
    .set((eb) => ({
      processed: eb('processed', '+', progress.processed),
      sessions_revoked: eb('sessions_revoked', '+', progress.sessionsRevoked ?? 0),
      tokens_revoked: eb('tokens_revoked', '+', progress.tokensRevoked ?? 0),
      batches: eb('batches', '+', 1),
      longest_batch_ms: sql<number>`greatest(longest_batch_ms, ${ms})`,
      ...(progress.cursor !== undefined ? { cursor: progress.cursor } : {}),
    }))
    .where('id', '=', runId)
    .execute();
}

/** Stores what a dry run would have done; a dry run commits no batches. */
export async function recordDryRunCounts(
  db: Kysely<Database>,
  runId: string,
  counts: { processed: number; sessionsRevoked?: number; tokensRevoked?: number },
): Promise<void> {
  await db
    .updateTable('sweep_runs')
    .set({ processed: counts.processed, sessions_revoked: counts.sessionsRevoked ?? 0, tokens_revoked: counts.tokensRevoked ?? 0 })
    .where('id', '=', runId)
    .execute();
}

/** Marks a run completed. */
export async function completeRun(db: Kysely<Database>, runId: string): Promise<SweepRun> {
  return db
    .updateTable('sweep_runs')
    .set({ outcome: 'completed', finished_at: sql<Date>`clock_timestamp()` })
    .where('id', '=', runId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Marks a run failed with the error that stopped it; its committed batches stay done. */
export async function failRun(db: Kysely<Database>, runId: string, error: string): Promise<void> {
  await db
    .updateTable('sweep_runs')
    .set({ outcome: 'failed', finished_at: sql<Date>`clock_timestamp()`, error })
    .where('id', '=', runId)
    .execute();
}

/** Records a run that found another sweep of its kind holding the lock and did nothing. */
export async function recordSkippedRun(db: Kysely<Database>, kind: SweepKind, asOf: Date, dryRun: boolean): Promise<string> {
  const row = await db
    .insertInto('sweep_runs')
    .values({ kind, as_of: asOf, dry_run: dryRun, outcome: 'skipped_locked', finished_at: sql<Date>`clock_timestamp()` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The newest run of `kind` still marked running, if any. */
export async function findRunningRun(db: Kysely<Database>, kind: SweepKind): Promise<SweepRun | undefined> {
  return db
    .selectFrom('sweep_runs')
    .selectAll()
    .where('kind', '=', kind)
    .where('outcome', '=', 'running')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Closes runs of `kind` left `running` by a process that died. Only call it
 * while holding the kind's lock: then no other run of that kind is alive.
 * Returns how many were closed.
 */
export async function closeAbandonedRuns(db: Kysely<Database>, kind: SweepKind): Promise<number> {
  const result = await db
    .updateTable('sweep_runs')
    .set({
      outcome: 'failed',
      finished_at: sql<Date>`clock_timestamp()`,
      error: 'interrupted: the process stopped before the run finished; a later run continued the work',
    })
    .where('kind', '=', kind)
    .where('outcome', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
