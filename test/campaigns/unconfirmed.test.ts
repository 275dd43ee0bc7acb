import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliverCampaignMessage } from '../../src/campaigns/deliver.js';
import { utcDay } from '../../src/campaigns/budget.js';
import { claimRecipients } from '../../src/campaigns/eligibility/claim.js';
import { sendJobId } from '../../src/campaigns/enqueue.js';
import { reconcile } from '../../src/campaigns/reconcile.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import type { AddressEventKind } from '../../src/ses-events/state-machine.js';
import { newStopTokens } from '../../src/verification/stop-tokens.js';
import { newVerificationTokens } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { post, TOPIC, useWebhook } from '../ses-events/helpers.js';
import { campaignForNewPeople, FakeSes } from './helpers.js';

/**
 * A send whose outcome a crash left unknown (SES_SEND_EVENTS=true): the row
 * waits as `unconfirmed`; an SES event for it settles it; with none within
 * UNKNOWN_OUTCOME_WAIT_MINUTES of its claim, reconcile resends it once. The
 * clock is the app's, moved by hand.
 */

const env = useTestEnv();
let nowMs = Date.now();
const clock = () => new Date(nowMs);
const hook = useWebhook(env, { overrides: { SES_SEND_EVENTS: 'true', UNKNOWN_OUTCOME_WAIT_MINUTES: '30' }, clock });
const MINUTE = 60_000;

/** A campaign of one person whose send was claimed (attempt 1) and whose process then died: the row is left `sending`. */
async function crashedSend(prefix: string): Promise<{ campaignId: string; rowId: string; address: string }> {
  nowMs = Date.now();
  const { campaignId, rows } = await campaignForNewPeople(hook.app, prefix, 1, { tick: true });
  const rowId = rows[0]!;
  const [token] = newVerificationTokens(1, clock(), 168);
  const [facts] = await claimRecipients(env.db, [{ recipientId: rowId, day: utcDay(clock()), now: clock(), token: token!, stopToken: newStopTokens(1)[0]! }]);
  expect(facts).toMatchObject({ status: 'sending', attempts: 1 });
  return { campaignId, rowId, address: facts!.plannedEmail };
}

/** The tags the sender puts on a campaign message (src/campaigns/deliver.ts). */
function tagsOf(campaignId: string, rowId: string, attempt: number): Record<string, string> {
  return { campaign_id: campaignId, recipient_id: rowId, kind: 'campaign', attempt: String(attempt) };
}

/** Posts a signed SES event through the real webhook; returns the webhook's answer body. */
async function postEvent(kind: AddressEventKind, to: string, sesMessageId: string, tags: Record<string, string>, snsMessageId = randomUUID()) {
  const message = sampleSesEvent(kind, { to, sesMessageId, tags });
  const reply = await post(hook.server, hook.signer.signedNotification({ topicArn: TOPIC, message, messageId: snsMessageId }));
  expect(reply.statusCode).toBe(200);
  return reply.json<{ status: string; outcome?: string }>();
}

async function ledgerRow(rowId: string) {
  return env.db
    .selectFrom('campaign_recipients')
    .select(['status', 'reason', 'ses_message_id', 'sent_at', 'delivered_at', 'attempts', 'resent_after_attempt', 'late_ses_message_id', 'unconfirmed_at'])
    .where('id', '=', rowId)
    .executeTakeFirstOrThrow();
}

/** The job retried after the crash finds its row `sending`: it must not send, and the row waits. */
async function retriedJobFindsItSending(rowId: string): Promise<void> {
  const ses = new FakeSes();
  expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('unknown_outcome');
  expect(ses.calls).toBe(0);
  expect((await ledgerRow(rowId)).status).toBe('unconfirmed');
}

