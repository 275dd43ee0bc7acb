import { sql, type Kysely } from 'kysely';
import type { Database, SweepKind } from '../db/database.js';
import type { Logger } from '../logger.js';
import { sweepDurationSeconds } from '../metrics.js';
import { withSweepLock } from './sweep-lock.js';
import { closeAbandonedRuns, completeRun, failRun, findRunningRun, recordSkippedRun, startRun } from './sweep-runs.js';

/** What the caller of a sweep may choose. */
export interface SweepOptions {
  /** The instant to compare against; defaults to the database's clock when the run starts. */
  now?: Date;
  /** Count what would be done and change no account, session, token or notice. */
  dryRun?: boolean;
  log?: Logger;
}

/** What a sweep body receives: the locked connection, its run row and its fixed instant. */
export interface SweepContext {
  readonly conn: Kysely<Database>;
  readonly runId: string;
  readonly asOf: Date;
  readonly dryRun: boolean;
  readonly log: Logger | undefined;
}

/** How a sweep ended when it ran. */
export interface SweepRan<T> {
  readonly skipped: false;
  readonly runId: string;
  readonly asOf: Date;
  readonly dryRun: boolean;
  readonly result: T;
}

/** How a sweep ended when another one of its kind held the lock. */
export interface SweepSkipped {
  readonly skipped: true;
  readonly runId: string;
  readonly asOf: Date;
  readonly dryRun: boolean;
  /** e.g. "another expire sweep is running (run #12 since 2026-01-31T03:00:00.000Z); nothing done" */
  readonly message: string;
  readonly runningRunId: string | null;
}

export type SweepOutcome<T> = SweepRan<T> | SweepSkipped;

/**
 * Runs one sweep of `kind`: fixes the instant it compares against, takes the
 * kind's lock (or records a skipped run and returns), closes runs a dead
 * process left open, records the run and its outcome. `body` does the work.
 * A failure marks the run failed and is rethrown; the batches it committed
 * stay done and the next run continues from there.
 */
export async function runSweep<T>(
  db: Kysely<Database>,
  kind: SweepKind,
  options: SweepOptions,
  body: (ctx: SweepContext) => Promise<T>,
): Promise<SweepOutcome<T>> {
  const asOf = options.now ?? (await databaseNow(db));
  const dryRun = options.dryRun ?? false;
  const log = options.log?.child({ sweep: kind, asOf: asOf.toISOString(), dryRun });

  const locked = await withSweepLock(db, kind, async (conn) => {
    const abandoned = await closeAbandonedRuns(conn, kind);
    if (abandoned > 0) log?.warn({ abandoned }, 'closed sweep runs left running by a process that stopped');
    const runId = await startRun(conn, kind, asOf, dryRun);
    const stopTimer = sweepDurationSeconds.startTimer({ kind });
    log?.info({ runId }, 'sweep started');
    try {
      const result = await body({ conn, runId, asOf, dryRun, log: log?.child({ runId }) });
      const run = await completeRun(conn, runId);
      log?.info({ runId, processed: run.processed, batches: run.batches, longestBatchMs: run.longest_batch_ms }, 'sweep completed');
      return { runId, result };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await failRun(conn, runId, message).catch((recordError: unknown) =>
        log?.error({ err: recordError, runId }, 'could not record the failure of the sweep run'),
      );
      log?.error({ err: error, runId }, 'sweep failed; committed batches stay done and the next run continues');
      throw new Error(`${kind} sweep run #${runId} failed: ${message}`, { cause: error });
    } finally {
      stopTimer();
    }
  });

  if (locked.acquired) return { skipped: false, runId: locked.value.runId, asOf, dryRun, result: locked.value.result };

  const running = await findRunningRun(db, kind);
  const runId = await recordSkippedRun(db, kind, asOf, dryRun);
  const holder = running ? ` (run #${running.id} since ${running.started_at.toISOString()})` : '';
  const message = `another ${kind} sweep is running${holder}; nothing done`;
  log?.info({ runId, runningRunId: running?.id ?? null }, message);
  return { skipped: true, runId, asOf, dryRun, message, runningRunId: running?.id ?? null };
}

/** The database's current instant, to the millisecond (what a JS Date can hold exactly). */
async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`SELECT date_trunc('milliseconds', statement_timestamp()) AS now`.execute(db);
  const now = rows[0]?.now;
  if (!now) throw new Error('the database did not return its current time');
  return now;
}
