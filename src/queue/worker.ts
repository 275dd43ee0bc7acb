import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type { App } from '../app/app.js';
import { sendBatchSize, sendWindowMs } from '../campaigns/enqueue.js';
import { SEND_SLOTS } from '../campaigns/send-slots.js';
import type { Config } from '../config.js';
import { jobLogger } from '../logger.js';
import type { WorkerSettings } from './backend.js';
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

/** How many jobs one worker process runs at once, per queue (the send queue: see sendJobConcurrency). */
const CONCURRENCY: Record<Exclude<QueueName, typeof QUEUE_NAMES.send>, number> = {
  [QUEUE_NAMES.campaigns]: 1,
  [QUEUE_NAMES.sweeps]: 1,
  [QUEUE_NAMES.maintenance]: 1,
};

/**
 * Most ledger rows one process's running send jobs hold at once. With the
 * send gate (on wherever the limiter is: everywhere but the sending
 * benchmark) a row is claimed only 25 ms before its send time
 * (CLAIM_LEAD_MS), so far fewer are `sending` at any moment; at full speed a
 * job claims all its rows at once, and these are what a killed process can
 * leave as unknown outcomes.
 */
export const MAX_CLAIMED_ROWS = 80;

/**
 * Send jobs one process runs at once: enough for SEND_SLOTS SendEmail calls
 * in flight, plus four jobs more when jobs carry several rows, so that the
 * slots stay busy while other jobs claim or record their rows — never more
 * rows than MAX_CLAIMED_ROWS. Measured at full speed (16 rows a job, the
 * sending benchmark): under load a claim or a record waits 5–25 ms for the
 * busy event loop, and with two jobs more the jobs fell into step, all
 * between statements at once, leaving the worker's main thread idle 6% of
 * the time; with four more, 3.5%, and 2–6% more messages a second.
 */
export function sendJobConcurrency(config: Pick<Config, 'SES_MAX_SEND_RATE'>): number {
  const batch = sendBatchSize(config);
  if (batch === 1) return SEND_SLOTS;
  return Math.min(Math.ceil(SEND_SLOTS / batch) + 4, Math.floor(MAX_CLAIMED_ROWS / batch));
}

/**
 * The send queue's limiter lives in the queue store (Redis or PostgreSQL), so it caps the whole account's rate
 * however many worker processes run. BullMQ's limiter lets `max` jobs out at
 * the start of each `duration` window; with one 1-second window, two bursts
 * fall inside one sliding second (measured: 99 sends in a second at 50/s),
 * and with `max` > 1 a sliding second can see `rate + max - 1`. One job per
 * window, each window as long as the send gate takes to let its rows out (a
 * job carries `sendBatchSize` rows), lets jobs start at the account's pace;
 * the gate (src/campaigns/send-gate.ts) then spaces the SendEmail calls
 * themselves, which is what keeps every sliding second within the quota.
 */
export function sendLimiter(config: Pick<Config, 'SES_MAX_SEND_RATE'>): { max: number; duration: number } {
  return { max: 1, duration: sendWindowMs(config) };
}

/** Starts one BullMQ worker per queue that has jobs in `registry`, and registers fixed schedules. */
export async function startWorkers(
  app: App,
  registry: readonly AnyJob[],
  options: {
    queues?: readonly QueueName[];
    concurrency?: Partial<Record<QueueName, number>>;
    limiter?: boolean;
    /** Called when the queue store is found to have lost the schedules (see watchSchedules). */
    onSchedulesLost?: () => Promise<unknown>;
    scheduleCheckMs?: number;
  } = {},
): Promise<RunningWorkers> {
  const byName = new Map(registry.map((definition) => [definition.name, definition]));
  const wanted = options.queues ?? ALL_QUEUES;
  const releases: Array<() => Promise<void>> = [];
  const workers: Worker[] = [];
  await app.queueBackend.prepare();

  // Off only where a benchmark measures the send path at full speed: then neither the limiter nor the send gate paces it.
  const rateLimited = options.limiter !== false;
  for (const queueName of wanted) {
    if (!registry.some((definition) => definition.queue === queueName)) continue;
    const settings: WorkerSettings = {
      concurrency: options.concurrency?.[queueName] ?? (queueName === QUEUE_NAMES.send ? sendJobConcurrency(app.config) : CONCURRENCY[queueName]),
      // Jobs of a killed worker come back after 30 s, not never.
      stalledInterval: 30_000,
      maxStalledCount: 5,
    };
    if (queueName === QUEUE_NAMES.send && rateLimited) settings.limiter = sendLimiter(app.config);
    const { worker, release } = app.queueBackend.newWorker(queueName, (job, token) => runJob(app, byName, job, token, rateLimited), settings);
    releases.push(release);
    worker.on('failed', (job, error) => {
      if (job) jobLogger(app.log, job).warn({ err: error, attemptsMade: job.attemptsMade }, 'job failed');
    });
    worker.on('error', (error) => app.log.error({ err: error, queue: queueName }, 'worker error'));
    workers.push(worker);
  }

  await registerFixedSchedules(app, registry);
  const watch = options.onSchedulesLost ? watchSchedules(app, registry, options.onSchedulesLost, options.scheduleCheckMs) : undefined;
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));

  let closing: Promise<void> | undefined;
  return {
    workers,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        watch?.stop();
        // pause() stops taking jobs and resolves once the active ones are done;
        // close(true) then does not wait again. A close() cannot be upgraded to
        // a forced one later, hence this order.
        const drained = Promise.all(workers.map((worker) => worker.pause()));
        const timedOut = await Promise.race([
          drained.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, true).unref()),
        ]);
        if (timedOut) {
          app.log.warn({ timeoutMs }, 'active jobs did not finish in time; closing anyway (they return to the queue as stalled)');
        }
        await Promise.all(workers.map((worker) => worker.close(true)));
        await Promise.all(releases.map((release) => release()));
      })();
      return closing;
    },
  };
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
