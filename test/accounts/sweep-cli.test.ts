import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { expireTemporaryAccounts } from '../../src/accounts/expire.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';
import { before, DAY_MS, insertAccounts, NOW, REMINDER_MS, resetTables, SWEEP_ENV, TTL_MS } from './fixtures.js';

const env = useTestEnv();

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `reverify …` as a user or cron would, against this file's database. */
function reverify(args: string[], overrides: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/reverify.mjs', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env.env({ ...SWEEP_ENV, ...overrides }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exited = false;
    track(`reverify ${args.join(' ')}`, () => !exited);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      exited = true;
      resolve({ code, stdout, stderr });
    });
  });
}

const now = ['--now', NOW.toISOString()];

beforeAll(async () => {
  await resetTables(env.db);
  await insertAccounts(env.db, [
    { username: 'due', createdAt: before(TTL_MS + 1000), sessions: [null, null, new Date('2026-01-01T00:00:00Z')], tokens: [null] },
    // One second before its expiry, so also inside its reminder window.
    { username: 'due-later', createdAt: before(TTL_MS - 1000), sessions: [null] },
    { username: 'in-window', createdAt: before(TTL_MS - REMINDER_MS + DAY_MS) },
    { username: 'permanent', createdAt: before(5 * TTL_MS), temporary: false, sessions: [null] },
  ]);
});

describe('reverify sweep', () => {
  it('rejects a bad --now, an unknown sweep and an unknown flag with exit 2 and says what to fix', async () => {
    const [badNow, unknownKind, unknownFlag] = await Promise.all([
      reverify(['sweep', 'expire', '--now', 'yesterday', '--json']),
      reverify(['sweep', 'everything']),
      reverify(['sweep', 'remind', '--force']),
    ]);
    expect(badNow).toMatchObject({ code: 2, stdout: '' });
    expect(badNow.stderr).toContain('--now must be an ISO 8601 instant with a time zone, such as 2026-01-31T03:00:00Z; got "yesterday"');
    expect(unknownKind.code).toBe(2);
    expect(unknownKind.stderr).toContain('unknown sweep "everything": use "reverify sweep remind" or "reverify sweep expire"');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/--force/);
    expect(await env.db.selectFrom('sweep_runs').select('id').execute()).toEqual([]);
  });

  it('prints the contract JSON for a dry run and a real run, and exits 0', async () => {
    const [dryExpire, dryRemind] = await Promise.all([
      reverify(['sweep', 'expire', '--dry-run', ...now, '--json']),
      reverify(['sweep', 'remind', '--dry-run', ...now, '--json']),
    ]);
    expect(dryExpire.code).toBe(0);
    expect(JSON.parse(dryExpire.stdout)).toMatchObject({ expired: 1, sessionsRevoked: 2, tokensRevoked: 1, dryRun: true, skipped: false });
    expect(dryRemind.code).toBe(0);
    expect(JSON.parse(dryRemind.stdout)).toMatchObject({ reminded: 2, dryRun: true, skipped: false });
    const expired = await env.db.selectFrom('users').select('id').where('expired_at', 'is not', null).execute();
    expect(expired).toEqual([]);

    const [real, reminded] = await Promise.all([
      reverify(['sweep', 'expire', ...now, '--json']),
      reverify(['sweep', 'remind', ...now, '--json']),
    ]);
    expect(real.code).toBe(0);
    const summary = JSON.parse(real.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ expired: 1, sessionsRevoked: 2, tokensRevoked: 1, dryRun: false, skipped: false, asOf: NOW.toISOString() });
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(['expired', 'sessionsRevoked', 'tokensRevoked', 'dryRun', 'sessionsRevokedAfterExpiry', 'tokensRevokedAfterExpiry']));
    expect(real.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(reminded.stdout)).toMatchObject({ reminded: 2, dryRun: false });

    const run = await env.db.selectFrom('sweep_runs').selectAll().where('id', '=', String(summary.runId)).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ kind: 'expire', outcome: 'completed', processed: 1, as_of: NOW });
    const users = await env.db.selectFrom('users').select(['username', 'expired_at']).orderBy('id').execute();
    expect(users).toEqual([
      { username: 'due', expired_at: NOW },
      { username: 'due-later', expired_at: null },
      { username: 'in-window', expired_at: null },
      { username: 'permanent', expired_at: null },
    ]);
  });

  it('says another sweep is running, does nothing and exits 0 while the lock is held', async () => {
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let paused!: () => void;
    const isPaused = new Promise<void>((resolve) => (paused = resolve));
    // One second later, 'due-later' is due: an in-process sweep expires it and waits after its first batch.
    const holder = expireTemporaryAccounts(env.db, env.config(SWEEP_ENV), {
      now: new Date(NOW.getTime() + 2000),
      batchSize: 1,
      afterBatch: async () => {
        paused();
        await resumed;
      },
    });
    await isPaused;
    try {
      const second = await reverify(['sweep', 'expire', ...now, '--json']);
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout)).toMatchObject({ expired: 0, sessionsRevoked: 0, tokensRevoked: 0, dryRun: false, skipped: true });
      expect(JSON.parse(second.stdout).message).toMatch(/^another expire sweep is running \(run #\d+ since .+\); nothing done$/);
    } finally {
      resume();
    }
    const done = await holder;
    expect(done.skipped === false && done.result.expired).toBe(1);
  });

  it('exits 1 with the reason when the sweep cannot work', async () => {
    const failed = await reverify(['sweep', 'expire', ...now, '--json'], {
      DATABASE_URL: env.databaseUrl.replace(/\/[^/]+$/, '/rv_sweeps_no_such_database'),
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/rv_sweeps_no_such_database/);
  });
});
