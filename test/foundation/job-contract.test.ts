import { describe, expect, it } from 'vitest';
import { enqueueJob, JobPayloadError } from '../../jobs/contract/client.js';
import { JOB_TYPES } from '../../jobs/contract/definitions.js';
import { jobs } from '../../jobs/registry.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { recipientIdsOf } from '../../src/campaigns/enqueue.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();

describe('job contract', () => {
  it('gives every handler the name, queue and payload schema producers enqueue with', () => {
    expect(jobs.map((job) => job.name).sort()).toEqual(Object.keys(JOB_TYPES).sort());
    for (const handler of jobs) {
      const type = JOB_TYPES[handler.name as keyof typeof JOB_TYPES];
      expect(handler.queue).toBe(type.queue);
      expect(handler.payload).toBe(type.payload);
    }
  });

  it('refuses a malformed payload where it is enqueued, and adds nothing', async () => {
    const app = env.app();
    const bad = { campaignId: 'seven' };
    await expect(enqueueJob(app, 'campaign-tick', bad)).rejects.toThrow(JobPayloadError);
    await expect(enqueueJob(app, 'campaign-tick', bad)).rejects.toThrow(/"campaign-tick" job's payload does not match its schema/);
    // @ts-expect-error: the compiler refuses a payload of another job, too
    await expect(enqueueJob(app, 'campaign-tick', { recipientIds: ['1'] })).rejects.toThrow(JobPayloadError);
    expect(await app.queues.get(QUEUE_NAMES.campaigns).getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
    await enqueueJob(app, 'campaign-tick', { campaignId: '7' }, { jobId: 'contract-ok' });
    expect(await app.queues.get(QUEUE_NAMES.campaigns).getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('reads a send job’s rows by its schema, old single-row jobs included', () => {
    expect(recipientIdsOf({ recipientIds: ['3', '4'] })).toEqual(['3', '4']);
    expect(recipientIdsOf({ recipientId: '9' })).toEqual(['9']);
    expect(recipientIdsOf({ recipientIds: ['x'] })).toEqual([]);
    expect(recipientIdsOf(null)).toEqual([]);
  });
});
