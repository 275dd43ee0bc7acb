import type { JobsOptions } from 'bullmq';
import type { App } from '../../src/app/app.js';
import { JOB_TYPES, type JobName, type PayloadIn } from './definitions.js';

/**
 * The one way jobs are enqueued: by name, with a payload typed by the same
 * zod schema the handler parses, checked before it is added so a producer's
 * mistake fails where it is made instead of in a worker hours later.
 */

/** A payload that does not satisfy its job's schema: a bug in the producer. */
export class JobPayloadError extends Error {
  constructor(name: string, detail: string) {
    super(`a "${name}" job's payload does not match its schema (jobs/contract/definitions.ts): ${detail}`);
    this.name = 'JobPayloadError';
  }
}

function checked<N extends JobName>(name: N, payload: PayloadIn<N>): PayloadIn<N> {
  const result = JOB_TYPES[name].payload.safeParse(payload);
  if (!result.success) throw new JobPayloadError(name, result.error.message);
  return payload;
}

/** Adds one job `name` (an existing job with the same `jobId` is left as it is). */
export async function enqueueJob<N extends JobName>(app: App, name: N, payload: PayloadIn<N>, options?: JobsOptions): Promise<void> {
  await app.queues.get(JOB_TYPES[name].queue).add(name, checked(name, payload), options);
}

/** Adds jobs `name` in one call per chunk of `chunk` (existing ids are left as they are). */
export async function enqueueJobs<N extends JobName>(
  app: App,
  name: N,
  entries: ReadonlyArray<{ payload: PayloadIn<N>; options?: JobsOptions }>,
  chunk = 1_000,
): Promise<void> {
  const queue = app.queues.get(JOB_TYPES[name].queue);
  const jobs = entries.map(({ payload, options }) => ({ name, data: checked(name, payload), opts: options }));
  for (let start = 0; start < jobs.length; start += chunk) await queue.addBulk(jobs.slice(start, start + chunk));
}

/** Registers (or refreshes) scheduler `schedulerId`, which adds job `name` with `payload` on `repeat` (cron, UTC). */
export async function scheduleJob<N extends JobName>(
  app: App,
  name: N,
  schedulerId: string,
  repeat: { pattern: string; startDate?: Date },
  payload: PayloadIn<N>,
): Promise<void> {
  await app.queues.get(JOB_TYPES[name].queue).upsertJobScheduler(schedulerId, { ...repeat, tz: 'UTC' }, { name, data: checked(name, payload) });
}
