import type { Kysely } from 'kysely';
import type { Clock } from '../app/app.js';
import { enforceReputationGuard } from '../campaigns/reputation.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { clip } from '../echo.js';
import type { Logger } from '../logger.js';
import { CertificateStore, type FetchLike } from './cert-store.js';
import { parseSnsMessage } from './sns-message.js';
import { applyInboundNotification } from './webhook-inbound.js';
import { applySesNotification } from './webhook-notification.js';
import { isReceivedNotification } from '../verification/reply/inbound-mail.js';
import { rejecter, type RejectReason, type WebhookContext, type WebhookReply } from './webhook-reply.js';
import { answerSubscription } from './webhook-subscription.js';
import { verifySnsMessage } from './webhook-verify.js';

/**
 * The SNS endpoint's decisions, independent of HTTP: who is refused and with
 * which status, and what a genuine message does. Status codes follow the
 * contract: 200 processed/duplicate/ignored, 400 malformed, 403 forged or
 * not ours (signature, topic, age, certificate URL), 503 when the database or
 * the certificate fetch is down, so SNS retries. The steps live beside it:
 * webhook-verify.ts, webhook-subscription.ts, webhook-notification.ts.
 */

export type { RejectReason, WebhookReply } from './webhook-reply.js';

export interface SnsWebhookOptions {
  readonly db: Kysely<Database>;
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  /** Certificate cache; defaults to one over SNS_CERT_CACHE_DIR using `fetch`. */
  readonly certificates?: CertificateStore;
  /** Used for certificate downloads and subscription confirmations; global fetch by default. */
  readonly fetch?: FetchLike;
  /** Called after a committed campaign bounce or complaint; the campaigns' reputation guard by default. */
  readonly reputationGuard?: (campaignId: string) => Promise<{ paused: boolean; reason?: string }>;
}

export interface SnsWebhook {
  readonly certificates: CertificateStore;
  handle(request: { messageTypeHeader: string | undefined; body: string }): Promise<WebhookReply>;
  /** Counts and answers a refusal decided outside `handle` (the HTTP layer's body limit). */
  reject(reason: RejectReason, status: number, problem: string): WebhookReply;
}

/** Builds the webhook over the App's database, configuration and logger. */
export function createSnsWebhook(options: SnsWebhookOptions): SnsWebhook {
  const ctx = webhookContext(options);
  return {
    certificates: ctx.certificates,
    reject: (reason, status, problem) => ctx.reject(reason, status, problem),
    handle: (request) => handleSnsRequest(ctx, request),
  };
}

/** Parse, verify, then the step for the message's type. */
async function handleSnsRequest(ctx: WebhookContext, { messageTypeHeader, body }: { messageTypeHeader: string | undefined; body: string }): Promise<WebhookReply> {
  const parsed = parseSnsMessage(body);
  if (!parsed.ok) return ctx.reject('malformed', 400, parsed.problem);
  const message = parsed.message;
  if (messageTypeHeader !== message.Type) {
    return ctx.reject('malformed', 400, `x-amz-sns-message-type header (${clip(messageTypeHeader ?? 'missing')}) does not match the body's Type (${message.Type})`);
  }
  const refused = await verifySnsMessage(ctx, message);
  if (refused) return refused;
  if (message.Type !== 'Notification') return answerSubscription(ctx, message);
  // SES inbound mail (a reply to a verification mail) rather than a sending event.
  return isReceivedNotification(message.Message) ? applyInboundNotification(ctx, message) : applySesNotification(ctx, message);
}

function webhookContext(options: SnsWebhookOptions): WebhookContext {
  const { db, config, log, clock } = options;
  const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike);
  const certificates =
    options.certificates ??
    new CertificateStore({
      cacheDir: config.SNS_CERT_CACHE_DIR,
      fetch: fetchImpl,
      onCacheWriteError: (error) => log.warn({ err: error, dir: config.SNS_CERT_CACHE_DIR }, 'cannot write the SNS certificate cache; using the certificate from memory'),
    });
  return {
    db,
    config,
    log,
    clock,
    certificates,
    fetch: fetchImpl,
    allowedTopics: new Set(config.SNS_TOPIC_ARNS),
    reputationGuard: options.reputationGuard ?? ((campaignId: string) => enforceReputationGuard(db, config, campaignId)),
    reject: rejecter(log),
  };
}
