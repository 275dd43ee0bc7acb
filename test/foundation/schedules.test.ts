import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { reconcileQueue, startProcessing } from '../../src/processing.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();

/** What Redis losing everything looks like to this file: every key under its prefix gone. */
async function loseQueueKeys(): Promise<void> {
  const redis = new Redis(env.redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.queuePrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

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

  it('come back from `reconcile` after Redis lost them', async () => {
    expect(fixed).toEqual(expect.arrayContaining(['reconcile', 'sweep-expire', 'sweep-remind']));
    await reconcileQueue(app);
    expect(await schedulerIds(app)).toEqual(fixed);
    await loseQueueKeys();
    expect(await schedulerIds(app)).toEqual([]);
    const result = await reconcileQueue(app);
    expect(result.schedulesRestored).toBe(fixed.length);
    expect(await schedulerIds(app)).toEqual(fixed);
  });

  it('come back by themselves in a running worker, without a restart', async () => {
    const workers = await startProcessing(app, { scheduleCheckMs: 200 });
    for (const worker of workers.workers) env.trackWorker(worker);
    try {
      await loseQueueKeys();
      const deadline = Date.now() + 10_000;
      while ((await schedulerIds(app)).length < fixed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await schedulerIds(app)).toEqual(fixed);
    } finally {
      await workers.close(5_000);
    }
  });
});
