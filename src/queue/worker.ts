import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type { App } from '../app/app.js';
import { jobLogger } from '../logger.js';
import type { Processor, WorkerSettings } from './backend.js';
import type { AnyJob } from './job.js';
import { ALL_QUEUES, QUEUE_NAMES, type QueueName } from './names.js';
import { registerFixedSchedules, watchSchedules } from './schedules.js';

export interface RunningWorkers {
  readonly workers: readonly Worker[];
  /**
   * Stops taking jobs, lets active ones finish for up to `timeoutMs`, then
   * forces the rest (they go back to the queue as stalled and run again) and
   * closes every connection.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** A queue's limiter: at most `max` jobs start per `duration` ms, across every worker. */
export interface Limiter {
  max: number;
  duration: number;
}

export interface WorkerOptions {
  queues?: readonly QueueName[];
  /** Jobs one process runs at once, per queue (default 1). */
  concurrency?: Partial<Record<QueueName, number>>;
  /** Limiters by queue (the send queue's pace: src/pace/pace.ts); a queue without one is not limited. */
  limiters?: Partial<Record<QueueName, Limiter>>;
  /** Called when the queue store is found to have lost the schedules (see watchSchedules). */
  onSchedulesLost?: () => Promise<unknown>;
  scheduleCheckMs?: number;
}

/** Starts one BullMQ worker per queue that has jobs in `registry`, and registers fixed schedules. */
export async function startWorkers(app: App, registry: readonly AnyJob[], options: WorkerOptions = {}): Promise<RunningWorkers> {
  const byName = new Map(registry.map((definition) => [definition.name, definition]));
  await app.queueBackend.prepare();
  // Unlimited only where a benchmark measures the send path at full speed: then the send gate does not pace it either.
  const rateLimited = options.limiters?.[QUEUE_NAMES.send] !== undefined;
  const started = (options.queues ?? ALL_QUEUES)
    .filter((queueName) => registry.some((definition) => definition.queue === queueName))
    .map((queueName) => startQueueWorker(app, queueName, options, (job, token) => runJob(app, byName, job, token, rateLimited)));

  await registerFixedSchedules(app, registry);
  const watch = options.onSchedulesLost ? watchSchedules(app, registry, options.onSchedulesLost, options.scheduleCheckMs) : undefined;
  const workers = started.map(({ worker }) => worker);
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));

  let closing: Promise<void> | undefined;
  return {
    workers,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        watch?.stop();
        await closeWorkers(app, workers, timeoutMs);
        await Promise.all(started.map(({ release }) => release()));
      })();
      return closing;
    },
  };
}

/** One queue's worker, logging its failed jobs and errors. */
function startQueueWorker(app: App, queueName: QueueName, options: WorkerOptions, processor: Processor) {
  const settings: WorkerSettings = {
    concurrency: options.concurrency?.[queueName] ?? 1,
    // Jobs of a killed worker come back after 30 s, not never.
    stalledInterval: 30_000,
    maxStalledCount: 5,
    limiter: options.limiters?.[queueName],
  };
  const started = app.queueBackend.newWorker(queueName, processor, settings);
  started.worker.on('failed', (job, error) => {
    if (job) jobLogger(app.log, job).warn({ err: error, attemptsMade: job.attemptsMade }, 'job failed');
  });
  started.worker.on('error', (error) => app.log.error({ err: error, queue: queueName }, 'worker error'));
  return started;
}

/**
 * Stops taking jobs and lets active ones finish for up to `timeoutMs`, then
 * closes the workers anyway. pause() resolves once the active jobs are done
 * and close(true) then does not wait again; a close() cannot be upgraded to
 * a forced one later, hence this order.
 */
async function closeWorkers(app: App, workers: readonly Worker[], timeoutMs: number): Promise<void> {
  const drained = Promise.all(workers.map((worker) => worker.pause()));
  const timedOut = await Promise.race([
    drained.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, true).unref()),
  ]);
  if (timedOut) app.log.warn({ timeoutMs }, 'active jobs did not finish in time; closing anyway (they return to the queue as stalled)');
  await Promise.all(workers.map((worker) => worker.close(true)));
}

async function runJob(app: App, byName: Map<string, AnyJob>, job: Job, token: string | undefined, rateLimited: boolean) {
  const log = jobLogger(app.log, job);
  const definition = byName.get(job.name);
  if (!definition) throw new UnrecoverableError(`no job named "${job.name}" is registered on this worker`);
  const parsed = definition.payload.safeParse(job.data);
  if (!parsed.success) {
    log.error({ issues: parsed.error.issues }, 'job payload is malformed; not retrying');
    throw new UnrecoverableError(`malformed payload for ${job.name}: ${parsed.error.message}`);
  }
  const started = Date.now();
  const result = await definition.handle(parsed.data, { app, job, log, token, rateLimited });
  log.debug({ ms: Date.now() - started }, 'job done');
  return result;
}
