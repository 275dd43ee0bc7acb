import { clip } from '../echo.js';

/**
 * The SNS HTTP message envelope: parsed from the request body text and
 * checked for shape before anything trusts it. Nothing here is verified yet;
 * sns-signature.ts does that.
 */

export const SNS_MESSAGE_TYPES = ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const;
export type SnsMessageType = (typeof SNS_MESSAGE_TYPES)[number];

export interface SnsMessage {
  readonly Type: SnsMessageType;
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Timestamp: string;
  readonly SignatureVersion: '1' | '2';
  readonly Signature: string;
  readonly SigningCertURL: string;
  readonly Subject?: string;
  /** Subscription messages only. */
  readonly Token?: string;
  readonly SubscribeURL?: string;
  readonly UnsubscribeURL?: string;
}

export type ParseResult = { ok: true; message: SnsMessage } | { ok: false; problem: string };

const REQUIRED = ['Type', 'MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL'] as const;
const OPTIONAL = ['Subject', 'Token', 'SubscribeURL', 'UnsubscribeURL'] as const;

/** Parses a request body into an SNS message, or says what is wrong with it. */
export function parseSnsMessage(body: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'body is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'body is not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  for (const field of REQUIRED) {
    if (typeof record[field] !== 'string' || record[field] === '') return { ok: false, problem: `${field} is missing or not a string` };
  }
  for (const field of OPTIONAL) {
    if (record[field] !== undefined && record[field] !== null && typeof record[field] !== 'string') {
      return { ok: false, problem: `${field} is not a string` };
    }
  }
  // eslint-disable-next-line no-control-regex -- a genuine SNS MessageId is a UUID; control characters mean forgery
  if (/[\u0000-\u001f]/.test(record.MessageId as string)) return { ok: false, problem: 'MessageId contains control characters' };
  const type = record.Type as string;
  if (!(SNS_MESSAGE_TYPES as readonly string[]).includes(type)) return { ok: false, problem: `Type ${clip(JSON.stringify(type))} is not an SNS message type` };
  if (record.SignatureVersion !== '1' && record.SignatureVersion !== '2') {
    return { ok: false, problem: 'SignatureVersion must be "1" or "2"' };
  }
  if (type !== 'Notification' && (typeof record.Token !== 'string' || typeof record.SubscribeURL !== 'string')) {
    return { ok: false, problem: `${type} needs Token and SubscribeURL` };
  }
  if (parseSnsTimestamp(record.Timestamp as string) === null) return { ok: false, problem: 'Timestamp is not an ISO 8601 time' };
  return { ok: true, message: record as unknown as SnsMessage };
}

/** The instant an SNS Timestamp names, or null when it is not an ISO 8601 UTC time. */
export function parseSnsTimestamp(value: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
