import { Worker } from 'bullmq';
import type { App } from '../app/app.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { SesSender } from '../mail/ses-client.js';
import { campaignMessagesTotal } from '../metrics.js';
import { THROTTLE_BACKOFF_MS } from '../pace/pace.js';
import type { SendGate } from '../pace/send-gate.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { recordAllSent, type SentRecord } from './ledger/ledger.js';

/** What became of one ledger row in a send job. */
export type DeliveryOutcome =
  | 'sent'
  | 'missing'
  | 'not_queued'
  | 'campaign_paused'
  | 'skipped'
  | 'deferred'
  | 'retrying'
  | 'failed'
  | 'unknown_outcome';

export interface DeliveryContext {
  ses: SesSender;
  /** Spaces the SendEmail calls across every worker (absent where the limiter is off: a benchmark's full speed). */
  gate?: SendGate;
  /** Attempts BullMQ has made before this one, and allows in total: the last one fails the row. */
  attemptsMade?: number;
  maxAttempts?: number;
}

type Unrecorded = SentRecord & { campaignId: string };

/**
 * What one job's sends learned that concerns the whole job: SES throttled or
 * stopped the account (send nothing more), or a row needs the job retried.
 */
export class JobState {
  stop: 'throttled' | 'account_paused' | undefined;
  retryError: Error | undefined;
  retryCount = 0;
  /** Messages SES took whose MessageIds are not recorded yet. */
  private unrecorded: Unrecorded[] = [];

  sent(record: Unrecorded): void {
    this.unrecorded.push(record);
  }

  /** Takes the unrecorded sends (all, or only row `id`'s) to record them. */
  takeUnrecorded(id?: string): Unrecorded[] {
    const taken = this.unrecorded.filter((record) => id === undefined || record.id === id);
    this.unrecorded = this.unrecorded.filter((record) => !taken.includes(record));
    return taken;
  }

  retry(error: Error): void {
    this.retryError ??= error;
    this.retryCount += 1;
  }

  /** The outcome of a row that was not sent because SES throttled or stopped the account. */
  get stoppedOutcome(): DeliveryOutcome {
    return this.stop === 'throttled' ? 'retrying' : 'campaign_paused';
  }
}

/**
 * How long to wait before each new attempt to record MessageIds the
 * database could not take because it was unreachable (15 s in all). SES
 * took those messages: a row left `sending` would later be failed as an
 * unknown outcome although its MessageId was known. A database restart or
 * failover usually fits; a longer outage ends as before.
 */
export const RECORD_RETRY_DELAYS_MS: readonly number[] = [250, 750, 2_000, 4_000, 8_000];

/**
 * Records sent messages in one statement, trying again while the database
 * is unreachable (RECORD_RETRY_DELAYS_MS). A row whose record still fails
 * (its MessageId already recorded on another row, the database gone for
 * longer) stays `sending`, and the job is retried: the next run finds it
 * there and fails it as `unknown_outcome_after_crash` rather than send it
 * twice.
 */
export async function recordSends(app: App, job: JobState, records: readonly Unrecorded[]): Promise<void> {
  let pending = records;
  for (const retryInMs of [...RECORD_RETRY_DELAYS_MS, undefined]) {
    if (pending.length === 0) return;
    const recorded = await recordAllSent(app.db, pending);
    const unrecorded: Unrecorded[] = [];
    recorded.forEach((result, i) => {
      const { id, campaignId, messageId } = pending[i]!;
      if (result.status === 'fulfilled') {
        campaignMessagesTotal.inc({ campaign: campaignId, outcome: 'sent' });
      } else if (retryInMs !== undefined && isDatabaseUnavailable(result.reason)) {
        unrecorded.push(pending[i]!);
      } else {
        app.log.error({ recipientId: id, messageId, err: result.reason }, 'SES took the message but its MessageId could not be recorded');
        job.retry(new Error(`could not record SES MessageId ${messageId} on ledger row ${id}: ${asError(result.reason).message}`, { cause: result.reason }));
      }
    });
    if (unrecorded.length > 0) {
      app.log.warn({ rows: unrecorded.map((record) => record.id), retryInMs }, 'the database is unreachable; SES MessageIds kept to record them again');
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
    pending = unrecorded;
  }
}

/**
 * Ends a job whose rows are all settled: records what is left, then throws
 * for a row whose bookkeeping failed, rate-limits the queue after a 429 (the
 * job goes back without spending an attempt) or has the job retried.
 */
export async function finishJob(app: App, job: JobState, settled: ReadonlyArray<PromiseSettledResult<DeliveryOutcome>>): Promise<DeliveryOutcome[]> {
  await recordSends(app, job, job.takeUnrecorded());
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  if (job.stop === 'throttled') {
    // The whole queue waits first.
    await app.queues.get(QUEUE_NAMES.send).rateLimit(THROTTLE_BACKOFF_MS);
    throw Worker.RateLimitError();
  }
  if (job.retryError) {
    const others = job.retryCount > 1 ? ` (and ${job.retryCount - 1} more rows of the job)` : '';
    throw new Error(`${job.retryError.message}${others}`, { cause: job.retryError });
  }
  return settled.map((result) => (result as PromiseFulfilledResult<DeliveryOutcome>).value);
}

export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
