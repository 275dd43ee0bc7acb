import { createHash } from 'node:crypto';
import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import { enqueueJobs } from '../../jobs/contract/client.js';
import { sendEmail } from '../../jobs/contract/definitions.js';
import { sendBatchSize } from '../pace/pace.js';
import { QUEUE_NAMES } from '../queue/names.js';

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

/**
 * Adds send jobs for the ledger row ids, `sendBatchSize` rows a job; jobs
 * already in the queue are left as they are. Returns the ids of the jobs it
 * asked for.
 */
export async function enqueueSends(app: App, recipientIds: readonly string[]): Promise<string[]> {
  const entries = sendBatches(app.config, recipientIds).map((ids) => ({ payload: { recipientIds: ids }, options: { jobId: sendJobId(ids) } }));
  await enqueueJobs(app, sendEmail.name, entries);
  return entries.map((entry) => entry.options.jobId);
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

/** The ledger row ids a send job carries, read by the send job's own schema (none when it does not match). */
export function recipientIdsOf(data: unknown): string[] {
  const parsed = sendEmail.payload.safeParse(data);
  return parsed.success ? parsed.data.recipientIds : [];
}
