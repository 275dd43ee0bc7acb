import { sql, type RawBuilder } from 'kysely';
import type { Config } from '../config.js';

/**
 * The boundary rule of temporary accounts, in one place.
 *
 *   expires at       = created_at + TTL
 *   reminder from    = created_at + TTL − REMINDER
 *   reminded while     reminder from ≤ now < expires at
 *   expired once       expires at ≤ now
 *
 * A day is exactly 86,400 seconds: the intervals are built from seconds only,
 * so PostgreSQL never applies calendar or daylight-saving arithmetic in the
 * session time zone. The comparisons themselves run in the database against
 * the run's `as_of` instant, passed as a parameter.
 */
export const SECONDS_PER_DAY = 86_400;

/** The TTL and reminder lead of temporary accounts, in seconds. */
export interface SweepWindow {
  readonly ttlSeconds: number;
  readonly reminderSeconds: number;
}

/** The window the configuration describes. */
export function sweepWindow(config: Pick<Config, 'TEMP_ACCOUNT_TTL_DAYS' | 'TEMP_ACCOUNT_REMINDER_DAYS'>): SweepWindow {
  return {
    ttlSeconds: config.TEMP_ACCOUNT_TTL_DAYS * SECONDS_PER_DAY,
    reminderSeconds: config.TEMP_ACCOUNT_REMINDER_DAYS * SECONDS_PER_DAY,
  };
}

/** When an account created at `createdAt` expires. */
export function expiresAt(createdAt: Date, window: SweepWindow): Date {
  return new Date(createdAt.getTime() + window.ttlSeconds * 1000);
}

/** When an account created at `createdAt` becomes due for its reminder. */
export function reminderFrom(createdAt: Date, window: SweepWindow): Date {
  return new Date(createdAt.getTime() + (window.ttlSeconds - window.reminderSeconds) * 1000);
}

/** True when the account is due for expiry at `now` (TTL ended at or before now). */
export function isDueForExpiry(createdAt: Date, now: Date, window: SweepWindow): boolean {
  return expiresAt(createdAt, window).getTime() <= now.getTime();
}

/** True when the account is inside its reminder window at `now` (and not yet due for expiry). */
export function isInReminderWindow(createdAt: Date, now: Date, window: SweepWindow): boolean {
  return reminderFrom(createdAt, window).getTime() <= now.getTime() && !isDueForExpiry(createdAt, now, window);
}

/** `created_at` cut-off for expiry: accounts created at or before it are due. */
export function expiryCutoffSql(asOf: Date, window: SweepWindow): RawBuilder<Date> {
  return sql<Date>`(${asOf}::timestamptz - make_interval(secs => ${window.ttlSeconds}))`;
}

/** `created_at` cut-off for reminders: accounts created at or before it are in (or past) their window. */
export function reminderCutoffSql(asOf: Date, window: SweepWindow): RawBuilder<Date> {
  return sql<Date>`(${asOf}::timestamptz - make_interval(secs => ${window.ttlSeconds - window.reminderSeconds}))`;
}
