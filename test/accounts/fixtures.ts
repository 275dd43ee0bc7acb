import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';

/** Shared fixtures of the temporary account tests: accounts placed around every boundary. */

export const DAY_MS = 86_400_000;
export const TTL_DAYS = 365;
export const REMINDER_DAYS = 10;
export const TTL_MS = TTL_DAYS * DAY_MS;
export const REMINDER_MS = REMINDER_DAYS * DAY_MS;
/** The instant every test sweeps at (passed as --now / options.now). */
export const NOW = new Date('2026-06-01T03:00:00.000Z');

export const SWEEP_ENV = {
  TEMP_ACCOUNT_TTL_DAYS: String(TTL_DAYS),
  TEMP_ACCOUNT_REMINDER_DAYS: String(REMINDER_DAYS),
};

/** `ms` milliseconds before NOW. */
export function before(ms: number): Date {
  return new Date(NOW.getTime() - ms);
}

export interface AccountSpec {
  username: string;
  /** created_at as SQL text, so microsecond offsets can be expressed exactly. */
  createdAt: Date | string;
  temporary?: boolean;
  active?: boolean;
  expiredAt?: Date | null;
  /** Sessions: null = open, a Date = already revoked then. */
  sessions?: Array<Date | null>;
  tokens?: Array<Date | null>;
  notices?: Array<{ kind: string; dismissedAt?: Date | null }>;
}

/** Empties every table the sweeps read or write, and restarts ids so fixtures are repeatable. */
export async function resetTables(db: Db): Promise<void> {
  await sql`TRUNCATE users, sessions, api_tokens, account_notices, emails, audit_log, sweep_runs RESTART IDENTITY CASCADE`.execute(db);
}

/** Inserts the accounts with their sessions, tokens and notices; returns user ids by username. */
export async function insertAccounts(db: Db, specs: AccountSpec[]): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const spec of specs) {
    const { rows } = await sql<{ id: string }>`
      INSERT INTO users (username, is_temporary, is_active, created_at, expired_at)
      VALUES (${spec.username}, ${spec.temporary ?? true}, ${spec.active ?? true}, ${spec.createdAt}::timestamptz, ${spec.expiredAt ?? null})
      RETURNING id`.execute(db);
    const id = rows[0]!.id;
    ids[spec.username] = id;
    await db
      .insertInto('emails')
      .values({ user_id: id, email: `${spec.username}@example.org`, is_primary: true })
      .execute();
    for (const revokedAt of spec.sessions ?? []) {
      await db
        .insertInto('sessions')
        .values({ user_id: id, created_at: before(400 * DAY_MS), expires_at: new Date(NOW.getTime() + 30 * DAY_MS), revoked_at: revokedAt })
        .execute();
    }
    for (const [index, revokedAt] of (spec.tokens ?? []).entries()) {
      await db.insertInto('api_tokens').values({ user_id: id, name: `token-${index}`, created_at: before(400 * DAY_MS), revoked_at: revokedAt }).execute();
    }
    for (const notice of spec.notices ?? []) {
      await db.insertInto('account_notices').values({ user_id: id, kind: notice.kind, dismissed_at: notice.dismissedAt ?? null }).execute();
    }
  }
  return ids;
}

export type Snapshot = Record<string, Array<Record<string, unknown>>>;

/** Every row of every table a sweep could touch, in id order. */
export async function snapshot(db: Db): Promise<Snapshot> {
  const tables = ['users', 'emails', 'sessions', 'api_tokens', 'account_notices', 'audit_log'] as const;
  const result: Snapshot = {};
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)} ORDER BY id`.execute(db);
    result[table] = rows;
  }
  return result;
}

/** A deep copy of a snapshot, to derive the expected state from. */
export function clone(value: Snapshot): Snapshot {
  return Object.fromEntries(
    Object.entries(value).map(([table, rows]) => [table, rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? new Date(v) : v])))]),
  );
}
