import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import { queueJobs, registry } from '../../metrics.js';
import { withTimeout } from '../../queue/timeout.js';
import { refreshAccountMetrics } from '../../ses-account/account-metrics.js';

/** The queue states exported as `reverify_queue_jobs{queue,state}`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

/**
 * Queue gauges are read from the queue store at most this often: a scrape
 * within it reuses the last reading, and concurrent scrapes share one reading
 * in progress, so /metrics costs the store one round of counts per interval
 * however often (or however many at once) it is asked.
 */
export const QUEUE_GAUGE_INTERVAL_MS = 5_000;

/**
 * Reads every queue's job counts into the gauge. Skipped (and the old values
 * dropped) when the queue store does not answer, so a scrape never hangs on it.
 */
async function refreshQueueDepths(app: App): Promise<void> {
  if (!app.queueBackend.isConnected()) {
    queueJobs.reset();
    return;
  }
  try {
    const perQueue = await withTimeout(
      Promise.all(app.queues.all().map(async (queue) => ({ name: queue.name, counts: await queue.getJobCounts(...QUEUE_STATES) }))),
      2_000,
      'queue store',
    );
    for (const { name, counts } of perQueue) {
      for (const state of QUEUE_STATES) queueJobs.set({ queue: name, state }, counts[state] ?? 0);
    }
  } catch (error) {
    app.log.warn({ err: error }, 'could not read queue depths for /metrics');
    queueJobs.reset();
  }
}

interface Reading {
  startedAt: number;
  done: Promise<void>;
}

const readings = new WeakMap<App, Reading>();

/** The current reading of `app`'s queue gauges: the last one if recent or still running, else a new one. */
export function queueGaugesReading(app: App, intervalMs = QUEUE_GAUGE_INTERVAL_MS): Promise<void> {
  const now = Date.now();
  const last = readings.get(app);
  if (last && now - last.startedAt < intervalMs) return last.done;
  const reading: Reading = { startedAt: now, done: refreshQueueDepths(app) };
  readings.set(app, reading);
  return reading.done;
}

/** `/metrics`: every reverify metric plus process defaults, in Prometheus text format. */
export async function metricsRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.get('/metrics', async (_request, reply) => {
    await queueGaugesReading(app);
    await refreshAccountMetrics(app);
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