describe('a send whose outcome a crash left unknown, with SES Send events', () => {
  it('is settled by its Send event: sent with the MessageId SES gave it, counted, and never resent', async () => {
    const { campaignId, rowId, address } = await crashedSend('unc-event');
    await retriedJobFindsItSending(rowId);
    expect((await getCampaignSummary(env.db, campaignId))!.counts).toMatchObject({ unconfirmed: 1, sent: 0 });

    expect(await postEvent('send', address, 'ses-msg-event-1', tagsOf(campaignId, rowId, 1))).toMatchObject({ status: 'processed' });
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'sent', reason: null, ses_message_id: 'ses-msg-event-1', resent_after_attempt: null });
    expect((await ledgerRow(rowId)).sent_at).not.toBeNull();

    nowMs += 31 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 0 });
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('not_queued');
    expect(ses.calls).toBe(0);
    expect((await getCampaignSummary(env.db, campaignId))!.counts).toMatchObject({ unconfirmed: 0, sent: 1, sentTwice: 0 });
  });

  it('is sent at once when its Send event came while it was still sending, before its job was retried', async () => {
    const { campaignId, rowId, address } = await crashedSend('unc-early');
    await postEvent('send', address, 'ses-msg-early', tagsOf(campaignId, rowId, 1));
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('unknown_outcome');
    expect(ses.calls).toBe(0);
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'sent', reason: null, ses_message_id: 'ses-msg-early' });
  });

  it('with no event, waits UNKNOWN_OUTCOME_WAIT_MINUTES after its claim, then is sent once', async () => {
    const { campaignId, rowId } = await crashedSend('unc-none');
    await retriedJobFindsItSending(rowId);
    nowMs += 29 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 0 });
    expect((await ledgerRow(rowId)).status).toBe('unconfirmed');

    nowMs += 2 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 1 });
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'queued', resent_after_attempt: 1 });
    expect(await hook.app.queues.get(QUEUE_NAMES.send).getJob(sendJobId([rowId]))).toBeDefined();

    const ses = new FakeSes();
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('sent');
    expect(ses.accepted).toHaveLength(1);
    expect(ses.accepted[0]!.tags).toEqual(tagsOf(campaignId, rowId, 2));
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'sent', ses_message_id: ses.accepted[0]!.messageId, attempts: 2 });
    nowMs += 40 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 0, unknownOutcome: 0 });
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('not_queued');
    expect(ses.calls).toBe(1);
  });

  it('a Send event for the first message that arrives after the resend records both messages and changes nothing else', async () => {
    const { campaignId, rowId, address } = await crashedSend('unc-late');
    await retriedJobFindsItSending(rowId);
    nowMs += 31 * MINUTE;
    await reconcile(hook.app);
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('sent');
    const resend = ses.accepted[0]!.messageId;

    expect(await postEvent('send', address, 'ses-msg-late-first', tagsOf(campaignId, rowId, 1))).toMatchObject({ status: 'processed' });
    expect(await postEvent('delivery', address, 'ses-msg-late-first', tagsOf(campaignId, rowId, 1))).toMatchObject({ status: 'processed' });
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'sent', ses_message_id: resend, late_ses_message_id: 'ses-msg-late-first', delivered_at: null });
    // The resend's own events still count as usual.
    await postEvent('delivery', address, resend, tagsOf(campaignId, rowId, 2));
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'delivered', ses_message_id: resend, late_ses_message_id: 'ses-msg-late-first' });
    expect((await getCampaignSummary(env.db, campaignId))!.counts).toMatchObject({ sent: 1, delivered: 1, sentTwice: 1, unconfirmed: 0 });
  });

  it('an event that arrives after the wait but before the resend leaves settles the row, and the resend never goes', async () => {
    const { campaignId, rowId, address } = await crashedSend('unc-justlate');
    await retriedJobFindsItSending(rowId);
    nowMs += 31 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 1 });
    await postEvent('send', address, 'ses-msg-just-late', tagsOf(campaignId, rowId, 1));
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'sent', ses_message_id: 'ses-msg-just-late', late_ses_message_id: null });
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(hook.app, rowId, { ses })).toBe('not_queued');
    expect(ses.calls).toBe(0);
  });

  it('takes a duplicate Send once and a Delivery before its Send in its stride', async () => {
    const { campaignId, rowId, address } = await crashedSend('unc-order');
    await retriedJobFindsItSending(rowId);
    const tags = tagsOf(campaignId, rowId, 1);
    expect(await postEvent('delivery', address, 'ses-msg-order', tags)).toMatchObject({ status: 'processed' });
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'delivered', ses_message_id: 'ses-msg-order' });
    const sns = randomUUID();
    await postEvent('send', address, 'ses-msg-order', tags, sns);
    expect(await postEvent('send', address, 'ses-msg-order', tags, sns)).toEqual({ status: 'duplicate' });
    // The same Send again under another SNS id (SES publishing twice) changes nothing either.
    await postEvent('send', address, 'ses-msg-order', tags);
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'delivered', ses_message_id: 'ses-msg-order', late_ses_message_id: null });
    nowMs += 31 * MINUTE;
    expect(await reconcile(hook.app)).toMatchObject({ resentUnconfirmed: 0 });
  });

  it('an event whose tags name a row of another campaign, or no row, changes nothing and is recorded', async () => {
    const mine = await crashedSend('unc-bad');
    await retriedJobFindsItSending(mine.rowId);
    const other = await campaignForNewPeople(hook.app, 'unc-bad-other', 1);
    for (const [tags, id] of [
      [tagsOf(other.campaignId, mine.rowId, 1), 'ses-msg-wrong-campaign'],
      [tagsOf(mine.campaignId, '999999999', 1), 'ses-msg-no-row'],
    ] as const) {
      await postEvent('send', mine.address, id, tags);
      const recorded = await env.db.selectFrom('email_events').select(['event_type', 'outcome']).where('ses_message_id', '=', id).execute();
      expect(recorded).toEqual([{ event_type: 'Send', outcome: 'recorded' }]);
    }
    expect(await ledgerRow(mine.rowId)).toMatchObject({ status: 'unconfirmed', ses_message_id: null, late_ses_message_id: null });
  });
});

