import { inboundMailNotification } from './inbound-mail.js';
import { listStoredEmails, type StoredEmail } from './local-ses.js';
import { createLocalSnsSigner } from './sns-signer.js';

/**
 * `reverify dev reply ADDRESS`: the person at ADDRESS replies to the latest
 * verification mail the local SES holds for them. The reply goes as SES
 * inbound would deliver it — a `Received` notification with passing
 * verdicts, signed with a local certificate placed in the webhook's
 * certificate cache — to the real webhook, so the whole path runs locally.
 */

export interface DevReplyOptions {
  address: string;
  sesEndpoint: string;
  webhookUrl: string;
  topicArn: string;
  certCacheDir: string;
  region: string;
}

export interface DevReplyResult {
  /** The webhook's answer. */
  status: number;
  body: unknown;
  /** The SES MessageId of the verification mail replied to. */
  repliedTo: string;
}

export class DevReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevReplyError';
  }
}

/** The latest message to `address` with a verification reply address, or undefined. */
export function latestVerificationMail(emails: readonly StoredEmail[], address: string): StoredEmail | undefined {
  const wanted = address.toLowerCase();
  return emails
    .filter((email) => email.destination.to.some((to) => to.toLowerCase().includes(wanted)))
    .filter((email) => (email.replyTo ?? []).some((replyTo) => replyTo.includes('-confirm-')))
    .sort((a, b) => a.at - b.at)
    .at(-1);
}

/** Replies to the latest verification mail to `options.address`; see the module comment. */
export async function replyToLatestVerification(options: DevReplyOptions): Promise<DevReplyResult> {
  const mail = latestVerificationMail(await listStoredEmails(options.sesEndpoint), options.address);
  if (!mail) {
    throw new DevReplyError(
      `the local SES holds no verification mail with a reply address to ${options.address}: ` +
        'send one first (reverify verification request --email ADDRESS, or a campaign), with REPLY_DOMAIN set',
    );
  }
  const replyTo = (mail.replyTo ?? []).find((address) => address.includes('-confirm-'))!;
  const to = mail.destination.to.find((address) => address.toLowerCase().includes(options.address.toLowerCase()))!;
  const signer = await createLocalSnsSigner({ certCacheDir: options.certCacheDir, region: options.region });
  const document = inboundMailNotification({ from: to, to: replyTo, subject: `Re: ${mail.subject}`, topicArn: options.topicArn });
  const body = signer.signedNotification({ topicArn: options.topicArn, message: JSON.stringify(document) });
  const response = await fetch(options.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': options.topicArn },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: shown as it is.
  }
  return { status: response.status, body: parsed, repliedTo: mail.messageId };
}
