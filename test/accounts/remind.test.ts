import { beforeEach, describe, expect, it } from 'vitest';
import { EXPIRY_NOTICE_KIND, remindTemporaryAccounts } from '../../src/accounts/remind.js';
import type { SweepOptions } from '../../src/accounts/sweep-runner.js';
import { createDb } from '../../src/db/connect.js';
import { useTestEnv } from '../helpers/env.js';
import {
  before,
  DAY_MS,
  insertAccounts,
  NOW,
  REMINDER_MS,
  resetTables,
  snapshot,
  SWEEP_ENV,
  TTL_MS,
  type AccountSpec,
  type Snapshot,
} from './fixtures.js';

const env = useTestEnv();
const config = () => env.config(SWEEP_ENV);
const remind = (options: SweepOptions = {}) => remindTemporaryAccounts(env.db, config(), { now: NOW, ...options });

const WINDOW_START = TTL_MS - REMINDER_MS;
const EARLIER = new Date('2026-05-25T00:00:00.000Z');

/** Accounts around both edges of the reminder window. */
const ACCOUNTS: AccountSpec[] = [
  { username: 'window-starts-now', createdAt: before(WINDOW_START) },
  { username: 'window-started-one-second-ago', createdAt: before(WINDOW_START + 1000) },
  { username: 'window-starts-in-one-second', createdAt: before(WINDOW_START - 1000) },
  { username: 'expires-in-one-second', createdAt: before(TTL_MS - 1000) },
  { username: 'expires-now', createdAt: before(TTL_MS) },
  { username: 'expired-due-long-ago', createdAt: before(TTL_MS + 30 * DAY_MS) },
  { username: 'inactive-in-window', createdAt: before(WINDOW_START + DAY_MS), active: false },
  { username: 'expired-by-hand-in-window', createdAt: before(WINDOW_START + DAY_MS), expiredAt: EARLIER },
  { username: 'permanent-in-window', createdAt: before(WINDOW_START + DAY_MS), temporary: false },
  { username: 'permanent-ancient', createdAt: before(10 * TTL_MS), temporary: false },
  {
    username: 'already-reminded',
    createdAt: before(WINDOW_START + 2 * DAY_MS),
    notices: [{ kind: EXPIRY_NOTICE_KIND, dismissedAt: EARLIER }],
  },
  { username: 'other-notice-only', createdAt: before(WINDOW_START + 3 * DAY_MS), notices: [{ kind: 'welcome' }] },
  { username: 'young', createdAt: before(DAY_MS), sessions: [null], tokens: [null] },
];
const REMINDED = [
  'window-starts-now',
  'window-started-one-second-ago',
  'expires-in-one-second',
  'inactive-in-window',
  'other-notice-only',
];

let ids: Record<string, string>;
let initial: Snapshot;

beforeEach(async () => {
  await resetTables(env.db);
  ids = await insertAccounts(env.db, ACCOUNTS);
  initial = await snapshot(env.db);
});

async function expiryNotices(): Promise<string[]> {
  const rows = await env.db
    .selectFrom('account_notices')
    .innerJoin('users', 'users.id', 'account_notices.user_id')
    .select('users.username')
    .where('account_notices.kind', '=', EXPIRY_NOTICE_KIND)
    .execute();
  return rows.map((row) => row.username).sort();
}

describe('reminder sweep', () => {
  it('creates one notice for exactly the accounts inside the window and changes nothing else', async () => {
    const outcome = await remind();
    expect(outcome.skipped === false && outcome.result).toEqual({ reminded: REMINDED.length });
    expect(await expiryNotices()).toEqual([...REMINDED, 'already-reminded'].sort());

    const after = await snapshot(env.db);
    const { account_notices: notices, ...rest } = after;
    const { account_notices: initialNotices, ...initialRest } = initial;
    expect(rest).toEqual(initialRest);
    // Existing notices are untouched (the dismissed one stays dismissed); the new ones are fresh.
    expect(notices!.slice(0, initialNotices!.length)).toEqual(initialNotices);
    const added = notices!.slice(initialNotices!.length);
    expect(added.map((row) => [row.user_id, row.kind, row.dismissed_at]).sort()).toEqual(
      REMINDED.map((name) => [ids[name], EXPIRY_NOTICE_KIND, null]).sort(),
    );

    const run = await env.db.selectFrom('sweep_runs').selectAll().where('id', '=', outcome.runId).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ kind: 'remind', as_of: NOW, dry_run: false, outcome: 'completed', processed: REMINDED.length, batches: 1 });
  });

  it('never reminds twice: reruns, and later runs as the window moves, only add newcomers', async () => {
    await remind();
    const once = await snapshot(env.db);
    const again = await remind();
    expect(again.skipped === false && again.result.reminded).toBe(0);
    expect(await snapshot(env.db)).toEqual(once);

    // Two seconds later the account whose window started a second from NOW is in it too.
    const later = await remind({ now: new Date(NOW.getTime() + 2000) });
    expect(later.skipped === false && later.result.reminded).toBe(1);
    expect(await expiryNotices()).toEqual([...REMINDED, 'already-reminded', 'window-starts-in-one-second'].sort());
  });

  it('counts in a dry run and changes nothing', async () => {
    const outcome = await remind({ dryRun: true });
    expect(outcome.skipped === false && outcome.result).toEqual({ reminded: REMINDED.length });
    expect(await snapshot(env.db)).toEqual(initial);
    const run = await env.db.selectFrom('sweep_runs').selectAll().executeTakeFirstOrThrow();
    expect(run).toMatchObject({ dry_run: true, outcome: 'completed', processed: REMINDED.length });
  });

  it('overlapping runs from several processes remind each account once', async () => {
    const dbs = [1, 2, 3, 4].map(() => createDb(env.databaseUrl, { max: 1 }));
    try {
      const outcomes = await Promise.all(dbs.map((db) => remindTemporaryAccounts(db, config(), { now: NOW })));
      const reminded = outcomes.reduce((sum, outcome) => sum + (outcome.skipped ? 0 : outcome.result.reminded), 0);
      expect(reminded).toBe(REMINDED.length);
      for (const outcome of outcomes.filter((o) => o.skipped)) {
        expect(outcome.skipped && outcome.message).toMatch(/^another remind sweep is running/);
      }
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
    expect(await expiryNotices()).toEqual([...REMINDED, 'already-reminded'].sort());
    const runs = await env.db.selectFrom('sweep_runs').select(['outcome']).execute();
    expect(runs).toHaveLength(4);
    expect(runs.every((run) => run.outcome === 'completed' || run.outcome === 'skipped_locked')).toBe(true);
  });
});