describe('a send whose outcome a crash left unknown, without Send events', () => {
  it('is failed as unknown_outcome_after_crash and never resent, however long one waits', async () => {
    const app = env.app({ overrides: { SES_SEND_EVENTS: 'false' }, clock });
    const { campaignId, rowId } = await crashedSend('unc-off');
    const ses = new FakeSes();
    expect(await deliverCampaignMessage(app, rowId, { ses })).toBe('unknown_outcome');
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'failed', reason: 'unknown_outcome_after_crash' });
    nowMs += 24 * 60 * MINUTE;
    expect(await reconcile(app)).toMatchObject({ resentUnconfirmed: 0 });
    expect(await deliverCampaignMessage(app, rowId, { ses })).toBe('not_queued');
    expect(ses.calls).toBe(0);
    expect((await getCampaignSummary(env.db, campaignId))!.counts).toMatchObject({ failed: 1, unconfirmed: 0 });
  });

  it('an unconfirmed row left when Send events are turned off is failed once its wait is over', async () => {
    const { rowId } = await crashedSend('unc-turned-off');
    await retriedJobFindsItSending(rowId);
    const off = env.app({ overrides: { SES_SEND_EVENTS: 'false' }, clock });
    nowMs += 31 * MINUTE;
    expect(await reconcile(off)).toMatchObject({ resentUnconfirmed: 0, unknownOutcome: 1 });
    expect(await ledgerRow(rowId)).toMatchObject({ status: 'failed', reason: 'unknown_outcome_after_crash' });
  });
});

describe('UNKNOWN_OUTCOME_WAIT_MINUTES', () => {
  it('is refused below 5 minutes, saying why', () => {
    const attempt = () => loadConfig(env.env({ UNKNOWN_OUTCOME_WAIT_MINUTES: '4' }));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/UNKNOWN_OUTCOME_WAIT_MINUTES.*at least 5.*Send event/s);
    expect(loadConfig(env.env({ UNKNOWN_OUTCOME_WAIT_MINUTES: '5' })).UNKNOWN_OUTCOME_WAIT_MINUTES).toBe(5);
  });
});
