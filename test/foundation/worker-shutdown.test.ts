import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/queue/job.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { startWorkers } from '../../src/queue/worker.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';
import { waitFor } from '../../src/dev/wait.js';

const env = useTestEnv();

/** A job that takes `ms` and records when it finished, to watch shutdown order. */
const finished: string[] = [];
const slowJob = defineJob({
  name: 'slow',
  queue: QUEUE_NAMES.maintenance,
  payload: z.object({ id: z.string(), ms: z.number() }),
  async handle({ id, ms }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    finished.push(id);
  },
});

describe('worker shutdown', () => {
  const app = env.app();
  afterAll(() => app.close());

  it('finishes the active job, takes no new one, and keeps the finished job in the bounded history the dashboard shows', async () => {
    const running = await startWorkers(app, [slowJob]);
    for (const worker of running.workers) env.trackWorker(worker);
    const queue = app.queues.get(QUEUE_NAMES.maintenance);
    await queue.add('slow', { id: 'first', ms: 800 }, { jobId: 'first' });
    await waitFor('a job to become active', async () => (await queue.getActiveCount()) === 1, 10_000, 25);
    await queue.add('slow', { id: 'second', ms: 10 }, { jobId: 'second' });

    await running.close(10_000);
    expect(finished).toEqual(['first']);
    expect(await queue.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 1, active: 0, completed: 1 });
    expect(running.workers.every((worker) => !worker.isRunning())).toBe(true);
  });

  it('forces a job that outlives the timeout back to the queue instead of hanging', async () => {
    const running = await startWorkers(app, [slowJob]);
    for (const worker of running.workers) env.trackWorker(worker);
    const queue = app.queues.get(QUEUE_NAMES.maintenance);
    await queue.obliterate({ force: true });
    await queue.add('slow', { id: 'stuck', ms: 2_000 }, { jobId: 'stuck' });
    await waitFor('a job to become active', async () => (await queue.getActiveCount()) === 1, 10_000, 25);
    await running.close(300);
    // close() returned while the job was still running: it did not wait for it.
    expect(finished).not.toContain('stuck');
    // The abandoned handler still runs to its end in this process (a real
    // worker process exits right after close); let it, so nothing leaks.
    await waitFor('the workers to stop', async () => running.workers.every((worker) => !worker.isRunning()), 10_000, 25);
  });

  it('exits 0 on SIGTERM when run as `reverify worker`', async () => {
    const child = spawn('node', ['bin/reverify.mjs', 'worker'], {
      env: { ...process.env, ...env.env({ LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    track('reverify worker child process', () => child.exitCode === null && child.signalCode === null);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor('the worker to be ready', async () => stderr.includes('worker ready'), 20_000, 25);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stderr).toContain('shutting down');
    expect(stderr).not.toMatch(/"level":50/);
  });
});
