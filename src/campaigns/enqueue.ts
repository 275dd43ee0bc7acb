import { createHash } from 'node:crypto';
import type { App } from '../app.js';
import type { Config } from '../config.js';
import { QUEUE_NAMES } from '../queue/names.js';

/** The send job's name. A send job carries one or a few ledger row ids. */
export const SEND_JOB = 'send-email';

/** Most ledger rows one send job carries. */
export const MAX_SEND_BATCH = 16;

/**
 * The BullMQ limiter lets out one send job per window, and the windows are
 * never shorter than this (the rate the limiter was measured to keep).
 */
export const SEND_WINDOW_MS = 20;

/**
 * How many ledger rows one send job carries: as many as the account may send
 * in one 20 ms limiter window, at least one and at most 16. At 50 messages a
 * second or less that is one row per job, each job let out on its own
 * window; from 800 a second on it is 16, so BullMQ's per-job cost (two Lua
 * scripts, a lock) and the ledger's two statements are shared by 16 messages.
 * Every job thus spans about one window whatever the rate, so a pause still
 * stops sending within milliseconds. The cost: a process dying mid-job leaves
 * every row its jobs had claimed in `sending` (at most 48 at 16 rows a job,
 * against 16 with one row a job), failed later as unknown_outcome_after_crash
 * and never resent. (32 rows a job measured no faster than 16.)
 */
export function sendBatchSize(config: Pick<Config, 'SES_MAX_SEND_RATE'>): number {
  return Math.min(MAX_SEND_BATCH, Math.max(1, Math.floor((config.SES_MAX_SEND_RATE * SEND_WINDOW_MS) / 1000)));
}

/**
 * How long the send queue's limiter window is: the time the account's rate
 * takes to send one job's rows (whole milliseconds, rounded up).
 */
export function sendWindowMs(config: Pick<Config, 'SES_MAX_SEND_RATE'>): number {
  return Math.ceil((1000 * sendBatchSize(config)) / config.SES_MAX_SEND_RATE);
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

/** The ledger row ids a send job carries: `{recipientIds}`, or `{recipientId}` from jobs enqueued before batches. */
export function recipientIdsOf(data: unknown): string[] {
  if (typeof data !== 'object' || data === null) return [];
  const record = data as { recipientIds?: unknown; recipientId?: unknown };
  if (Array.isArray(record.recipientIds)) return record.recipientIds.filter((id): id is string => typeof id === 'string');
  return typeof record.recipientId === 'string' ? [record.recipientId] : [];
}
