import type { App } from '../app/app.js';
import type { AnyJob } from './job.js';

/**
 * Upserts the cron schedules jobs declare (sweeps, reconcile) by a fixed id,
 * so registering them again never duplicates them. Returns how many were missing.
 */
export async function registerFixedSchedules(app: App, registry: readonly AnyJob[]): Promise<number> {
  let missing = 0;
  for (const definition of registry) {
    const schedule = definition.schedule?.(app.config);
    if (!schedule) continue;
    const queue = app.queues.get(definition.queue);
    if (!(await queue.getJobScheduler(definition.name))) missing += 1;
    await queue.upsertJobScheduler(definition.name, { pattern: schedule.pattern, tz: 'UTC' }, { name: definition.name, data: schedule.data });
  }
  return missing;
}

/** Whether every fixed schedule is still registered in the queue store. */
async function fixedSchedulesPresent(app: App, registry: readonly AnyJob[]): Promise<boolean> {
  for (const definition of registry) {
    if (!definition.schedule?.(app.config)) continue;
    if (!(await app.queues.get(definition.queue).getJobScheduler(definition.name))) return false;
  }
  return true;
}

/** Whether the schedules are there; a queue store that lost its very tables (PostgreSQL) counts as having lost them. */
async function schedulesReadable(app: App, registry: readonly AnyJob[]): Promise<boolean> {
  try {
    return await fixedSchedulesPresent(app, registry);
  } catch (error) {
    if (app.queueBackend.kind === 'postgres' && (await app.queueBackend.check(2_000)) !== 'ok') return false;
    throw error;
  }
}

/**
 * Schedules live in the queue store, which may lose them (a Redis flush, a
 * failover to an empty replica, a dropped or truncated queue schema). Without this watch the nightly sweep and the scheduled
 * reconcile would silently stop until the next worker restart — and reconcile
 * itself is one of the lost schedules. Every `intervalMs` it checks they are
 * there; when they are not, it registers them again and calls `onLost` (which
 * rebuilds the rest of the queue from the database).
 */
export function watchSchedules(
  app: App,
  registry: readonly AnyJob[],
  onLost: () => Promise<unknown>,
  intervalMs = 60_000,
): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    (async () => {
      if (await schedulesReadable(app, registry)) return;
      app.log.warn({ queues: app.queueBackend.location }, 'job schedules are missing from the queue store (flushed, failed over or dropped?): registering them again and reconciling');
      await app.queueBackend.prepare({ again: true });
      await registerFixedSchedules(app, registry);
      await onLost();
    })()
      .catch((error: unknown) => app.log.warn({ err: error }, 'schedule check failed; trying again at the next interval'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
