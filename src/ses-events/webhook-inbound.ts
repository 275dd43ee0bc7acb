import { inboundRepliesTotal } from '../metrics.js';
import { parseInboundMail } from '../verification/reply/inbound-mail.js';
import { applyInboundReply } from '../verification/reply/confirm-reply.js';
import type { SnsMessage } from './sns-message.js';
import type { WebhookContext, WebhookReply } from './webhook-reply.js';

/**
 * The webhook's step for SES inbound mail (`notificationType: "Received"`,
 * from a receipt rule's SNS action, or the notification of its S3 action): a
 * reply to a verification mail. It went through the same signature, topic
 * and age checks as every notification. A reply that confirms nothing is
 * recorded with its reason and answered 200 all the same: SNS must not retry
 * it. The reply address holds a secret, so no log line names it.
 */

/** Records and applies a verified inbound mail notification, and answers for it. */
export async function applyInboundNotification(ctx: WebhookContext, message: SnsMessage): Promise<WebhookReply> {
  const mail = parseInboundMail(message.Message, ctx.config.REPLY_DOMAIN);
  let result;
  try {
    result = await applyInboundReply(ctx.db, { snsMessageId: message.MessageId, mail, receivedAt: ctx.clock() });
  } catch (error) {
    ctx.log.error({ err: error, snsMessageId: message.MessageId }, 'inbound reply not stored; answering 503 so SNS retries');
    return ctx.reject('unavailable', 503, 'the database is unavailable; SNS will retry');
  }
  inboundRepliesTotal.inc({ outcome: result.duplicate ? 'duplicate' : result.outcome });
  if (result.duplicate) return { status: 200, body: { status: 'duplicate' } };
  const fields = { snsMessageId: message.MessageId, emailId: result.emailId, outcome: result.outcome, reason: result.reason };
  if (result.outcome === 'verified') {
    ctx.log.info(fields, 'address verified by a reply');
    return { status: 200, body: { status: 'processed', outcome: 'verified' } };
  }
  ctx.log.info(fields, 'inbound reply refused: nothing changed');
  return { status: 200, body: { status: 'ignored', outcome: 'refused', reason: result.reason } };
}
