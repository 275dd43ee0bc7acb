import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import { queueJobs, registry } from '../../metrics.js';
import { withTimeout } from '../../queue/timeout.js';

/** The queue states exported as `reverify_queue_jobs{queue,state}`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

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

/** `/metrics`: every reverify metric plus process defaults, in Prometheus text format. */
export async function metricsRoutes(server: FastifyInstance, app: App): Promise<void> {
  server.get('/metrics', async (_request, reply) => {
    await refreshQueueDepths(app);
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
