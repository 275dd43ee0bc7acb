import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { sweepExpireJob } from '../../jobs/sweep-expire.js';
import { sweepRemindJob } from '../../jobs/sweep-remind.js';
import type { App } from '../../src/app/app.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { startWorkers, type RunningWorkers } from '../../src/queue/worker.js';
import { useTestEnv } from '../helpers/env.js';
import { DAY_MS, insertAccounts, resetTables, SWEEP_ENV, TTL_MS } from './fixtures.js';

const env = useTestEnv();
const SWEEP_CRON = '17 4 * * *';
let app: App;
let running: RunningWorkers | undefined;

beforeAll(async () => {
  app = env.app({ overrides: { ...SWEEP_ENV, SWEEP_CRON } });
  running = await startWorkers(app, [sweepRemindJob, sweepExpireJob], { queues: [QUEUE_NAMES.sweeps] });
  for (const worker of running.workers) env.trackWorker(worker);
});

afterAll(async () => {
  await running?.close(5_000);
});

async function waitForRun(kind: 'remind' | 'expire') {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const run = await env.db.selectFrom('sweep_runs').selectAll().where('kind', '=', kind).where('outcome', '!=', 'running').executeTakeFirst();
    if (run) return run;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no ${kind} sweep run finished`);
}

describe('sweep jobs', () => {
  it('are in the job registry, on the sweeps queue', () => {
    const names = jobs.map((job) => job.name);
    expect(names).toEqual(expect.arrayContaining(['sweep-remind', 'sweep-expire']));
    expect([sweepRemindJob.queue, sweepExpireJob.queue]).toEqual(['sweeps', 'sweeps']);
  });

  it('are scheduled by the worker on SWEEP_CRON in UTC', async () => {
    const schedulers = await app.queues.get(QUEUE_NAMES.sweeps).getJobSchedulers();
    const byKey = Object.fromEntries(schedulers.map((s) => [s.key, s]));
    for (const name of ['sweep-remind', 'sweep-expire']) {
      expect(byKey[name], name).toMatchObject({ name, pattern: SWEEP_CRON, tz: 'UTC' });
      expect(byKey[name]?.next).toBeGreaterThan(Date.now());
    }
    // The next run is at 04:17 UTC, whatever the host's time zone.
    const next = new Date(byKey['sweep-expire']!.next!);
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([4, 17]);
  });

  it('run the sweeps against the database clock when the queue delivers them', async () => {
    await resetTables(env.db);
    const now = Date.now();
    const ids = await insertAccounts(env.db, [
      { username: 'overdue', createdAt: new Date(now - TTL_MS - DAY_MS), sessions: [null], tokens: [null] },
      { username: 'soon', createdAt: new Date(now - TTL_MS + DAY_MS) },
    ]);
    const queue = app.queues.get(QUEUE_NAMES.sweeps);
    await queue.add('sweep-expire', {});
    await queue.add('sweep-remind', {});

    expect(await waitForRun('expire')).toMatchObject({ outcome: 'completed', processed: 1, sessions_revoked: 1, tokens_revoked: 1, dry_run: false });
    expect(await waitForRun('remind')).toMatchObject({ outcome: 'completed', processed: 1 });
    const overdue = await env.db.selectFrom('users').select('expired_at').where('id', '=', ids.overdue!).executeTakeFirstOrThrow();
    expect(overdue.expired_at).toBeInstanceOf(Date);
    const notices = await env.db.selectFrom('account_notices').select(['user_id', 'kind']).execute();
    expect(notices).toEqual([{ user_id: ids.soon, kind: 'temp_account_expiry' }]);
  });
});
