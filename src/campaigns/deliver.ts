import { Worker } from 'bullmq';
import type { App } from '../app/app.js';
import { recordAudit } from '../audit/audit.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { RenderedMessage } from '../mail/render.js';
import { decideSendPolicy } from '../mail/send-policy.js';
import { sendMessage } from '../mail/send.js';
import { classifySesError, describeSesError, type SesSender } from '../mail/ses-client.js';
import { campaignMessagesTotal } from '../metrics.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { newVerificationTokens } from '../verification/tokens.js';
import { utcDay } from './budget.js';
import { pauseAllCampaigns } from './campaigns.js';
import { claimAll, ineligibilityReason, loadRecipientFacts, type RecipientFacts } from './eligibility.js';
import { finishRow, recordAllSent, releaseToPending, returnToQueue, type SentRecord } from './ledger.js';
import { renderCampaignMessage } from './message.js';
import type { SendGate } from '../pace/send-gate.js';
import { CLAIM_LEAD_MS, THROTTLE_BACKOFF_MS } from '../pace/pace.js';
import { sendSlotsFor } from '../pace/send-slots.js';

/**
 * Sends the messages of a send job's ledger rows (one, or a few at high
 * rates: see sendBatchSize). A claim (queued for today → sending, stamped and
 * committed, only while the campaign runs, a token issued with each) returns
 * what is true of each person now; their eligibility and the send policy are
 * checked on that, then each message goes to SES (at most SEND_SLOTS calls in
 * flight per process). With the send gate, each row is claimed
 * CLAIM_LEAD_MS before the time the gate gives it, leaves at that time, and
 * its MessageId is recorded as SES answers. Without it (the limiter off: a
 * benchmark's full speed) the job claims all its rows in one statement and
 * records them in one at the end. Concurrent claims and records of a
 * process share statements either way (src/db/coalesce.ts).
 *
 * A row that cannot be claimed is looked at to settle it (paused: left
 * queued; cancelled: skipped; another day: back to pending). A row found in
 * `sending` was claimed by a process that died around SendEmail: SES may
 * have taken the message, so it is NOT sent again but failed with
 * `unknown_outcome_after_crash` for an operator to judge (at most one
 * message per person, possibly none).
 *
 * Every row is settled before the job ends: a throttled, failing or stopped
 * send puts its row back to queued, and the job is then retried (or rate
 * limited), its next run claiming only the rows still queued.
 */
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

/**
 * What one job's sends learned that concerns the whole job: SES throttled or
 * stopped the account (send nothing more), or a row needs the job retried.
 */
class JobState {
  stop: 'throttled' | 'account_paused' | undefined;
  retryError: Error | undefined;
  retryCount = 0;
  /** Messages SES took whose MessageIds are not recorded yet. */
  private unrecorded: Array<SentRecord & { campaignId: string }> = [];

  sent(record: SentRecord & { campaignId: string }): void {
    this.unrecorded.push(record);
  }

  /** Takes the unrecorded sends (all, or only row `id`'s) to record them. */
  takeUnrecorded(id?: string): Array<SentRecord & { campaignId: string }> {
    const taken = this.unrecorded.filter((record) => id === undefined || record.id === id);
    this.unrecorded = this.unrecorded.filter((record) => !taken.includes(record));
    return taken;
  }

  retry(error: Error): void {
    this.retryError ??= error;
    this.retryCount += 1;
  }
}

/** Delivers one ledger row (a job of one row); throws to have the job retried (network, 5xx) or rate-limited (429). */
export async function deliverCampaignMessage(app: App, recipientId: string, ctx: DeliveryContext): Promise<DeliveryOutcome> {
  const [outcome] = await deliverCampaignBatch(app, [recipientId], ctx);
  return outcome!;
}

/**
 * Delivers the ledger rows of one send job, returning each row's outcome in
 * the order the rows first appear (a row listed twice is delivered once);
 * throws, once every row is settled, to have the job retried (network, 5xx:
 * with backoff) or rate-limited (429: without spending an attempt).
 */
