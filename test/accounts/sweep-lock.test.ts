import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { expireTemporaryAccounts } from '../../src/accounts/expire.js';
import { remindTemporaryAccounts } from '../../src/accounts/remind.js';
import { createDb } from '../../src/db/connect.js';
import type { Database } from '../../src/db/database.js';
import { useTestEnv } from '../helpers/env.js';
import { before, DAY_MS, insertAccounts, NOW, REMINDER_MS, resetTables, SWEEP_ENV, TTL_MS } from './fixtures.js';

const env = useTestEnv();
const config = () => env.config(SWEEP_ENV);
const DUE_COUNT = 6;

beforeEach(async () => {
  await resetTables(env.db);
  await insertAccounts(env.db, [
    ...Array.from({ length: DUE_COUNT }, (_, n) => ({
      username: `due-${n}`,
      createdAt: before(TTL_MS + (n + 1) * DAY_MS),
      sessions: [null, null],
      tokens: [null],
    })),
    { username: 'in-window', createdAt: before(TTL_MS - REMINDER_MS / 2) },
  ]);
});

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * A database handle whose connections survive being terminated without an
 * uncaught 'error' event (pg emits one on a checked-out client), so this test
 * can kill the sweep's connection the way a dying host would.
 */
function victimDb(): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 1, application_name: 'rv-sweep-victim' });
  pool.on('connect', (client) => client.on('error', () => undefined));
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function auditedUsers(): Promise<string[]> {
  const rows = await env.db.selectFrom('audit_log').select('user_id').where('action', '=', 'account.expired').execute();
  return rows.map((row) => String(row.user_id));
}

describe('sweep lock', () => {
  it('a second expiry sweep started while one runs says so, does nothing and is recorded as skipped', async () => {
    const paused = gate();
    const resume = gate();
    const first = expireTemporaryAccounts(env.db, config(), {
      now: NOW,
      batchSize: 2,
      afterBatch: async (batch) => {
        if (batch === 1) {
          paused.open();
          await resume.opened;
        }
      },
    });
    await paused.opened;

    const second = await expireTemporaryAccounts(env.db, config(), { now: NOW });
    expect(second.skipped).toBe(true);
    const firstRun = await env.db.selectFrom('sweep_runs').selectAll().where('outcome', '=', 'running').executeTakeFirstOrThrow();
    expect(second.skipped && second.message).toBe(
      `another expire sweep is running (run #${firstRun.id} since ${firstRun.started_at.toISOString()}); nothing done`,
    );
    const skipped = await env.db.selectFrom('sweep_runs').selectAll().where('id', '=', second.runId).executeTakeFirstOrThrow();
    expect(skipped).toMatchObject({ kind: 'expire', outcome: 'skipped_locked', processed: 0, batches: 0 });

    // Reminders have their own lock: they run while an expiry sweep holds its own.
    const reminder = await remindTemporaryAccounts(env.db, config(), { now: NOW });
    expect(reminder.skipped === false && reminder.result.reminded).toBe(1);

    resume.open();
    const done = await first;
    expect(done.skipped === false && done.result.expired).toBe(DUE_COUNT);
    expect(await auditedUsers()).toHaveLength(DUE_COUNT);
  });

  it('two expiry sweeps started together do the work once', async () => {
    const dbs = [createDb(env.databaseUrl, { max: 1 }), createDb(env.databaseUrl, { max: 1 })];
    try {
      const outcomes = await Promise.all(dbs.map((db) => expireTemporaryAccounts(db, config(), { now: NOW, batchSize: 1 })));
      const expired = outcomes.reduce((sum, o) => sum + (o.skipped ? 0 : o.result.expired), 0);
      const sessions = outcomes.reduce((sum, o) => sum + (o.skipped ? 0 : o.result.sessionsRevoked), 0);
      expect(expired).toBe(DUE_COUNT);
      expect(sessions).toBe(2 * DUE_COUNT);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
    const audited = await auditedUsers();
    expect(new Set(audited).size).toBe(DUE_COUNT);
    expect(audited).toHaveLength(DUE_COUNT);
  });

  it('a sweep whose process died releases the lock; the next run closes its record and finishes the work', async () => {
    const victim = victimDb();
    const paused = gate();
    const resume = gate();
    try {
      const dying = expireTemporaryAccounts(victim, config(), {
        now: NOW,
        batchSize: 2,
        afterBatch: async (batch) => {
          if (batch === 1) {
            paused.open();
            await resume.opened;
          }
        },
      });
      const settled = dying.then(
        () => 'completed',
        () => 'failed',
      );
      await paused.opened;
      // What a kill -9 of the sweep's host looks like to PostgreSQL: its connection goes away.
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rv-sweep-victim'`.execute(env.db);
      resume.open();
      expect(await settled).toBe('failed');
    } finally {
      await victim.destroy();
    }
    const left = await env.db.selectFrom('sweep_runs').selectAll().executeTakeFirstOrThrow();
    expect(left).toMatchObject({ outcome: 'running', batches: 1, processed: 2 });

    const next = await expireTemporaryAccounts(env.db, config(), { now: NOW, batchSize: 2 });
    expect(next.skipped === false && next.result.expired).toBe(DUE_COUNT - 2);
    const closed = await env.db.selectFrom('sweep_runs').selectAll().where('id', '=', left.id).executeTakeFirstOrThrow();
    expect(closed.outcome).toBe('failed');
    expect(closed.error).toMatch(/^interrupted/);
    expect(new Set(await auditedUsers()).size).toBe(DUE_COUNT);
    const open = await env.db.selectFrom('sessions').select('id').where('revoked_at', 'is', null).execute();
    expect(open).toHaveLength(0);
  });
});
