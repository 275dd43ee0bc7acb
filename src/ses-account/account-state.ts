import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SesAccountTable } from '../db/database.js';
import type { AccountFigures } from './figures.js';

/**
 * The ses_account row (migration 0010) as the rest of reverify reads it: the
 * figures in force, and how the last GetAccount call went. Every process
 * reads the same row, so a rate or quota one worker's check learnt applies
 * to every worker, and `campaign resume` in another process sees the
 * enforcement status.
 */

export type CheckOutcome = SesAccountTable['outcome'];

export interface AccountState {
  /** How the last call went; 'never' before the first. */
  readonly outcome: CheckOutcome | 'never';
  readonly problem: string | null;
  readonly checkedAt: Date | null;
  /**
   * The figures in force: the last good answer while the last call was good,
   * or failed for a passing reason (network, 5xx) less than
   * FIGURES_KEPT_THROUGH_ERRORS_MS ago. Null means: the configured figures.
   */
  readonly figures: AccountFigures | null;
  readonly figuresAt: Date | null;
}

/** How long the last good figures stay in force while calls fail for passing reasons. */
export const FIGURES_KEPT_THROUGH_ERRORS_MS = 60 * 60_000;

export const NEVER_CHECKED: AccountState = { outcome: 'never', problem: null, checkedAt: null, figures: null, figuresAt: null };

/** The recorded account state as of `now`. */
export async function readAccountState(db: Kysely<Database>, now: Date): Promise<AccountState> {
  const row = await db.selectFrom('ses_account').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!row) return NEVER_CHECKED;
  return {
    outcome: row.outcome,
    problem: row.problem,
    checkedAt: row.checked_at,
    figures: figuresInForce(row, now),
    figuresAt: row.figures_at,
  };
}

type Row = Selectable<SesAccountTable>;

function figuresInForce(row: Row, now: Date): AccountFigures | null {
  if (row.figures_at === null || row.max_send_rate === null || row.max_24_hour_send === null || row.sent_last_24_hours === null) return null;
  const kept = row.outcome === 'error' && now.getTime() - row.figures_at.getTime() < FIGURES_KEPT_THROUGH_ERRORS_MS;
  if (row.outcome !== 'ok' && !kept) return null;
  return {
    maxSendRate: row.max_send_rate,
    // Stored as -1 when SES says the quota is unlimited.
    max24HourSend: row.max_24_hour_send < 0 ? Infinity : row.max_24_hour_send,
    sentLast24Hours: row.sent_last_24_hours,
    enforcementStatus: row.enforcement_status ?? 'HEALTHY',
    sendingEnabled: row.sending_enabled,
  };
}

/**
 * Takes the right to call GetAccount now: true unless some process called
 * it less than a second ago (SES allows one call a second per account).
 * Measured on the database's clock, which every process shares.
 */
export async function claimAccountCall(db: Kysely<Database>, now: Date): Promise<boolean> {
  const { rows } = await sql<{ id: number }>`
    INSERT INTO ses_account (id, called_at, checked_at, outcome, problem)
    VALUES (1, clock_timestamp(), ${now}, 'error', 'first GetAccount call under way')
    ON CONFLICT (id) DO UPDATE SET called_at = excluded.called_at
      WHERE ses_account.called_at <= excluded.called_at - interval '1 second'
    RETURNING id
  `.execute(db);
  return rows.length > 0;
}

/** Records how a call went; the figures only with a good answer (a failed call keeps the last good ones). */
export async function recordAccountCheck(
  db: Kysely<Database>,
  check: { now: Date; outcome: CheckOutcome; problem: string | null; figures: AccountFigures | null },
): Promise<void> {
  const figures = check.figures;
  await db
    .updateTable('ses_account')
    .set({
      checked_at: check.now,
      outcome: check.outcome,
      problem: check.problem,
      ...(figures
        ? {
            figures_at: check.now,
            max_send_rate: figures.maxSendRate,
            max_24_hour_send: Number.isFinite(figures.max24HourSend) ? figures.max24HourSend : -1,
            sent_last_24_hours: figures.sentLast24Hours,
            enforcement_status: figures.enforcementStatus,
            sending_enabled: figures.sendingEnabled,
          }
        : {}),
    })
    .where('id', '=', 1)
    .execute();
}
