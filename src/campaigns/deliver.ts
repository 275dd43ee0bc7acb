import { Worker } from 'bullmq';
import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.js';
import type { RenderedMessage } from '../mail/render.js';
import { decideSendPolicy } from '../mail/send-policy.js';
import { sendMessage } from '../mail/send.js';
import { classifySesError, describeSesError, type SesSender } from '../mail/ses-client.js';
import { campaignMessagesTotal } from '../metrics.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { newVerificationToken } from '../verification/tokens.js';
import { utcDay } from './budget.js';
import { pauseAllCampaigns } from './campaigns.js';
import { claimRecipient, ineligibilityReason, loadRecipientFacts, type RecipientFacts } from './eligibility.js';
import { finishRow, recordSent, releaseToPending, returnToQueue } from './ledger.js';
import { renderCampaignMessage } from './message.js';

/**
 * Sends the message of one ledger row, the body of a send job. One statement
 * claims the row (queued for today → sending, stamped and committed, only
 * while the campaign runs) and returns what is true of the person now; their
 * eligibility and the send policy are checked on that, then the message goes
 * to SES and the MessageId is recorded. A row that cannot be claimed is looked
 * at to settle it (paused: left queued; cancelled: skipped; another day:
 * back to pending). A row found in `sending` was claimed by a process that
 * died around SendEmail: SES may have taken the message, so it is NOT sent
 * again but failed with `unknown_outcome_after_crash` for an operator to
 * judge (at most one message per person, possibly none).
 */
export type DeliveryOutcome =
  | 'sent'
  | 'missing'
  | 'not_queued'
  | 'campaign_paused'
  | 'skipped'
  | 'deferred'
  | 'failed'
  | 'unknown_outcome';

/** How long the whole send queue waits after SES says 429. */
export const THROTTLE_BACKOFF_MS = 1_000;

export interface DeliveryContext {
  ses: SesSender;
  /** Attempts BullMQ has made before this one, and allows in total: the last one fails the row. */
  attemptsMade?: number;
  maxAttempts?: number;
}

/** Delivers ledger row `recipientId`; throws to have the job retried (network, 5xx) or rate-limited (429). */
export async function deliverCampaignMessage(app: App, recipientId: string, ctx: DeliveryContext): Promise<DeliveryOutcome> {
  const { db, config } = app;
  const now = app.clock();
  const token = newVerificationToken(now, config.VERIFY_TOKEN_TTL_HOURS);
  const facts = await claimRecipient(db, { recipientId, day: utcDay(now), now, token });
  if (!facts) return settleUnclaimable(app, recipientId, now);
  const skipReason = skipReasonOf(facts);
  if (skipReason !== null) {
    // Claimed only to look: nothing was sent.
    if (await finishRow(db, recipientId, 'skipped', skipReason, ['sending'], now)) {
      campaignMessagesTotal.inc({ campaign: facts.campaignId, outcome: 'skipped' });
    }
    return 'skipped';
  }

  let message: RenderedMessage;
  try {
    const recipient = { username: facts.username, email: facts.plannedEmail, projects: facts.projects };
    message = renderCampaignMessage(config, facts.template, recipient, token);
  } catch (error) {
    // Nothing reached SES: the row may be tried again.
    await returnToQueue(db, recipientId, now, 'retrying: could not prepare the message');
    throw error;
  }

  let messageId: string;
  try {
    messageId = await sendMessage(ctx.ses, config, {
      to: facts.plannedEmail,
      message,
      tags: { campaign_id: facts.campaignId, recipient_id: recipientId, kind: 'campaign' },
    });
  } catch (error) {
    return handleSendError(app, recipientId, facts.campaignId, error, ctx);
  }
  await recordSent(db, recipientId, messageId, app.clock());
  campaignMessagesTotal.inc({ campaign: facts.campaignId, outcome: 'sent' });
  return 'sent';
}

async function handleSendError(app: App, recipientId: string, campaignId: string, error: unknown, ctx: DeliveryContext): Promise<DeliveryOutcome> {
  const { db } = app;
  const now = app.clock();
  const reason = describeSesError(error);
  switch (classifySesError(error)) {
    case 'throttled':
      // Back to queued, then the whole queue waits; the job goes back without spending an attempt.
      await returnToQueue(db, recipientId, now);
      await app.queues.get(QUEUE_NAMES.send).rateLimit(THROTTLE_BACKOFF_MS);
      app.log.info({ recipientId }, 'SES throttled the send (429); the send queue backs off');
      throw Worker.RateLimitError();
    case 'rejected':
      await finishRow(db, recipientId, 'failed', reason, ['sending'], now);
      campaignMessagesTotal.inc({ campaign: campaignId, outcome: 'failed' });
      app.log.warn({ recipientId, reason }, 'SES rejected the message; not retrying');
      return 'failed';
    case 'account_paused': {
      await returnToQueue(db, recipientId, now);
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
      throw new Error(`SES send failed for ledger row ${recipientId}: ${reason}`, { cause: error });
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
