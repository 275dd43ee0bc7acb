import type { Kysely } from 'kysely';
import type { Clock } from '../app/app.js';
import { enforceReputationGuard } from '../campaigns/reputation.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { addressesUnverifiedTotal, sesEventsTotal, webhookRejectedTotal } from '../metrics.js';
import { CertificateStore, CertificateUnavailableError, type FetchLike } from './cert-store.js';
import { checkSigningCertUrl, checkSubscribeUrl } from './cert-url.js';
import { ingestNotification } from './ingest.js';
import { parseSesEvent } from './ses-payload.js';
import { parseSnsMessage, parseSnsTimestamp, type SnsMessage } from './sns-message.js';
import { verifySnsSignature } from './sns-signature.js';
import { recordSubscriptionMessage, recordUnstorable } from './subscription.js';

/**
 * The SNS endpoint's decisions, independent of HTTP: who is refused and with
 * which status, and what a genuine message does. Status codes follow the
 * contract: 200 processed/duplicate/ignored, 400 malformed, 403 forged or
 * not ours (signature, topic, age, certificate URL), 503 when the database or
 * the certificate fetch is down, so SNS retries.
 */

/** SNS timestamps this far ahead of our clock are refused too (clock skew allowance). */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export type RejectReason =
  | 'malformed'
  | 'bad_cert_url'
  | 'bad_certificate'
  | 'bad_topic'
  | 'stale'
  | 'bad_signature'
  | 'bad_subscribe_url'
  | 'unavailable'
  | 'too_large';

