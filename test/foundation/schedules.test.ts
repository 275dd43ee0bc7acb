import { afterAll, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { reconcileQueue, startProcessing } from '../../src/app/processing.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { useTestEnv } from '../helpers/env.js';
import { loseQueueStore } from '../helpers/queue-store.js';

const env = useTestEnv();

async function schedulerIds(app: ReturnType<typeof env.app>): Promise<string[]> {
  const ids: string[] = [];
  for (const name of [QUEUE_NAMES.sweeps, QUEUE_NAMES.maintenance]) {
    for (const scheduler of await app.queues.get(name).getJobSchedulers()) ids.push(scheduler.key);
  }
  return ids.sort();
}

const fixed = jobs.filter((job) => 'schedule' in job && job.schedule).map((job) => job.name).sort();

describe('fixed schedules', () => {
  const app = env.app();
  afterAll(() => app.close());

  it('come back from `reconcile` after the queue store lost them', async () => {
    expect(fixed).toEqual(expect.arrayContaining(['reconcile', 'sweep-expire', 'sweep-remind']));
    await reconcileQueue(app);
    expect(await schedulerIds(app)).toEqual(fixed);
    await loseQueueStore(env);
    // On PostgreSQL the tables themselves are gone: reading fails instead of finding none.
    expect(await schedulerIds(app).catch(() => [])).toEqual([]);
    const result = await reconcileQueue(app);
    expect(result.schedulesRestored).toBe(fixed.length);
    expect(await schedulerIds(app)).toEqual(fixed);
  });

  it('come back by themselves in a running worker, without a restart', async () => {
    const workers = await startProcessing(app, { scheduleCheckMs: 200 });
    for (const worker of workers.workers) env.trackWorker(worker);
    try {
      await loseQueueStore(env);
      const deadline = Date.now() + 10_000;
      while ((await schedulerIds(app).catch(() => [])).length < fixed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await schedulerIds(app)).toEqual(fixed);
    } finally {
      await workers.close(5_000);
    }
  });
});
