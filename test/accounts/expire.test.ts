import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { expireTemporaryAccounts, type ExpireOptions } from '../../src/accounts/expire.js';
import { temporaryAccountsTotal } from '../../src/metrics.js';
import { useTestEnv } from '../helpers/env.js';
import {
  before,
  clone,
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
const expire = (options: ExpireOptions = {}) => expireTemporaryAccounts(env.db, config(), { now: NOW, batchSize: 2, ...options });

const EARLIER = new Date('2026-01-01T00:00:00.000Z');
const TIE = before(TTL_MS + DAY_MS);

/** Accounts around every expiry boundary; `due` names those the sweep must expire. */
const ACCOUNTS: AccountSpec[] = [
  { username: 'due-exactly-now', createdAt: before(TTL_MS), sessions: [null], tokens: [null] },
  { username: 'due-one-second-ago', createdAt: before(TTL_MS + 1000), sessions: [null, null], tokens: [] },
  { username: 'due-in-one-second', createdAt: before(TTL_MS - 1000), sessions: [null], tokens: [null] },
  { username: 'due-in-one-microsecond', createdAt: '2025-06-01T03:00:00.000001Z', sessions: [null] },
  { username: 'due-one-microsecond-ago', createdAt: '2025-06-01T02:59:59.999999Z', sessions: [null] },
  { username: 'due-five-years-ago', createdAt: before(5 * TTL_MS), sessions: [null], tokens: [null] },
  { username: 'due-inactive', createdAt: before(TTL_MS + 2 * DAY_MS), active: false, sessions: [null] },
  {
    username: 'due-several-credentials',
    createdAt: before(TTL_MS + 3 * DAY_MS),
    sessions: [null, EARLIER, null],
    tokens: [EARLIER, null],
  },
  // Same created_at to the microsecond: the keyset must break ties by id.
  ...[1, 2, 3].map((n) => ({ username: `due-tie-${n}`, createdAt: TIE, sessions: [null], tokens: [null] })),
  { username: 'in-reminder-window', createdAt: before(TTL_MS - REMINDER_MS / 2), sessions: [null], tokens: [null] },
  { username: 'permanent-ten-years', createdAt: before(10 * TTL_MS), temporary: false, sessions: [null], tokens: [null] },
  { username: 'permanent-inactive', createdAt: before(3 * TTL_MS), temporary: false, active: false, sessions: [null] },
  {
    username: 'already-expired',
    createdAt: before(2 * TTL_MS),
    expiredAt: EARLIER,
    sessions: [null, EARLIER],
    tokens: [null],
  },
];
const DUE = [
  'due-exactly-now',
  'due-one-second-ago',
  'due-one-microsecond-ago',
  'due-five-years-ago',
  'due-inactive',
  'due-several-credentials',
  'due-tie-1',
  'due-tie-2',
  'due-tie-3',
];

/** Expired before the run, yet with a session and a token still open: the run revokes them, counted apart. */
const EXPIRED_WITH_OPEN_ACCESS = ['already-expired'];

let ids: Record<string, string>;
let initial: Snapshot;

beforeEach(async () => {
  await resetTables(env.db);
  ids = await insertAccounts(env.db, ACCOUNTS);
  initial = await snapshot(env.db);
});

/**
 * The state after a correct expiry: due users expired at NOW, their open
 * credentials revoked at NOW, one audit row each; and the credentials still
 * open on accounts expired before, revoked at NOW too (`at` moves either).
 */
function expectedAfterExpiry(start: Snapshot, at: Record<string, Date> = {}): Snapshot {
  const expected = clone(start);
  const when = new Map(DUE.map((name) => [ids[name], at[name] ?? NOW]));
  for (const user of expected.users!) if (when.has(user.id as string)) user.expired_at = when.get(user.id as string);
  for (const name of EXPIRED_WITH_OPEN_ACCESS) when.set(ids[name], at[name] ?? NOW);
  for (const table of ['sessions', 'api_tokens']) {
    for (const row of expected[table]!) {
      if (when.has(row.user_id as string) && row.revoked_at === null) row.revoked_at = when.get(row.user_id as string);
    }
  }
  return expected;
}

/** The process's reverify_temporary_accounts_total for `action`. */
async function metricValue(action: string): Promise<number> {
  const metric = await temporaryAccountsTotal.get();
  return metric.values.find((value) => value.labels.action === action)?.value ?? 0;
}

/** Waits until some statement of this database waits for a row lock. */
async function waitForLockWaiter(): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const { rows } = await sql<{ waiting: string }>`
      SELECT count(*) AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(env.db);
    if (Number(rows[0]?.waiting) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the sweep never waited for the locked row');
}

function openCredentials(table: 'sessions' | 'api_tokens'): number {
  const due = new Set(DUE.map((name) => ids[name]));
  return initial[table]!.filter((row) => due.has(row.user_id as string) && row.revoked_at === null).length;
}

function withoutAudit(value: Snapshot): Snapshot {
  const { audit_log: _ignored, ...rest } = value;
  return rest;
}

describe('expiry sweep', () => {
  it('expires exactly the due temporary accounts and revokes only their open sessions and tokens', async () => {
    const expiredBefore = await metricValue('expired');
    const outcome = await expire();
    expect((await metricValue('expired')) - expiredBefore).toBe(DUE.length);
    expect(outcome.skipped).toBe(false);
    if (outcome.skipped) return;
    expect(outcome.result).toMatchObject({
      expired: DUE.length,
      sessionsRevoked: openCredentials('sessions'),
      tokensRevoked: openCredentials('api_tokens'),
      sessionsRevokedAfterExpiry: 1,
      tokensRevokedAfterExpiry: 1,
      batches: Math.ceil(DUE.length / 2),
    });

    const after = await snapshot(env.db);
    expect(withoutAudit(after)).toEqual(withoutAudit(expectedAfterExpiry(initial)));
    // Already revoked credentials keep their original revoked_at.
    const several = ids['due-several-credentials'];
    const sessions = after.sessions!.filter((row) => row.user_id === several).map((row) => row.revoked_at);
    expect(sessions).toEqual([NOW, EARLIER, NOW]);

    // One audit row per expired account, saying what was revoked.
    expect(after.audit_log!.map((row) => [row.actor, row.action, row.user_id]).sort()).toEqual(
      [
        ...DUE.map((name) => ['sweep', 'account.expired', ids[name]]),
        ['sweep', 'account.access_revoked_after_expiry', ids['already-expired']],
      ].sort(),
    );
    const late = after.audit_log!.find((row) => row.action === 'account.access_revoked_after_expiry');
    expect(late?.details).toEqual({ runId: Number(outcome.runId), sessionsRevoked: 1, tokensRevoked: 1 });
    // Its session revoked before keeps its time; the open one is revoked now.
    const lateSessions = after.sessions!.filter((row) => row.user_id === ids['already-expired']).map((row) => row.revoked_at);
    expect(lateSessions).toEqual([NOW, EARLIER]);
    const audit = after.audit_log!.find((row) => row.user_id === several);
    expect(audit?.details).toEqual({ runId: Number(outcome.runId), sessionsRevoked: 2, tokensRevoked: 1 });
    expect(audit?.reason).toBe('temporary_account_ttl');

    const run = await env.db.selectFrom('sweep_runs').selectAll().where('id', '=', outcome.runId).executeTakeFirstOrThrow();
    expect(run).toMatchObject({
      kind: 'expire',
      as_of: NOW,
      dry_run: false,
      outcome: 'completed',
      processed: DUE.length,
      sessions_revoked: openCredentials('sessions'),
      tokens_revoked: openCredentials('api_tokens'),
      sessions_revoked_after_expiry: 1,
      tokens_revoked_after_expiry: 1,
      batches: Math.ceil(DUE.length / 2),
      error: null,
    });
    expect(run.finished_at).toBeInstanceOf(Date);
  });

  it('changes nothing when run again', async () => {
    await expire();
    const once = await snapshot(env.db);
    const again = await expire();
    expect(again.skipped === false && again.result).toMatchObject({
      expired: 0,
      sessionsRevoked: 0,
      tokensRevoked: 0,
      sessionsRevokedAfterExpiry: 0,
      tokensRevokedAfterExpiry: 0,
      batches: 0,
    });
    expect(await snapshot(env.db)).toEqual(once);
  });

  it('revokes a session and a token opened on an account after it expired, counted apart, on the next run', async () => {
    const later = new Date(NOW.getTime() + 60_000);
    await expire({ now: later });
    const account = ids['due-exactly-now']!;
    const afterExpiry = new Date(later.getTime() + 1000);
    await env.db.insertInto('sessions').values({ user_id: account, created_at: afterExpiry, expires_at: new Date(NOW.getTime() + DAY_MS), revoked_at: null }).execute();
    await env.db.insertInto('api_tokens').values({ user_id: account, name: 'minted-after-expiry', created_at: afterExpiry, revoked_at: null }).execute();
    const dry = await expire({ now: later, dryRun: true });
    expect(dry.skipped === false && dry.result).toMatchObject({ expired: 0, sessionsRevoked: 0, tokensRevoked: 0, sessionsRevokedAfterExpiry: 1, tokensRevokedAfterExpiry: 1 });
    const next = await expire({ now: later });
    expect(next.skipped === false && next.result).toMatchObject({ expired: 0, sessionsRevoked: 0, tokensRevoked: 0, sessionsRevokedAfterExpiry: 1, tokensRevokedAfterExpiry: 1 });
    const open = await env.db.selectFrom('sessions').select('id').where('user_id', '=', account).where('revoked_at', 'is', null).execute();
    const openTokens = await env.db.selectFrom('api_tokens').select('id').where('user_id', '=', account).where('revoked_at', 'is', null).execute();
    expect([open, openTokens]).toEqual([[], []]);
    // A permanent account's open credentials are never touched.
    const permanent = await env.db.selectFrom('sessions').select('revoked_at').where('user_id', '=', ids['permanent-ten-years']!).execute();
    expect(permanent).toEqual([{ revoked_at: null }]);
  });

  it('counts in a dry run and changes nothing', async () => {
    const expiredBefore = await metricValue('expired');
    const outcome = await expire({ dryRun: true });
    expect(await metricValue('expired')).toBe(expiredBefore);
    expect(outcome.skipped === false && outcome.result).toMatchObject({
      expired: DUE.length,
      sessionsRevoked: openCredentials('sessions'),
      tokensRevoked: openCredentials('api_tokens'),
      sessionsRevokedAfterExpiry: 1,
      tokensRevokedAfterExpiry: 1,
    });
    expect(await snapshot(env.db)).toEqual(initial);
    const run = await env.db.selectFrom('sweep_runs').selectAll().executeTakeFirstOrThrow();
    expect(run).toMatchObject({ dry_run: true, outcome: 'completed', processed: DUE.length, batches: 0, sessions_revoked_after_expiry: 1, tokens_revoked_after_expiry: 1 });
  });

  it('finishes an interrupted run on the next run, with the same end state', async () => {
    const interrupted = expire({
      afterBatch: (batch) => {
        if (batch === 2) throw new Error('simulated crash after batch 2');
      },
    });
    await expect(interrupted).rejects.toThrow(/expire sweep run #\d+ failed: simulated crash after batch 2/);

    const failed = await env.db.selectFrom('sweep_runs').selectAll().executeTakeFirstOrThrow();
    expect(failed).toMatchObject({ outcome: 'failed', batches: 2, processed: 4, error: 'simulated crash after batch 2' });
    const halfway = await env.db.selectFrom('users').select('username').where('expired_at', 'is not', null).where('expired_at', '=', NOW).execute();
    // The oldest accounts go first (keyset order on created_at, id).
    expect(halfway.map((row) => row.username).sort()).toEqual(
      ['due-five-years-ago', 'due-several-credentials', 'due-inactive', 'due-tie-1'].sort(),
    );

    const resumed = await expire();
    expect(resumed.skipped === false && resumed.result.expired).toBe(DUE.length - 4);
    expect(withoutAudit(await snapshot(env.db))).toEqual(withoutAudit(expectedAfterExpiry(initial)));
    const audited = await env.db.selectFrom('audit_log').select('user_id').execute();
    expect(audited.map((row) => row.user_id).sort()).toEqual([...DUE, ...EXPIRED_WITH_OPEN_ACCESS].map((name) => ids[name]).sort());
  });

  it('leaves an account alone that was made permanent while its batch ran', async () => {
    // The UPDATE repeats the whole condition: another transaction makes a due
    // account permanent after the batch selected it; the batch's UPDATE waits
    // for that row, re-reads it and must leave it alone.
    const target = ids['due-inactive']!;
    let sweep: ReturnType<typeof expire> | undefined;
    await env.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ is_temporary: false }).where('id', '=', target).execute();
      sweep = expire({ batchSize: 100 });
      await waitForLockWaiter();
    });
    const outcome = await sweep!;
    expect(outcome.skipped === false && outcome.result.expired).toBe(DUE.length - 1);
    const user = await env.db.selectFrom('users').selectAll().where('id', '=', target).executeTakeFirstOrThrow();
    expect(user.expired_at).toBeNull();
    const sessions = await env.db.selectFrom('sessions').select('revoked_at').where('user_id', '=', target).execute();
    expect(sessions).toEqual([{ revoked_at: null }]);
  });

  it('keeps going when the site deletes the account the last batch ended on', async () => {
    const outcome = await expire({
      batchSize: 1,
      afterBatch: async (batch) => {
        if (batch === 1) await env.db.deleteFrom('users').where('username', '=', 'due-five-years-ago').execute();
      },
    });
    expect(outcome.skipped === false && outcome.result.expired).toBe(DUE.length);
    const left = await env.db.selectFrom('users').select('username').where('is_temporary', '=', true).where('expired_at', 'is', null).execute();
    expect(left.map((row) => row.username).sort()).toEqual(['due-in-one-microsecond', 'due-in-one-second', 'in-reminder-window']);
  });

  it('catches up a missed night: accounts due long ago are expired by the next run', async () => {
    const twoDaysAgo = new Date(NOW.getTime() - 2 * DAY_MS);
    const early = await expire({ now: twoDaysAgo });
    // Two days earlier only the accounts at least two days past their TTL were due.
    expect(early.skipped === false && early.result.expired).toBe(3);
    const late = await expire();
    expect(late.skipped === false && late.result.expired).toBe(DUE.length - 3);
    expect(withoutAudit(await snapshot(env.db))).toEqual(withoutAudit(expectedAfterExpiry(initial, { 'due-five-years-ago': twoDaysAgo, 'due-inactive': twoDaysAgo, 'due-several-credentials': twoDaysAgo, 'already-expired': twoDaysAgo })));
  });
});
