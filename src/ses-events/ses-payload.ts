import type { AddressEventKind } from './state-machine.js';

/**
 * Reads the SES event inside an SNS Notification's `Message`, in both shapes
 * SES publishes: identity notifications (`notificationType`) and
 * configuration-set event publishing (`eventType`, whose `mail.tags` carry the
 * campaign and ledger ids the sender set). Anything unexpected becomes an
 * `unknown` event to record, never an exception.
 */

export interface SesEvent {
  /** The type as SES named it (Bounce, Complaint, Delivery, Send, Reject, DeliveryDelay, …) or "Unparseable". */
  readonly type: string;
  readonly kind: AddressEventKind;
  /** Bounce "Permanent/General", complaint feedback type, reject reason, delay type. */
  readonly subType: string | null;
  /** The addresses the event is about, lower-cased, without duplicates. */
  readonly recipients: readonly string[];
  readonly sesMessageId: string | null;
  /** When SES says the event happened. */
  readonly occurredAt: Date | null;
  /** When SES accepted the message. */
  readonly sentAt: Date | null;
  readonly campaignId: string | null;
  readonly recipientId: string | null;
  /** The `attempt` tag: which claim of the ledger row sent the message (null on mail without it). */
  readonly attempt: number | null;
  /** The parsed SES document (or `{ raw }` when it is not JSON). */
  readonly payload: unknown;
  /** `payload` as JSON text for email_events.payload, without what jsonb refuses (NUL, lone surrogates). */
  readonly payloadJson: string;
  /** What support needs to see in the audit row: short, no message content. */
  readonly summary: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** The fields every event has, read from the SES document's `mail` part. */
type EventBase = Pick<SesEvent, 'type' | 'sesMessageId' | 'sentAt' | 'campaignId' | 'recipientId' | 'attempt' | 'payload' | 'payloadJson'>;

/** Parses an SNS Notification's Message into an SES event. Never throws. */
export function parseSesEvent(message: string): SesEvent {
  let document: unknown;
  try {
    document = JSON.parse(message);
  } catch {
    return unknownEvent('Unparseable', { raw: message.slice(0, 4096) });
  }
  if (!isObject(document)) return unknownEvent('Unparseable', { raw: message.slice(0, 4096) });
  // The message text is already the JSON to store (re-serialising costs as much as parsing), unless
  // it escapes characters PostgreSQL refuses (NUL, lone surrogates): only then is it cleaned and rebuilt.
  const payloadJson = message.includes('\\u') ? JSON.stringify(cleanJson(document)) : message;
  return eventOfType(document, baseOf(document, payloadJson));
}

function baseOf(document: Json, payloadJson: string): EventBase {
  const mail = obj(document.mail);
  const tags = obj(mail.tags);
  return {
    type: str(document.eventType) ?? str(document.notificationType) ?? 'Unknown',
    sesMessageId: str(mail.messageId),
    sentAt: date(mail.timestamp),
    campaignId: idTag(tags.campaign_id),
    recipientId: idTag(tags.recipient_id),
    attempt: attemptTag(tags.attempt),
    payload: document,
    payloadJson,
  };
}

/** The kind, sub-type, recipients and time, read from the part of the document the type names. */
function eventOfType(document: Json, base: EventBase): SesEvent {
  const destination = list(obj(document.mail).destination).map(addressOf);
  switch (base.type) {
    case 'Bounce':
      return bounceEvent(base, obj(document.bounce));
    case 'Complaint': {
      const complaint = obj(document.complaint);
      const recipients = list(complaint.complainedRecipients).map((r) => addressOf(obj(r).emailAddress));
      const feedback = str(complaint.complaintFeedbackType) ?? str(complaint.complaintSubType);
      return finish(base, 'complaint', feedback, recipients, date(complaint.timestamp), { feedbackId: str(complaint.feedbackId) });
    }
    case 'Delivery': {
      const delivery = obj(document.delivery);
      return finish(base, 'delivery', null, list(delivery.recipients).map(addressOf), date(delivery.timestamp), {});
    }
    case 'Send':
      return finish(base, 'send', null, destination, base.sentAt, {});
    case 'Reject':
      return finish(base, 'reject', str(obj(document.reject).reason), destination, base.sentAt, {});
    case 'DeliveryDelay': {
      const delay = obj(document.deliveryDelay);
      const delayed = list(delay.delayedRecipients).map((r) => addressOf(obj(r).emailAddress));
      return finish(base, 'delivery_delay', str(delay.delayType), delayed, date(delay.timestamp), {});
    }
    default:
      return finish(base, 'unknown', null, destination, base.sentAt, {});
  }
}

/** Permanent → hard, Transient → soft, anything else undetermined (counted as transient by the state machine). */
function bounceEvent(base: EventBase, bounce: Json): SesEvent {
  const bounceType = str(bounce.bounceType);
  const kind: AddressEventKind = bounceType === 'Permanent' ? 'hard_bounce' : bounceType === 'Transient' ? 'soft_bounce' : 'undetermined_bounce';
  const recipients = list(bounce.bouncedRecipients).map((r) => addressOf(obj(r).emailAddress));
  const diagnostic = list(bounce.bouncedRecipients).map((r) => str(obj(r).diagnosticCode)).find((d) => d !== null) ?? null;
  const subType = `${bounceType ?? 'Undetermined'}/${str(bounce.bounceSubType) ?? 'Undetermined'}`;
  return finish(base, kind, subType, recipients, date(bounce.timestamp), { feedbackId: str(bounce.feedbackId), diagnosticCode: diagnostic });
}

function finish(
  base: EventBase,
  kind: AddressEventKind,
  subType: string | null,
  recipients: Array<string | null>,
  occurredAt: Date | null,
  extra: Record<string, unknown>,
): SesEvent {
  const unique = [...new Set(recipients.filter((r): r is string => r !== null))];
  return {
    ...base,
    kind,
    subType,
    recipients: unique,
    occurredAt: occurredAt ?? base.sentAt,
    summary: {
      eventType: base.type,
      subType,
      sesMessageId: base.sesMessageId,
      occurredAt: (occurredAt ?? base.sentAt)?.toISOString() ?? null,
      campaignId: base.campaignId,
      ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== null)),
    },
  };
}

