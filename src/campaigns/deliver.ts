import type { App } from '../app/app.js';
import type { RenderedMessage } from '../mail/render.js';
import { sendMessage } from '../mail/send.js';
import { campaignMessagesTotal } from '../metrics.js';
import { CLAIM_LEAD_MS } from '../pace/pace.js';
import type { SendSchedule } from '../pace/send-gate.js';
import { sendSlotsFor, type Slots } from '../pace/send-slots.js';
import { newStopTokens, stopHeaders, stopUrl, type NewStopToken } from '../verification/stop-tokens.js';
import { replyAddress } from '../verification/reply-secret.js';
import { newVerificationTokens } from '../verification/tokens.js';
import { utcDay } from './budget.js';
import { asError, finishJob, JobState, recordSends, type DeliveryContext, type DeliveryOutcome } from './delivery-job.js';
import { handleSendError, settleUnclaimable, skipReasonOf } from './delivery-outcomes.js';
import { claimAll } from './eligibility/claim.js';
import type { RecipientFacts } from './eligibility/recipient-facts.js';
import { finishRow, returnToQueue } from './ledger/ledger.js';
import { renderCampaignMessage } from './message.js';

export type { DeliveryContext, DeliveryOutcome } from './delivery-job.js';

/**
 * Sends the messages of a send job's ledger rows (one, or a few at high
 * rates: see src/pace/pace.ts), in four steps a row: claim, render, send,
 * record. A claim (queued for today → sending, stamped and committed, only
 * while the campaign runs, a token issued with each) returns what is true
 * of each person now; their eligibility and the send policy are checked on
 * that. With the send gate each row is claimed CLAIM_LEAD_MS before the time
 * the gate gives it, leaves at that time, and its MessageId is recorded as
 * SES answers; without it (a benchmark's full speed) the job claims all its
 * rows in one statement and records them at the end. Concurrent claims and
 * records of a process share statements either way (src/db/coalesce.ts).
 *
 * A row that cannot be claimed is settled by what it is (delivery-outcomes.ts);
 * one found `sending` was claimed by a process that died around SendEmail:
 * with SES_SEND_EVENTS it waits as `unconfirmed` for SES's events (resent
 * once if none comes in time), without them it is failed as
 * `unknown_outcome_after_crash`, never sent again. Every row
 * is settled before the job ends: a throttled, failing or stopped send puts
 * its row back to queued, and the job is retried (or rate limited), its next
 * run claiming only the rows still queued.
 */

/** One send job's rows on their way out. */
interface Batch {
  readonly app: App;
  readonly ctx: DeliveryContext;
  readonly now: Date;
  readonly requests: ReadonlyArray<ClaimRequest>;
  readonly job: JobState;
  readonly slots: Slots;
  /** One send time a row, with the gate. */
  readonly schedule: SendSchedule | undefined;
  claim(i: number): Promise<PromiseSettledResult<RecipientFacts | undefined>>;
}

interface ClaimRequest {
  recipientId: string;
  day: string;
  now: Date;
  token: ReturnType<typeof newVerificationTokens>[number];
  stopToken: NewStopToken;
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
  const batch = await startBatch(app, recipientIds, ctx);
  // allSettled, not all: a row whose bookkeeping fails (the database gone)
  // must not end the job while other rows' sends are in flight and unrecorded.
  const settled = await Promise.allSettled(batch.requests.map((_, i) => deliverRow(batch, i)));
  return finishJob(app, batch.job, settled);
}

/**
 * Reserves the rows' send times and prepares their claims. With the gate,
 * each row is claimed on its own just before its time, so a killed process
 * leaves few rows claimed and unsent (a row found skippable leaves its time
 * unused); without it every row is claimed at once, in one statement.
 */
async function startBatch(app: App, recipientIds: readonly string[], ctx: DeliveryContext): Promise<Batch> {
  const now = app.clock();
  // A row listed twice would find itself claimed and be taken for a crashed send.
  const ids = [...new Set(recipientIds)];
  const tokens = newVerificationTokens(ids.length, now, app.config.VERIFY_TOKEN_TTL_HOURS);
  const stopTokens = newStopTokens(ids.length);
  const requests = ids.map((recipientId, i) => ({ recipientId, day: utcDay(now), now, token: tokens[i]!, stopToken: stopTokens[i]! }));
  const schedule = ctx.gate ? await ctx.gate.reserve(ids.length) : undefined;
  const allClaims = schedule ? undefined : claimAll(app.db, requests);
  const claim = async (i: number) => (allClaims ? (await allClaims)[i]! : (await claimAll(app.db, [requests[i]!]))[0]!);
  return { app, ctx, now, requests, job: new JobState(), slots: sendSlotsFor(app), schedule, claim };
}

