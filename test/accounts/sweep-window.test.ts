import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  expiresAt,
  expiryCutoffSql,
  isDueForExpiry,
  isInReminderWindow,
  reminderCutoffSql,
  reminderFrom,
  sweepWindow,
} from '../../src/accounts/sweep-window.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();
const window = sweepWindow({ TEMP_ACCOUNT_TTL_DAYS: 365, TEMP_ACCOUNT_REMINDER_DAYS: 10 });
const created = new Date('2025-03-01T12:00:00.000Z');
const at = (iso: string) => new Date(iso);

describe('the temporary account window', () => {
  it('counts days as 86,400 seconds, whatever the calendar', () => {
    // 365 days after 2025-03-01 is 2026-03-01 (no leap day in between); the
    // reminder starts 10 days earlier, at the same time of day.
    expect(expiresAt(created, window)).toEqual(at('2026-03-01T12:00:00.000Z'));
    expect(reminderFrom(created, window)).toEqual(at('2026-02-19T12:00:00.000Z'));
  });

  it('expires at the TTL exactly: not one second before, and from that instant on', () => {
    expect(isDueForExpiry(created, at('2026-03-01T11:59:59.000Z'), window)).toBe(false);
    expect(isDueForExpiry(created, at('2026-03-01T12:00:00.000Z'), window)).toBe(true);
    expect(isDueForExpiry(created, at('2026-03-01T12:00:01.000Z'), window)).toBe(true);
  });

  it('reminds from the window start until, but not at, the expiry instant', () => {
    expect(isInReminderWindow(created, at('2026-02-19T11:59:59.000Z'), window)).toBe(false);
    expect(isInReminderWindow(created, at('2026-02-19T12:00:00.000Z'), window)).toBe(true);
    expect(isInReminderWindow(created, at('2026-03-01T11:59:59.000Z'), window)).toBe(true);
    expect(isInReminderWindow(created, at('2026-03-01T12:00:00.000Z'), window)).toBe(false);
  });

  it('gives the database the same cut-offs in any session time zone, across daylight saving changes', async () => {
    const asOf = at('2026-11-01T12:00:00.000Z'); // US daylight saving ended that morning
    const cutoffs = await env.db.connection().execute(async (conn) => {
      await sql`SET TIME ZONE 'America/New_York'`.execute(conn);
      try {
        const { rows } = await sql<{ expiry: Date; reminder: Date }>`
          SELECT ${expiryCutoffSql(asOf, window)} AS expiry, ${reminderCutoffSql(asOf, window)} AS reminder`.execute(conn);
        return rows[0];
      } finally {
        await sql`RESET TIME ZONE`.execute(conn);
      }
    });
    expect(cutoffs).toEqual({
      expiry: new Date(asOf.getTime() - 365 * 86_400_000),
      reminder: new Date(asOf.getTime() - 355 * 86_400_000),
    });
  });
});