function unknownEvent(type: string, payload: unknown): SesEvent {
  return {
    type,
    kind: 'unknown',
    subType: null,
    recipients: [],
    sesMessageId: null,
    occurredAt: null,
    sentAt: null,
    campaignId: null,
    recipientId: null,
    attempt: null,
    payload,
    payloadJson: JSON.stringify(cleanJson(payload)),
    summary: { eventType: type },
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown): Json {
  return isObject(value) ? value : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? cleanText(value) : null;
}

/** Drops NUL and replaces lone surrogates: PostgreSQL text and jsonb refuse both. */
function cleanText(value: string): string {
  return value.replaceAll('\u0000', '').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function cleanJson(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (Array.isArray(value)) return value.map(cleanJson);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [cleanText(key), cleanJson(item)]));
  return value;
}

/** An ISO time SES could have meant; anything else (including years PostgreSQL cannot store) is unknown. */
function date(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const parsed = new Date(value);
  const year = parsed.getUTCFullYear();
  return Number.isNaN(parsed.getTime()) || year < 1970 || year > 9999 ? null : parsed;
}

/** "Name <a@b>" or "a@b" → "a@b", lower-cased; null when it is not an address. */
function addressOf(value: unknown): string | null {
  // An address PostgreSQL could not store as it is (NUL, lone surrogate) is nobody's address: never "clean" it into another one.
  if (typeof value !== 'string' || value === '' || cleanText(value) !== value) return null;
  const text = value;
  const bracketed = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text);
  const address = (bracketed?.[1] ?? text).trim().toLowerCase();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  return /^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+$/.test(address) ? address : null;
}

/** A claim number from the `attempt` tag; anything else is ignored. */
function attemptTag(value: unknown): number | null {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && /^\d{1,6}$/.test(first) ? Number(first) : null;
}

/** A bigint id from a tag (tags arrive as arrays of strings); anything else is ignored. */
function idTag(value: unknown): string | null {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && /^\d{1,18}$/.test(first) ? first : null;
}
