import { sesEventsTotal } from '../metrics.js';
import { checkSubscribeUrl } from './cert-url.js';
import type { SnsMessage } from './sns-message.js';
import { recordSubscriptionMessage } from './subscription.js';
import { messageFields, type WebhookContext, type WebhookReply } from './webhook-reply.js';

/**
 * The webhook's step for a verified SubscriptionConfirmation or
 * UnsubscribeConfirmation: confirm a subscription to an allowed topic, never
 * resubscribe on our own, and record either.
 */

/** Confirms a subscription (or notes an unsubscription) and records the message. */
export async function answerSubscription(ctx: WebhookContext, message: SnsMessage): Promise<WebhookReply> {
  const { log, reject } = ctx;
  const fields = messageFields(message);
  if (message.Type === 'UnsubscribeConfirmation') {
    // Never visit its SubscribeURL: that would resubscribe without an operator deciding to.
    log.error(fields, 'SNS unsubscribed this endpoint from the topic: SES events will stop arriving until an operator resubscribes it');
    return record(ctx, message, 'unsubscribed');
  }
  const subscribeUrl = checkSubscribeUrl(message.SubscribeURL ?? '');
  if (!subscribeUrl.ok) return reject('bad_subscribe_url', 403, subscribeUrl.problem, fields);
  try {
    const response = await ctx.fetch(subscribeUrl.url.toString(), { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    return reject('unavailable', 503, `could not confirm the subscription: ${(error as Error).message}`, fields);
  }
  log.warn(fields, 'SNS subscription confirmed');
  return record(ctx, message, 'confirmed');
}

async function record(ctx: WebhookContext, message: SnsMessage, outcome: 'confirmed' | 'unsubscribed'): Promise<WebhookReply> {
  try {
    const fresh = await recordSubscriptionMessage(ctx.db, message, outcome);
    sesEventsTotal.inc({ type: message.Type, outcome: fresh ? outcome : 'duplicate' });
    return { status: 200, body: { status: fresh ? outcome : 'duplicate' } };
  } catch (error) {
    ctx.log.error({ err: error, snsMessageId: message.MessageId }, 'subscription message not stored');
    return ctx.reject('unavailable', 503, 'the database is unavailable; SNS will retry');
  }
}
