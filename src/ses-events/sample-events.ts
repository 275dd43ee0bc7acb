import { randomUUID } from 'node:crypto';
import type { AddressEventKind } from './state-machine.js';

/**
 * SES event documents as SES publishes them, for the local signer's users:
 * tests, the benchmark and the `reverify dev` SES event simulator. Each kind
 * of the state machine has one representative document.
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
  const bounce = (bounceType: string, subType: string) => ({
    Bounce: {
      bounce: {
        bounceType,
        bounceSubType: options.subType ?? subType,
        bouncedRecipients: recipients.map((emailAddress) => ({
          emailAddress,
          action: 'failed',
          status: bounceType === 'Permanent' ? '5.1.1' : '4.2.2',
          diagnosticCode: bounceType === 'Permanent' ? 'smtp; 550 5.1.1 user unknown' : 'smtp; 452 4.2.2 mailbox full',
        })),
        timestamp: at,
        feedbackId: `${randomUUID()}-000000`,
        reportingMTA: 'dns; mx.example.net',
      },
    },
  });
  const bodies: Record<AddressEventKind, Record<string, Record<string, unknown>>> = {
    hard_bounce: bounce('Permanent', 'General'),
    soft_bounce: bounce('Transient', 'MailboxFull'),
    undetermined_bounce: bounce('Undetermined', 'Undetermined'),
    complaint: {
      Complaint: {
        complaint: {
          complainedRecipients: recipients.map((emailAddress) => ({ emailAddress })),
          timestamp: at,
          feedbackId: `${randomUUID()}-000000`,
          complaintFeedbackType: options.subType ?? 'abuse',
          userAgent: 'Mozilla/5.0',
        },
      },
    },
    delivery: {
      Delivery: {
        delivery: { timestamp: at, processingTimeMillis: 512, recipients, smtpResponse: '250 ok', reportingMTA: 'a8-70.smtp-out.amazonses.com' },
      },
    },
    send: { Send: { send: {} } },
    reject: { Reject: { reject: { reason: 'Bad content' } } },
    delivery_delay: {
      DeliveryDelay: {
        deliveryDelay: {
          timestamp: at,
          delayType: options.subType ?? 'MailboxFull',
          expirationTime: at,
          delayedRecipients: recipients.map((emailAddress) => ({ emailAddress, status: '4.2.2', diagnosticCode: 'smtp; 452 mailbox full' })),
        },
      },
    },
    unknown: { Open: { open: { timestamp: at, ipAddress: '192.0.2.1', userAgent: 'Mozilla/5.0' } } },
  };
  const [type, body] = Object.entries(bodies[kind])[0] as [string, Record<string, unknown>];
  const typeField = shape === 'event' ? { eventType: type } : { notificationType: type };
  return JSON.stringify({ ...typeField, mail, ...body });
}
