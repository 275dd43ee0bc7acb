import type { Kysely } from 'kysely';
import type { Clock } from '../app/app.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { clip, clipFields } from '../echo.js';
import { webhookRejectedTotal } from '../metrics.js';
import type { CertificateStore, FetchLike } from './cert-store.js';

/**
 * What the webhook's steps (verify, subscription, notification) share: the
 * answer they give and the way they refuse, so each step stays a function of
 * its own and the HTTP layer only turns a reply into a response.
 */

export type RejectReason =
  | 'malformed'
  | 'bad_cert_url'
  | 'bad_cert'
  | 'bad_certificate'
  | 'bad_signature_version'
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

/** Counts, logs and answers one refusal. */
export type Reject = (reason: RejectReason, status: number, problem: string, fields?: Record<string, unknown>) => WebhookReply;

/** Everything a step needs, built once per webhook. */
export interface WebhookContext {
  readonly db: Kysely<Database>;
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  readonly certificates: CertificateStore;
  readonly fetch: FetchLike;
  readonly allowedTopics: ReadonlySet<string>;
  readonly reputationGuard: (campaignId: string) => Promise<{ paused: boolean; reason?: string }>;
  readonly reject: Reject;
}

/**
 * A refusal counted by reason and logged at error level when SNS should retry
 * (5xx), warn otherwise. Echoed input is clipped where it is put into the
 * problem (clip()); the problem as a whole is clipped too, as a safety net.
 */
export function rejecter(log: Logger): Reject {
  return (reason, status, problem, fields = {}) => {
    webhookRejectedTotal.inc({ reason });
    const level = status >= 500 ? 'error' : 'warn';
    const said = clip(problem, PROBLEM_LIMIT);
    log[level]({ reason, problem: said, ...clipFields(fields) }, 'SNS message refused');
    return { status, body: { error: said, reason } };
  };
}

/** A problem holds at most a few clipped fields and its own words. */
const PROBLEM_LIMIT = 600;

/** The log fields that identify an SNS message. */
export function messageFields(message: { MessageId: string; TopicArn: string; Type: string }): Record<string, unknown> {
  return clipFields({ snsMessageId: message.MessageId, topicArn: message.TopicArn, type: message.Type });
}
