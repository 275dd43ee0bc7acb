import { createHash } from 'node:crypto';
import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { sendIntervalMs } from './send-gate.js';

/** The send job's name. A send job carries one or a few ledger row ids. */
export const SEND_JOB = 'send-email';

/** Most ledger rows one send job carries. */
export const MAX_SEND_BATCH = 16;

/**
 * The BullMQ limiter lets out one send job per window. A window this long
 * (or the time one message takes, if longer) makes the ~1 ms BullMQ takes
 * to let the next job out after a window ends cost about 1% of the quota.
 */
export const SEND_WINDOW_MS = 100;

/**
 * How many ledger rows one send job carries: as many as the account may send
 * in one 100 ms window, at least one and at most 16 — one below 20 messages a
 * second, 5 at 50, 16 from 160 on. BullMQ's per-job cost (two Lua scripts, a
 * lock, the ~1 ms gap between windows) and the ledger's two statements are
 * shared by the job's rows, and the send gate spaces the rows' SendEmail
 * calls evenly (see send-gate.ts). Every job spans about 100 ms whatever the
 * rate, so a pause still stops sending within a fraction of a second. A
 * process dying mid-job leaves the rows its jobs had claimed in `sending`,
 * failed later as unknown_outcome_after_crash and never resent: with the
 * send gate only those due within CLAIM_LEAD_MS or awaiting SES's answer; at
 * full speed (limiter off) every row of its running jobs, at most
 * MAX_CLAIMED_ROWS. (32 rows a job measured no faster than 16.)
 */
export function sendBatchSize(config: Pick<Config, 'SES_MAX_SEND_RATE'>): number {
  return Math.min(MAX_SEND_BATCH, Math.max(1, Math.floor((config.SES_MAX_SEND_RATE * SEND_WINDOW_MS) / 1000)));
}

/**
 * How long the send queue's limiter window is: the time the send gate takes
 * to let one job's rows out, to the nearest millisecond. With the ~1 ms
 * BullMQ takes to let the next job out after a window ends, jobs start a
 * little slower than the gate sends, so a job's claimed rows rarely wait
 * behind another job's (waiting claimed rows are what a killed process
 * leaves as unknown outcomes). Never shorter than the rows take at the rate
 * itself: the limiter alone keeps the quota on average.
 */
export function sendWindowMs(config: Pick<Config, 'SES_MAX_SEND_RATE'>): number {
  const rows = sendBatchSize(config);
  return Math.max(Math.ceil((1000 * rows) / config.SES_MAX_SEND_RATE), Math.round(rows * sendIntervalMs(config)));
}

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
