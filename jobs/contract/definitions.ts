import { z } from 'zod';
import { MAX_SEND_BATCH } from '../../src/pace/pace.js';
import { QUEUE_NAMES, type QueueName } from '../../src/queue/names.js';

/**
 * What producers and consumers of each job agree on: its name, its queue and
 * the zod schema of its payload. Producers enqueue through jobs/contract/client.ts,
 * which checks a payload against the schema before it is added; handlers
 * (jobs/*.ts) parse it again when the job runs, because old jobs outlive deploys.
 */
export interface JobType<Name extends string, Schema extends z.ZodType> {
  readonly name: Name;
  readonly queue: QueueName;
  readonly payload: Schema;
}

function jobType<const Name extends string, Schema extends z.ZodType>(type: JobType<Name, Schema>): JobType<Name, Schema> {
  return type;
}

const ledgerId = z.string().regex(/^\d+$/);

/**
 * The campaign messages of a few ledger rows (src/pace/pace.ts sendBatchSize).
 * Jobs enqueued before batches carried `{recipientId}`; they still run.
 */
export const sendEmail = jobType({
  name: 'send-email',
  queue: QUEUE_NAMES.send,
  payload: z.union([
    z.object({ recipientIds: z.array(ledgerId).min(1).max(MAX_SEND_BATCH) }),
    z.object({ recipientId: ledgerId }).transform(({ recipientId }) => ({ recipientIds: [recipientId] })),
  ]),
});

/** A campaign tick (its scheduler, or the first tick at starts_at). */
export const campaignTick = jobType({
  name: 'campaign-tick',
  queue: QUEUE_NAMES.campaigns,
  payload: z.object({ campaignId: ledgerId }),
});

/** Rebuilds lost send jobs and schedules from the ledger. */
export const reconcile = jobType({
  name: 'reconcile',
  queue: QUEUE_NAMES.maintenance,
  payload: z.object({}).passthrough(),
});

/** The temporary accounts' expiry reminders. */
export const sweepRemind = jobType({
  name: 'sweep-remind',
  queue: QUEUE_NAMES.sweeps,
  payload: z.object({ dryRun: z.boolean().optional() }),
});

/** The temporary accounts' expiry. */
export const sweepExpire = jobType({
  name: 'sweep-expire',
  queue: QUEUE_NAMES.sweeps,
  payload: z.object({ dryRun: z.boolean().optional() }),
});

/** Reads what the SES account allows (GetAccount) and pauses campaigns while it is on PROBATION or SHUTDOWN. */
export const sesAccountCheck = jobType({
  name: 'ses-account-check',
  queue: QUEUE_NAMES.maintenance,
  payload: z.object({}).passthrough(),
});

/** Imports SES's account-level suppression list (ListSuppressedDestinations). */
export const sesSuppressionSync = jobType({
  name: 'ses-suppression-sync',
  queue: QUEUE_NAMES.maintenance,
  payload: z.object({ dryRun: z.boolean().optional() }),
});

/** Every job type, by name. */
export const JOB_TYPES = {
  [sendEmail.name]: sendEmail,
  [campaignTick.name]: campaignTick,
  [reconcile.name]: reconcile,
  [sweepRemind.name]: sweepRemind,
  [sweepExpire.name]: sweepExpire,
  [sesAccountCheck.name]: sesAccountCheck,
  [sesSuppressionSync.name]: sesSuppressionSync,
} as const;

export type JobTypes = typeof JOB_TYPES;
export type JobName = keyof JobTypes;
/** The payload a producer passes for job `N` (the schema's input). */
export type PayloadIn<N extends JobName> = z.input<JobTypes[N]['payload']>;
/** The payload a handler of job `N` receives (the schema's output). */
export type PayloadOut<N extends JobName> = z.output<JobTypes[N]['payload']>;
