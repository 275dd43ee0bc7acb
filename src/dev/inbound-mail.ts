import { randomUUID } from 'node:crypto';

/**
 * An SES inbound mail notification (`notificationType: "Received"`) as a
 * receipt rule publishes it: with the SNS action the message itself travels
 * in `content`; with the S3 action only the headers do, the message being in
 * the bucket. Used by `reverify dev reply` and the tests of verification by
 * reply; the webhook reads only `mail` and `receipt`.
 */

export type Verdict = 'PASS' | 'FAIL' | 'GRAY' | 'PROCESSING_FAILED' | 'DISABLED';

export interface InboundMailInput {
  /** The From header, e.g. "Alice <alice@example.com>". */
  from: string;
  /** The reply address (the verification mail's Reply-To). */
  to: string;
  subject?: string;
  /** Receipt verdicts; every one PASS unless given. */
  verdicts?: Partial<Record<'spf' | 'dkim' | 'dmarc' | 'spam' | 'virus', Verdict>>;
  /** SNS: content included; S3: headers only (default SNS). */
  action?: 'SNS' | 'S3';
  topicArn: string;
  timestamp?: Date;
}

/** The Message of the notification, as a JSON document. */
export function inboundMailNotification(input: InboundMailInput): Record<string, unknown> {
  const at = (input.timestamp ?? new Date()).toISOString();
  const messageId = `${randomUUID().replace(/-/g, '')}`.slice(0, 32);
  const subject = input.subject ?? 'Re: Confirm your email address';
  const headers = [
    { name: 'Return-Path', value: `<${bare(input.from)}>` },
    { name: 'From', value: input.from },
    { name: 'To', value: input.to },
    { name: 'Subject', value: subject },
    { name: 'Date', value: new Date(at).toUTCString() },
    { name: 'Message-ID', value: `<${messageId}@mail.example>` },
  ];
  const status = (name: 'spf' | 'dkim' | 'dmarc' | 'spam' | 'virus') => ({ status: input.verdicts?.[name] ?? 'PASS' });
  const action =
    input.action === 'S3'
      ? { type: 'S3', topicArn: input.topicArn, bucketName: 'reverify-inbound', objectKey: `replies/${messageId}` }
      : { type: 'SNS', topicArn: input.topicArn, encoding: 'UTF8' };
  const document: Record<string, unknown> = {
    notificationType: 'Received',
    mail: {
      timestamp: at,
      source: bare(input.from),
      messageId,
      destination: [input.to],
      headersTruncated: false,
      headers,
      commonHeaders: { returnPath: bare(input.from), from: [input.from], date: new Date(at).toUTCString(), to: [input.to], messageId: `<${messageId}@mail.example>`, subject },
    },
    receipt: {
      timestamp: at,
      processingTimeMillis: 312,
      recipients: [input.to],
      spamVerdict: status('spam'),
      virusVerdict: status('virus'),
      spfVerdict: status('spf'),
      dkimVerdict: status('dkim'),
      dmarcVerdict: status('dmarc'),
      action,
    },
  };
  if (input.action !== 'S3') {
    document.content = `${headers.map((h) => `${h.name}: ${h.value}`).join('\r\n')}\r\n\r\nYes, this is my address.\r\n`;
  }
  return document;
}

function bare(address: string): string {
  return (/<([^>]+)>/.exec(address)?.[1] ?? address).trim();
}
