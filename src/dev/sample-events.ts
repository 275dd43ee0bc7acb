import { randomUUID } from 'node:crypto';
import type { AddressEventKind } from '../ses-events/state-machine.js';

/**
 * SES event documents as SES publishes them, for the SNS signer's users
 * (sns-signer.ts): tests, the benchmark, the chaos suite and the `reverify
 * dev` SES event simulator. Each kind of the state machine has one
 * representative document.
 */

export interface SampleEventOptions {
  /** Recipient address(es) the event is about. */
  readonly to: string | readonly string[];
  /** The SES message id (mail.messageId); random by default. */
  readonly sesMessageId?: string;
  /** When the event happened; now by default. */
  readonly at?: Date;
  /** `event` = configuration-set event publishing (eventType, mail.tags); `notification` = identity notifications. */
  readonly shape?: 'event' | 'notification';
  /** mail.tags, e.g. { campaign_id: '3', recipient_id: '17', kind: 'campaign' } (event shape only). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Bounce sub-type or complaint feedback type instead of the default. */
  readonly subType?: string;
  readonly from?: string;
}

/** The SES document (the SNS Message) for one event kind, as a JSON string. */
export function sampleSesEvent(kind: AddressEventKind, options: SampleEventOptions): string {
  const recipients = typeof options.to === 'string' ? [options.to] : [...options.to];
  const at = (options.at ?? new Date()).toISOString();
  const shape = options.shape ?? 'event';
  const mail = sampleMail(recipients, at, shape, options);
  const [type, body] = sampleBody(kind, recipients, at, options.subType);
  const typeField = shape === 'event' ? { eventType: type } : { notificationType: type };
  return JSON.stringify({ ...typeField, mail, ...body });
}

/** The `mail` part every SES document has; tags only in the event-publishing shape. */
function sampleMail(recipients: string[], at: string, shape: 'event' | 'notification', options: SampleEventOptions): Record<string, unknown> {
  const mail: Record<string, unknown> = {
    timestamp: at,
    messageId: options.sesMessageId ?? `0100${randomUUID().replace(/-/g, '')}-000000`,
    source: options.from ?? 'noreply@example.org',
    sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/example.org',
    sendingAccountId: '123456789012',
    destination: recipients,
    headersTruncated: false,
    commonHeaders: { from: [options.from ?? 'noreply@example.org'], to: recipients, subject: 'Please verify your email address' },
  };
  if (shape === 'event') {
    mail.tags = Object.fromEntries(Object.entries(options.tags ?? {}).map(([name, value]) => [name, [value]]));
  }
  return mail;
}

/** The SES type name and the document part it names, for one event kind. */
function sampleBody(kind: AddressEventKind, recipients: string[], at: string, subType: string | undefined): [string, Record<string, unknown>] {
  switch (kind) {
    case 'hard_bounce':
      return ['Bounce', { bounce: sampleBounce('Permanent', subType ?? 'General', recipients, at) }];
    case 'soft_bounce':
      return ['Bounce', { bounce: sampleBounce('Transient', subType ?? 'MailboxFull', recipients, at) }];
    case 'undetermined_bounce':
      return ['Bounce', { bounce: sampleBounce('Undetermined', subType ?? 'Undetermined', recipients, at) }];
    case 'complaint':
      return ['Complaint', { complaint: sampleComplaint(recipients, at, subType) }];
    case 'delivery':
      return ['Delivery', { delivery: { timestamp: at, processingTimeMillis: 512, recipients, smtpResponse: '250 ok', reportingMTA: 'a8-70.smtp-out.amazonses.com' } }];
    case 'send':
      return ['Send', { send: {} }];
    case 'reject':
      return ['Reject', { reject: { reason: 'Bad content' } }];
    case 'delivery_delay':
      return ['DeliveryDelay', { deliveryDelay: sampleDelay(recipients, at, subType) }];
    case 'unknown':
      return ['Open', { open: { timestamp: at, ipAddress: '192.0.2.1', userAgent: 'Mozilla/5.0' } }];
  }
}

function sampleBounce(bounceType: string, bounceSubType: string, recipients: string[], at: string): Record<string, unknown> {
  return {
    bounceType,
    bounceSubType,
    bouncedRecipients: recipients.map((emailAddress) => ({
      emailAddress,
      action: 'failed',
      status: bounceType === 'Permanent' ? '5.1.1' : '4.2.2',
      diagnosticCode: bounceType === 'Permanent' ? 'smtp; 550 5.1.1 user unknown' : 'smtp; 452 4.2.2 mailbox full',
    })),
    timestamp: at,
    feedbackId: `${randomUUID()}-000000`,
    reportingMTA: 'dns; mx.example.net',
  };
}

function sampleComplaint(recipients: string[], at: string, subType: string | undefined): Record<string, unknown> {
  return {
    complainedRecipients: recipients.map((emailAddress) => ({ emailAddress })),
    timestamp: at,
    feedbackId: `${randomUUID()}-000000`,
    complaintFeedbackType: subType ?? 'abuse',
    userAgent: 'Mozilla/5.0',
  };
}

function sampleDelay(recipients: string[], at: string, subType: string | undefined): Record<string, unknown> {
  return {
    timestamp: at,
    delayType: subType ?? 'MailboxFull',
    expirationTime: at,
    delayedRecipients: recipients.map((emailAddress) => ({ emailAddress, status: '4.2.2', diagnosticCode: 'smtp; 452 mailbox full' })),
  };
}
