import { CronExpressionParser } from 'cron-parser';
import { sql, type Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database, SweepKind } from '../db/database.js';
import { SECONDS_PER_DAY, sweepWindow } from './sweep-window.js';

/**
 * What the console's sweeps page shows: the recent runs from `sweep_runs`,
 * when the next scheduled run fires (SWEEP_CRON, UTC; both sweeps run on it),
 * and the temporary accounts whose reminder or expiry falls in the next days.
 */

export interface SweepRunRow {
  id: string;
  kind: SweepKind;
  asOf: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string | null;
  outcome: string;
  processed: number;
  sessionsRevoked: number;
  tokensRevoked: number;
  batches: number;
  longestBatchMs: number;
  error: string | null;
}

export interface DueDay {
  /** The UTC day (YYYY-MM-DD); the first row also holds what is overdue (due before today, not swept yet). */
  day: string;
  expiring: number;
  reminders: number;
}

export interface SweepOverview {
  runs: SweepRunRow[];
  nextRun: string;
  schedule: string;
  due: DueDay[];
}

/** Recent runs (newest first), the next scheduled run after `now`, and what falls due in the next `days` days. */
export async function sweepOverview(
  db: Kysely<Database>,
  config: Pick<Config, 'SWEEP_CRON' | 'TEMP_ACCOUNT_TTL_DAYS' | 'TEMP_ACCOUNT_REMINDER_DAYS'>,
  now: Date,
  options: { runs?: number; days?: number } = {},
): Promise<SweepOverview> {
  const runs = await db
    .selectFrom('sweep_runs')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(options.runs ?? 30)
    .execute();
  const nextRun = CronExpressionParser.parse(config.SWEEP_CRON, { currentDate: now, tz: 'UTC' }).next().toISOString() ?? '';
  return {
    runs: runs.map((r) => ({
      id: r.id,
      kind: r.kind,
      asOf: r.as_of.toISOString(),
      dryRun: r.dry_run,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
      outcome: r.outcome,
      processed: r.processed,
      sessionsRevoked: r.sessions_revoked,
      tokensRevoked: r.tokens_revoked,
      batches: r.batches,
      longestBatchMs: r.longest_batch_ms,
      error: r.error,
    })),
    nextRun,
    schedule: config.SWEEP_CRON,
    due: await dueDays(db, config, now, options.days ?? 14),
  };
}

/**
 * Per UTC day from today for `days` days: temporary accounts (active or not,
 * not yet expired) whose expiry falls that day, and those whose reminder
 * window opens that day. Anything due before today counts on today.
 */
async function dueDays(db: Kysely<Database>, config: Pick<Config, 'TEMP_ACCOUNT_TTL_DAYS' | 'TEMP_ACCOUNT_REMINDER_DAYS'>, now: Date, days: number): Promise<DueDay[]> {
  const window = sweepWindow(config);
  const today = new Date(Math.floor(now.getTime() / 86_400_000) * 86_400_000);
  const horizon = new Date(today.getTime() + days * SECONDS_PER_DAY * 1000);
  const rows = await sql<{ day: string; kind: 'expiring' | 'reminders'; n: string }>`
    SELECT to_char(greatest(due, ${today}::timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, kind, count(*) AS n
    FROM users u
    CROSS JOIN LATERAL (VALUES
      ('expiring', u.created_at + make_interval(secs => ${window.ttlSeconds})),
      ('reminders', u.created_at + make_interval(secs => ${window.ttlSeconds - window.reminderSeconds}))) AS d(kind, due)
    WHERE u.is_temporary AND u.expired_at IS NULL
      AND u.created_at < ${horizon}::timestamptz - make_interval(secs => ${window.ttlSeconds - window.reminderSeconds})
      AND d.due < ${horizon}::timestamptz
      AND (d.kind = 'expiring' OR d.due >= ${today}::timestamptz)
    GROUP BY 1, 2`.execute(db);
  const byDay = new Map<string, DueDay>();
  for (let i = 0; i < days; i++) {
    const day = new Date(today.getTime() + i * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10);
    byDay.set(day, { day, expiring: 0, reminders: 0 });
  }
  for (const row of rows.rows) {
    const entry = byDay.get(row.day);
    if (entry) entry[row.kind] = Number(row.n);
  }
  return [...byDay.values()];
}