/** One row: claim it, then at its time render and send it in a slot, then (paced) record it. */
async function deliverRow(batch: Batch, i: number): Promise<DeliveryOutcome> {
  const claimed = await claimRow(batch, i);
  if (typeof claimed === 'string') return claimed;
  await batch.schedule?.waitFor(i);
  const outcome = await batch.slots.run(() => sendRow(batch, i, claimed));
  // Paced sends are recorded one by one as SES answers (concurrent records
  // still share a statement): a killed process then leaves few rows mailed
  // but unrecorded. At full speed the job records them all at its end.
  if (batch.schedule && outcome === 'sent') await recordSends(batch.app, batch.job, batch.job.takeUnrecorded(batch.requests[i]!.recipientId));
  return outcome;
}

/** Claims row `i` (CLAIM_LEAD_MS before its time, with the gate): what is true of its person, or its outcome when it is not to be sent. */
async function claimRow(batch: Batch, i: number): Promise<RecipientFacts | DeliveryOutcome> {
  const { app, job, now } = batch;
  const { recipientId } = batch.requests[i]!;
  if (batch.schedule) {
    await batch.schedule.waitFor(i, CLAIM_LEAD_MS);
    // SES throttled or stopped the account meanwhile: not claimed, still queued.
    if (job.stop !== undefined) return job.stoppedOutcome;
  }
  const claim = await batch.claim(i);
  if (claim.status === 'rejected') {
    // The claim statement failed: nothing was claimed, the row is still queued.
    job.retry(asError(claim.reason));
    return 'retrying';
  }
  const facts = claim.value;
  if (!facts) return settleUnclaimable(app, recipientId, now);
  const skipReason = skipReasonOf(facts);
  if (skipReason === null) return facts;
  // Claimed only to look: nothing was sent.
  if (await finishRow(app.db, recipientId, 'skipped', skipReason, ['sending'], now)) {
    campaignMessagesTotal.inc({ campaign: facts.campaignId, outcome: 'skipped' });
  }
  return 'skipped';
}

/** Renders row `i`'s message and sends it at its time, holding a send slot. */
async function sendRow(batch: Batch, i: number, facts: RecipientFacts): Promise<DeliveryOutcome> {
  const { app, job, schedule } = batch;
  const { recipientId } = batch.requests[i]!;
  const message = await renderRow(batch, i, facts);
  if (typeof message === 'string') return message;
  await schedule?.confirm(i);
  if (job.stop !== undefined) {
    // SES throttled or stopped the account while this row waited: not sent, back to queued.
    await returnToQueue(app.db, recipientId, batch.now);
    return job.stoppedOutcome;
  }
  try {
    const messageId = await sendMessage(batch.ctx.ses, app.config, {
      to: facts.plannedEmail,
      message,
      // attempt: an SES event for an attempt given up on is told apart from the resend's (ledger-events.ts).
      tags: { campaign_id: facts.campaignId, recipient_id: recipientId, kind: 'campaign', attempt: String(facts.attempts) },
      headers: stopHeaders(stopUrl(app.config.PUBLIC_BASE_URL, batch.requests[i]!.stopToken.token)),
      replyTo: replyAddress(app.config.REPLY_DOMAIN, facts.emailId, batch.requests[i]!.token.replySecret),
      // Checked again where the request leaves: a cold SDK's first send
      // can lose tens of milliseconds after the check above.
      beforeWire: schedule ? () => schedule.confirm(i) : undefined,
    });
    job.sent({ id: recipientId, messageId, now: app.clock(), campaignId: facts.campaignId });
    return 'sent';
  } catch (error) {
    return handleSendError(app, recipientId, facts.campaignId, error, batch.ctx, job);
  }
}

/**
 * Renders row `i`'s message as its slot comes free, not all at once (a burst
 * of renders would hold up the replies of the sends in flight); a message
 * that cannot be rendered puts the row back, since nothing reached SES.
 */
async function renderRow(batch: Batch, i: number, facts: RecipientFacts): Promise<RenderedMessage | DeliveryOutcome> {
  const request = batch.requests[i]!;
  try {
    const recipient = { username: facts.username, email: facts.plannedEmail, projects: facts.projects };
    const replyTo = replyAddress(batch.app.config.REPLY_DOMAIN, facts.emailId, request.token.replySecret);
    return renderCampaignMessage(batch.app.config, facts.template, recipient, { ...request.token, stopToken: request.stopToken.token }, replyTo);
  } catch (error) {
    await returnToQueue(batch.app.db, request.recipientId, batch.now, 'retrying: could not prepare the message');
    batch.job.retry(asError(error));
    return 'retrying';
  }
}
