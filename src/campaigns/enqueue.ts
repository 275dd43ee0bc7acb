import { createHash } from 'node:crypto';
import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { sendBatchSize } from '../pace/pace.js';

/** The send job's name. A send job carries one or a few ledger row ids. */
export const SEND_JOB = 'send-email';

/**
 * The deterministic job id of a send job (BullMQ ignores an add whose id
 * exists): `send-<id>` for one row, and for several the first row, the count
 * and a digest of every id, so the same rows enqueued twice (a tick retried,
 * a resume racing a tick) make one job.
 */
export function sendJobId(recipientIds: readonly string[]): string {
  if (recipientIds.length === 1) return `send-${recipientIds[0]}`;
  const digest = createHash('sha256').update(recipientIds.join(',')).digest('hex').slice(0, 16);
  return `send-${recipientIds[0]}-${recipientIds.length}-${digest}`;
}

/** Groups ledger row ids into send jobs of `sendBatchSize` rows, in the order given. */
export function sendBatches(config: Pick<Config, 'SES_MAX_SEND_RATE'>, recipientIds: readonly string[]): string[][] {
  const size = sendBatchSize(config);
  const batches: string[][] = [];
  for (let start = 0; start < recipientIds.length; start += size) batches.push(recipientIds.slice(start, start + size));
  return batches;
}

const ENQUEUE_CHUNK = 1_000;

/**
 * Adds send jobs for the ledger row ids, `sendBatchSize` rows a job, in
 * chunks; jobs already in the queue are left as they are. Returns the ids of
 * the jobs it asked for.
 */
export async function enqueueSends(app: App, recipientIds: readonly string[]): Promise<string[]> {
  const queue = app.queues.get(QUEUE_NAMES.send);
  const jobs = sendBatches(app.config, recipientIds).map((ids) => ({ name: SEND_JOB, data: { recipientIds: ids }, opts: { jobId: sendJobId(ids) } }));
  for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
    await queue.addBulk(jobs.slice(start, start + ENQUEUE_CHUNK));
  }
  return jobs.map((job) => job.opts.jobId);
}

/**
 * Enqueues send jobs for rows that may have had one before (a resume, a
 * reconcile). A finished job keeps its id for a while (the dashboard's
 * history, DEFAULT_JOB_OPTIONS), and BullMQ ignores an add whose id exists:
 * a finished or failed job with the same id is removed first. Live jobs are
 * left alone.
 */
export async function enqueueSendsAgain(app: App, recipientIds: readonly string[]): Promise<string[]> {
  const queue = app.queues.get(QUEUE_NAMES.send);
  for (const batch of sendBatches(app.config, recipientIds)) {
    const id = sendJobId(batch);
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') await queue.remove(id).catch(() => 0);
  }
  return enqueueSends(app, recipientIds);
}

/** The ledger row ids a send job carries: `{recipientIds}`, or `{recipientId}` from jobs enqueued before batches. */
export function recipientIdsOf(data: unknown): string[] {
  if (typeof data !== 'object' || data === null) return [];
  const record = data as { recipientIds?: unknown; recipientId?: unknown };
  if (Array.isArray(record.recipientIds)) return record.recipientIds.filter((id): id is string => typeof id === 'string');
  return typeof record.recipientId === 'string' ? [record.recipientId] : [];
}
