import type { App } from '../app/app.js';
import { recordAudit } from '../audit/audit.js';
import { decideSendPolicy } from '../mail/send-policy.js';
import { classifySesError, describeSesError } from '../mail/ses-client.js';
import { campaignMessagesTotal } from '../metrics.js';
import { utcDay } from './budget.js';
import { pauseAllCampaigns } from './campaigns.js';
import type { DeliveryContext, DeliveryOutcome, JobState } from './delivery-job.js';
import { ineligibilityReason, loadRecipientFacts, type RecipientFacts } from './eligibility/recipient-facts.js';
import { finishRow, releaseToPending, returnToQueue } from './ledger/ledger.js';
import { markUnconfirmed } from './ledger/unconfirmed.js';

/** How a row that is not sent, or whose send failed, is settled in the ledger. */

/** Settles a row whose SendEmail failed; marks the job stopped or to be retried where the error says so. */
export async function handleSendError(
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
export function skipReasonOf(facts: RecipientFacts): string | null {
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
export async function settleUnclaimable(app: App, recipientId: string, now: Date): Promise<DeliveryOutcome> {
  const { db } = app;
  const facts = await loadRecipientFacts(db, recipientId, now);
  if (!facts) return 'missing';
  if (facts.status === 'sending') {
    if (app.config.SES_SEND_EVENTS) {
      // SES's Send event (or a later one) will say whether it took the message; reconcile resends it if none comes.
      const waiting = await markUnconfirmed(db, recipientId, now);
      if (waiting) app.log.warn({ recipientId }, 'ledger row was left sending by a process that died; waiting for an SES event to say whether SES took it');
      return 'unknown_outcome';
    }
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