export interface WebhookReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

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
  const { db, config, log, clock } = options;
  const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike);
  const certificates =
    options.certificates ??
    new CertificateStore({
      cacheDir: config.SNS_CERT_CACHE_DIR,
      fetch: fetchImpl,
      onCacheWriteError: (error) => log.warn({ err: error, dir: config.SNS_CERT_CACHE_DIR }, 'cannot write the SNS certificate cache; using the certificate from memory'),
    });
  const allowedTopics = new Set(config.SNS_TOPIC_ARNS);
  const reputationGuard = options.reputationGuard ?? ((campaignId: string) => enforceReputationGuard(db, config, campaignId));

  const reject = (reason: RejectReason, status: number, problem: string, fields: Record<string, unknown> = {}): WebhookReply => {
    webhookRejectedTotal.inc({ reason });
    const level = status >= 500 ? 'error' : 'warn';
    log[level]({ reason, problem, ...fields }, 'SNS message refused');
    return { status, body: { error: problem, reason } };
  };

  async function verify(message: SnsMessage): Promise<WebhookReply | null> {
    const fields = { snsMessageId: message.MessageId, topicArn: message.TopicArn, type: message.Type };
    const certUrl = checkSigningCertUrl(message.SigningCertURL);
    if (!certUrl.ok) return reject('bad_cert_url', 403, certUrl.problem, fields);
    if (!allowedTopics.has(message.TopicArn)) return reject('bad_topic', 403, `TopicArn ${message.TopicArn} is not in SNS_TOPIC_ARNS`, fields);
    const sentAt = parseSnsTimestamp(message.Timestamp) as Date;
    const ageMs = clock().getTime() - sentAt.getTime();
    if (ageMs > config.SNS_MAX_AGE_SECONDS * 1000) {
      return reject('stale', 403, `Timestamp ${message.Timestamp} is older than SNS_MAX_AGE_SECONDS (${config.SNS_MAX_AGE_SECONDS})`, fields);
    }
    if (ageMs < -MAX_FUTURE_SKEW_MS) return reject('stale', 403, `Timestamp ${message.Timestamp} is in the future`, fields);
    let certificate;
    try {
      certificate = await certificates.certificate(message.SigningCertURL);
    } catch (error) {
      if (error instanceof CertificateUnavailableError) return reject('unavailable', 503, error.message, fields);
      throw error;
    }
    // The key must have been valid when SNS signed: an expired (or not yet
    // valid) certificate's key proves nothing, however the signature checks.
    if (sentAt < certificate.validFrom || sentAt > certificate.validTo) {
      const period = `${certificate.validFrom.toISOString()} to ${certificate.validTo.toISOString()}`;
      return reject('bad_certificate', 403, `the SigningCertURL certificate was not valid at the message's Timestamp ${message.Timestamp} (valid ${period})`, fields);
    }
    if (!verifySnsSignature(message, certificate.key)) return reject('bad_signature', 403, 'Signature does not match the message and its SigningCertURL', fields);
    return null;
  }

  async function notification(message: SnsMessage): Promise<WebhookReply> {
    const parsed = parseSesEvent(message.Message);
    // Event times order the transient bounce count; SNS's own time stands in when SES gave none.
    const event = { ...parsed, occurredAt: parsed.occurredAt ?? parseSnsTimestamp(message.Timestamp) };
    let result;
    try {
      result = await ingestNotification(db, {
        snsMessageId: message.MessageId,
        topicArn: message.TopicArn,
        event,
        softBounceLimit: config.SOFT_BOUNCE_LIMIT,
      });
    } catch (error) {
      if (isPoison(error)) return unstorable(message, parsed.type, error);
      log.error({ err: error, snsMessageId: message.MessageId }, 'SES event not stored; answering 503 so SNS retries');
      return reject('unavailable', 503, 'the database is unavailable; SNS will retry');
    }
    sesEventsTotal.inc({ type: event.type, outcome: result.duplicate ? 'duplicate' : result.outcome });
    if (result.duplicate) return { status: 200, body: { status: 'duplicate' } };
    for (const { reason } of result.unverified) addressesUnverifiedTotal.inc({ reason });
    if (result.unverified.length > 0) {
      log.info({ snsMessageId: message.MessageId, type: event.type, subType: event.subType, unverified: result.unverified }, 'addresses unverified by SES event');
    }
    if (result.campaignId !== null && (event.kind === 'hard_bounce' || event.kind === 'complaint')) {
      // The event is committed; a guard failure must not turn into a retry of it.
      await reputationGuard(result.campaignId).then(
        (guard) => guard.paused && log.warn({ campaignId: result.campaignId, reason: guard.reason }, 'campaign paused by the reputation guard'),
        (error: unknown) => log.error({ err: error, campaignId: result.campaignId }, 'reputation guard failed'),
      );
    }
    // Nothing of ours was concerned (an address we do not know, an event type we do not handle): recorded, and said so.
    const ignored = result.outcome.split(',').every((part) => part === 'unknown_address' || part === 'unknown_type');
    return { status: 200, body: { status: ignored ? 'ignored' : 'processed', outcome: result.outcome } };
  }

  /**
   * A genuine message whose contents the database refuses (a data error, not
   * an outage) would fail the same way on every SNS retry: keep a record of
   * it, say so loudly, and answer 200 so SNS stops.
   */
  async function unstorable(message: SnsMessage, type: string, error: unknown): Promise<WebhookReply> {
    const code = (error as { code?: string }).code ?? 'unknown';
    try {
      await recordUnstorable(db, message, `${code}: ${(error as Error).message}`);
    } catch (recordError) {
      log.error({ err: recordError, snsMessageId: message.MessageId }, 'SES event not stored; answering 503 so SNS retries');
      return reject('unavailable', 503, 'the database is unavailable; SNS will retry');
    }
    log.error({ err: error, snsMessageId: message.MessageId, type }, 'SES event refused by the database: recorded as unstorable, its effects NOT applied');
    sesEventsTotal.inc({ type, outcome: 'unstorable' });
    return { status: 200, body: { status: 'ignored', outcome: 'unstorable' } };
  }

  async function subscription(message: SnsMessage): Promise<WebhookReply> {
    const fields = { snsMessageId: message.MessageId, topicArn: message.TopicArn, type: message.Type };
    if (message.Type === 'UnsubscribeConfirmation') {
      // Never visit its SubscribeURL: that would resubscribe without an operator deciding to.
      log.error(fields, 'SNS unsubscribed this endpoint from the topic: SES events will stop arriving until an operator resubscribes it');
      return record(message, 'unsubscribed');
    }
    const subscribeUrl = checkSubscribeUrl(message.SubscribeURL ?? '');
    if (!subscribeUrl.ok) return reject('bad_subscribe_url', 403, subscribeUrl.problem, fields);
    try {
      const response = await fetchImpl(subscribeUrl.url.toString(), { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      return reject('unavailable', 503, `could not confirm the subscription: ${(error as Error).message}`, fields);
    }
    log.warn(fields, 'SNS subscription confirmed');
    return record(message, 'confirmed');
  }

  async function record(message: SnsMessage, outcome: 'confirmed' | 'unsubscribed'): Promise<WebhookReply> {
    try {
      const fresh = await recordSubscriptionMessage(db, message, outcome);
      sesEventsTotal.inc({ type: message.Type, outcome: fresh ? outcome : 'duplicate' });
      return { status: 200, body: { status: fresh ? outcome : 'duplicate' } };
    } catch (error) {
      log.error({ err: error, snsMessageId: message.MessageId }, 'subscription message not stored');
      return reject('unavailable', 503, 'the database is unavailable; SNS will retry');
    }
  }

  return {
    certificates,
    reject: (reason, status, problem) => reject(reason, status, problem),
    async handle({ messageTypeHeader, body }) {
      const parsed = parseSnsMessage(body);
      if (!parsed.ok) return reject('malformed', 400, parsed.problem);
      const message = parsed.message;
      if (messageTypeHeader !== message.Type) {
        return reject('malformed', 400, `x-amz-sns-message-type header (${messageTypeHeader ?? 'missing'}) does not match the body's Type (${message.Type})`);
      }
      const refused = await verify(message);
      if (refused) return refused;
      return message.Type === 'Notification' ? notification(message) : subscription(message);
    },
  };
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
