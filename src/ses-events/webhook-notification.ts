import { addressesUnverifiedTotal, sesEventsTotal } from '../metrics.js';
import type { IngestResult } from './ingest.js';
import { ingestTogether } from './ingest-group.js';
import { parseSesEvent, type SesEvent } from './ses-payload.js';
import { parseSnsTimestamp, type SnsMessage } from './sns-message.js';
import { recordUnstorable } from './subscription.js';
import type { WebhookContext, WebhookReply } from './webhook-reply.js';

/**
 * The webhook's step for a verified Notification: apply the SES event it
 * carries (together with those arriving at the same time: ingest-group.ts),
 * then tell the campaigns' reputation guard about a bounce or complaint. The
 * answer is 2xx only once the event is committed.
 */

/** Applies the SES event of a verified Notification and answers for it. */
export async function applySesNotification(ctx: WebhookContext, message: SnsMessage): Promise<WebhookReply> {
  const parsed = parseSesEvent(message.Message);
  // Event times order the transient bounce count; SNS's own time stands in when SES gave none.
  const event = { ...parsed, occurredAt: parsed.occurredAt ?? parseSnsTimestamp(message.Timestamp) };
  let result;
  try {
    result = await ingestTogether(ctx.db, {
      snsMessageId: message.MessageId,
      topicArn: message.TopicArn,
      event,
      softBounceLimit: ctx.config.SOFT_BOUNCE_LIMIT,
    });
  } catch (error) {
    if (isPoison(error)) return unstorable(ctx, message, parsed.type, error);
    ctx.log.error({ err: error, snsMessageId: message.MessageId }, 'SES event not stored; answering 503 so SNS retries');
    return ctx.reject('unavailable', 503, 'the database is unavailable; SNS will retry');
  }
  sesEventsTotal.inc({ type: event.type, outcome: result.duplicate ? 'duplicate' : result.outcome });
  if (result.duplicate) return { status: 200, body: { status: 'duplicate' } };
  await afterCommit(ctx, message, event, result);
  // Nothing of ours was concerned (an address we do not know, an event type we do not handle): recorded, and said so.
  const ignored = result.outcome.split(',').every((part) => part === 'unknown_address' || part === 'unknown_type');
  return { status: 200, body: { status: ignored ? 'ignored' : 'processed', outcome: result.outcome } };
}

/** Metrics, the log line for unverified addresses, and the reputation guard for a campaign bounce or complaint. */
async function afterCommit(ctx: WebhookContext, message: SnsMessage, event: SesEvent, result: IngestResult): Promise<void> {
  const { log } = ctx;
  for (const { reason } of result.unverified) addressesUnverifiedTotal.inc({ reason });
  if (result.unverified.length > 0) {
    log.info({ snsMessageId: message.MessageId, type: event.type, subType: event.subType, unverified: result.unverified }, 'addresses unverified by SES event');
  }
  if (result.campaignId !== null && (event.kind === 'hard_bounce' || event.kind === 'complaint')) {
    // The event is committed; a guard failure must not turn into a retry of it.
    await ctx.reputationGuard(result.campaignId).then(
      (guard) => guard.paused && log.warn({ campaignId: result.campaignId, reason: guard.reason }, 'campaign paused by the reputation guard'),
      (error: unknown) => log.error({ err: error, campaignId: result.campaignId }, 'reputation guard failed'),
    );
  }
}

/**
 * A genuine message whose contents the database refuses (a data error, not
 * an outage) would fail the same way on every SNS retry: keep a record of
 * it, say so loudly, and answer 200 so SNS stops.
 */
async function unstorable(ctx: WebhookContext, message: SnsMessage, type: string, error: unknown): Promise<WebhookReply> {
  const code = (error as { code?: string }).code ?? 'unknown';
  try {
    await recordUnstorable(ctx.db, message, `${code}: ${(error as Error).message}`);
  } catch (recordError) {
    ctx.log.error({ err: recordError, snsMessageId: message.MessageId }, 'SES event not stored; answering 503 so SNS retries');
    return ctx.reject('unavailable', 503, 'the database is unavailable; SNS will retry');
  }
  ctx.log.error({ err: error, snsMessageId: message.MessageId, type }, 'SES event refused by the database: recorded as unstorable, its effects NOT applied');
  sesEventsTotal.inc({ type, outcome: 'unstorable' });
  return { status: 200, body: { status: 'ignored', outcome: 'unstorable' } };
}

/**
 * PostgreSQL errors about the data itself (data exception, integrity, program
 * limit): retrying cannot help. A unique violation is left out: it can come
 * from a race that a retry resolves.
 */
function isPoison(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code) && code !== '23505';
}