export async function deliverCampaignBatch(app: App, recipientIds: readonly string[], ctx: DeliveryContext): Promise<DeliveryOutcome[]> {
  const { db, config } = app;
  const now = app.clock();
  const day = utcDay(now);
  // A row listed twice would find itself claimed and be taken for a crashed send.
  const ids = [...new Set(recipientIds)];
  const tokens = newVerificationTokens(ids.length, now, config.VERIFY_TOKEN_TTL_HOURS);
  const requests = ids.map((recipientId, i) => ({ recipientId, day, now, token: tokens[i]! }));
  const job = new JobState();
  const slots = sendSlotsFor(app);
  // With the send gate, one send time per row, in order; each row is claimed
  // only CLAIM_LEAD_MS before its time, so a killed process leaves few rows
  // claimed and unsent (a row found skippable leaves its time unused).
  // Without it (the limiter off: a benchmark's full speed) every row is
  // claimed at once, in one statement.
  const schedule = ctx.gate ? await ctx.gate.reserve(ids.length) : undefined;
  const allClaims = schedule ? undefined : claimAll(db, requests);
  const claimOf = async (i: number): Promise<PromiseSettledResult<RecipientFacts | undefined>> => {
    if (allClaims) return (await allClaims)[i]!;
    const [claim] = await claimAll(db, [requests[i]!]);
    return claim!;
  };

  // allSettled, not all: a row whose bookkeeping fails (the database gone)
  // must not end the job while other rows' sends are in flight and unrecorded.
  const settled = await Promise.allSettled(
    ids.map(async (recipientId, i): Promise<DeliveryOutcome> => {
      if (schedule) {
        await schedule.waitFor(i, CLAIM_LEAD_MS);
        // SES throttled or stopped the account meanwhile: not claimed, still queued.
        if (job.stop !== undefined) return job.stop === 'throttled' ? 'retrying' : 'campaign_paused';
      }
      const claim = await claimOf(i);
      if (claim.status === 'rejected') {
        // The claim statement failed: nothing was claimed, the row is still queued.
        job.retry(asError(claim.reason));
        return 'retrying';
      }
      const facts = claim.value;
      if (!facts) return settleUnclaimable(app, recipientId, now);
      const skipReason = skipReasonOf(facts);
      if (skipReason !== null) {
        // Claimed only to look: nothing was sent.
        if (await finishRow(db, recipientId, 'skipped', skipReason, ['sending'], now)) {
          campaignMessagesTotal.inc({ campaign: facts.campaignId, outcome: 'skipped' });
        }
        return 'skipped';
      }

      await schedule?.waitFor(i);
      const outcome = await slots.run(async (): Promise<DeliveryOutcome> => {
        // Rendered here, as each slot comes free, not all at once: a burst of
        // renders would hold up the replies of the sends in flight.
        let message: RenderedMessage;
        try {
          const recipient = { username: facts.username, email: facts.plannedEmail, projects: facts.projects };
          message = renderCampaignMessage(config, facts.template, recipient, requests[i]!.token);
        } catch (error) {
          // Nothing reached SES: the row may be tried again.
          await returnToQueue(db, recipientId, now, 'retrying: could not prepare the message');
          job.retry(asError(error));
          return 'retrying';
        }
        await schedule?.confirm(i);
        if (job.stop !== undefined) {
          // SES throttled or stopped the account while this row waited: not sent, back to queued.
          await returnToQueue(db, recipientId, now);
          return job.stop === 'throttled' ? 'retrying' : 'campaign_paused';
        }
        try {
          const messageId = await sendMessage(ctx.ses, config, {
            to: facts.plannedEmail,
            message,
            tags: { campaign_id: facts.campaignId, recipient_id: recipientId, kind: 'campaign' },
            // Checked again where the request leaves: a cold SDK's first send
            // can lose tens of milliseconds after the check above.
            beforeWire: schedule ? () => schedule.confirm(i) : undefined,
          });
          job.sent({ id: recipientId, messageId, now: app.clock(), campaignId: facts.campaignId });
          return 'sent';
        } catch (error) {
          return handleSendError(app, recipientId, facts.campaignId, error, ctx, job);
        }
      });
      // Paced sends are recorded one by one as SES answers (concurrent
      // records still share a statement): a killed process then leaves few
      // rows mailed but unrecorded. At full speed the job records them all at
      // once at the end.
      if (schedule && outcome === 'sent') await recordSends(app, job, job.takeUnrecorded(recipientId));
      return outcome;
    }),
  );

  await recordSends(app, job, job.takeUnrecorded());
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  if (job.stop === 'throttled') {
    // The job goes back without spending an attempt; the whole queue waits first.
    await app.queues.get(QUEUE_NAMES.send).rateLimit(THROTTLE_BACKOFF_MS);
    throw Worker.RateLimitError();
  }
  if (job.retryError) {
    const others = job.retryCount > 1 ? ` (and ${job.retryCount - 1} more rows of the job)` : '';
    throw new Error(`${job.retryError.message}${others}`, { cause: job.retryError });
  }
  return settled.map((result) => (result as PromiseFulfilledResult<DeliveryOutcome>).value);
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
async function recordSends(app: App, job: JobState, records: ReadonlyArray<SentRecord & { campaignId: string }>): Promise<void> {
  let pending = records;
  for (const retryInMs of [...RECORD_RETRY_DELAYS_MS, undefined]) {
    if (pending.length === 0) return;
    const recorded = await recordAllSent(app.db, pending);
    const unrecorded: Array<SentRecord & { campaignId: string }> = [];
    recorded.forEach((result, i) => {
      const { id, campaignId, messageId } = pending[i]!;
      if (result.status === 'fulfilled') {
        campaignMessagesTotal.inc({ campaign: campaignId, outcome: 'sent' });
        return;
      }
      if (retryInMs !== undefined && isDatabaseUnavailable(result.reason)) {
        unrecorded.push(pending[i]!);
        return;
      }
      app.log.error({ recipientId: id, messageId, err: result.reason }, 'SES took the message but its MessageId could not be recorded');
      job.retry(new Error(`could not record SES MessageId ${messageId} on ledger row ${id}: ${asError(result.reason).message}`, { cause: result.reason }));
    });
    if (unrecorded.length > 0) {
      app.log.warn({ rows: unrecorded.map((record) => record.id), retryInMs }, 'the database is unreachable; SES MessageIds kept to record them again');
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
    pending = unrecorded;
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** Settles a row whose SendEmail failed; marks the job stopped or to be retried where the error says so. */
async function handleSendError(
  app: App,
  recipientId: string,
  campaignId: string,
  error: unknown,
  ctx: DeliveryContext,
  job: JobState,
): Promise<DeliveryOutcome> {
  const { db } = app;
  const now = app.clock();
  const reason = describeSesError(error);
  switch (classifySesError(error)) {
    case 'throttled':
      // Back to queued; the rest of the job is not sent, and the job goes back to the queue.
      await returnToQueue(db, recipientId, now);
      if (job.stop === undefined) app.log.info({ recipientId }, 'SES throttled the send (429); the send queue backs off');
      job.stop ??= 'throttled';
      return 'retrying';
    case 'rejected':
      await finishRow(db, recipientId, 'failed', reason, ['sending'], now);
      campaignMessagesTotal.inc({ campaign: campaignId, outcome: 'failed' });
      app.log.warn({ recipientId, reason }, 'SES rejected the message; not retrying');
      return 'failed';
    case 'account_paused': {
      await returnToQueue(db, recipientId, now);
      if (job.stop === 'account_paused') return 'campaign_paused';
      job.stop = 'account_paused';
      const why = `SES cannot send (${reason}); resume once the account can send again`;
      const paused = await pauseAllCampaigns(db, why, now);
      await recordAudit(db, { actor: 'campaign', action: 'campaigns.paused', reason: 'ses_sending_paused', details: { campaigns: paused, error: reason } });
      app.log.error({ recipientId, campaigns: paused, reason }, 'SES says the account cannot send: every running campaign is paused');
      return 'campaign_paused';
    }
    case 'transient': {
      const attemptsMade = ctx.attemptsMade ?? 0;
      const lastAttempt = ctx.maxAttempts !== undefined && attemptsMade + 1 >= ctx.maxAttempts;
      if (lastAttempt) {
        await finishRow(db, recipientId, 'failed', `gave up after ${ctx.maxAttempts} attempts: ${reason}`, ['sending'], now);
        campaignMessagesTotal.inc({ campaign: campaignId, outcome: 'failed' });
      } else {
        await returnToQueue(db, recipientId, now, `retrying: ${reason}`);
      }
      job.retry(new Error(`SES send failed for ledger row ${recipientId}: ${reason}`, { cause: error }));
      return lastAttempt ? 'failed' : 'retrying';
    }
  }
}

/** Why the person must not get the message now (eligibility, then the send policy), or null. */
function skipReasonOf(facts: RecipientFacts): string | null {
  const ineligible = ineligibilityReason(facts);
  if (ineligible !== null) return ineligible;
  const policy = decideSendPolicy({
    kind: 'campaign',
    isPrimary: facts.isPrimary,
    verified: facts.verified,
    suppression: facts.suppression,
    userComplained: facts.userComplained,
  });
  return policy.allowed ? null : policy.reason;
}

/** A row the fast path could not claim: find out why and settle it. */
async function settleUnclaimable(app: App, recipientId: string, now: Date): Promise<DeliveryOutcome> {
  const { db } = app;
  const facts = await loadRecipientFacts(db, recipientId);
  if (!facts) return 'missing';
  if (facts.status === 'sending') {
    const marked = await finishRow(db, recipientId, 'failed', 'unknown_outcome_after_crash', ['sending'], now);
    if (marked) app.log.warn({ recipientId }, 'ledger row was left sending by a process that died; SES may have taken it, not resending');
    return 'unknown_outcome';
  }
  if (facts.status !== 'queued') return 'not_queued';
  if (facts.campaignStatus === 'paused' || facts.campaignStatus === 'scheduled' || facts.campaignStatus === 'draft') {
    // Left queued: resuming the campaign enqueues it again.
    return 'campaign_paused';
  }
  if (facts.campaignStatus !== 'running') {
    await finishRow(db, recipientId, 'skipped', `campaign_${facts.campaignStatus}`, ['queued'], now);
    return 'skipped';
  }
  if (facts.sendDay !== utcDay(now)) {
    // Queued against another day's budget: a later tick counts it against its own day.
    await releaseToPending(db, recipientId, now);
    return 'deferred';
  }
  // Queued for today in a running campaign, yet not claimable: its address row is gone.
  await finishRow(db, recipientId, 'skipped', skipReasonOf(facts) ?? 'address_removed', ['queued'], now);
  return 'skipped';
}
