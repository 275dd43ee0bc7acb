import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Config } from '../config.js';
import type { RenderedMessage } from './render.js';
import { awaitBeforeWire, type SesSender } from './ses-client.js';

/** One message to one address, with the tags SES echoes back in its events. */
export interface OutgoingMessage {
  to: string;
  message: RenderedMessage;
  /** EmailTags: the webhook matches events to ledger rows by campaign_id / recipient_id. */
  tags: Record<string, string>;
  /** Extra header fields (the stop link's List-Unsubscribe pair), through SESv2 Simple content's Headers. */
  headers?: Record<string, string>;
  /** Reply-To: a verification mail's reply address (REPLY_DOMAIN), replying to which confirms the address. */
  replyTo?: string;
  /**
   * Awaited once the request is built and signed, right before it goes on
   * the wire (the send gate's last lateness check). Runs inside the
   * middleware stack of a client made by createSesClient, so a test's fake
   * SES, which has none, never calls it.
   */
  beforeWire?: () => Promise<void>;
}

/**
 * Sends one message with SES SendEmail: a plain-text and an HTML part, the
 * configuration set whose event publishing feeds the webhook, and the tags.
 * Returns the SES MessageId. Links are passed through untouched: no tracking.
 */
export async function sendMessage(
  ses: SesSender,
  config: Pick<Config, 'MAIL_FROM' | 'SES_CONFIGURATION_SET'>,
  outgoing: OutgoingMessage,
): Promise<string> {
  if (config.MAIL_FROM === undefined) throw new Error('MAIL_FROM is not set: the sender address is needed to send mail');
  const command = new SendEmailCommand({
    FromEmailAddress: config.MAIL_FROM,
    Destination: { ToAddresses: [outgoing.to] },
    ...(outgoing.replyTo === undefined ? {} : { ReplyToAddresses: [outgoing.replyTo] }),
    Content: {
      Simple: {
        Subject: { Data: outgoing.message.subject, Charset: 'UTF-8' },
        Body: {
          Text: { Data: outgoing.message.text, Charset: 'UTF-8' },
          Html: { Data: outgoing.message.html, Charset: 'UTF-8' },
        },
        ...(outgoing.headers ? { Headers: Object.entries(outgoing.headers).map(([Name, Value]) => ({ Name, Value })) } : {}),
      },
    },
    ConfigurationSetName: config.SES_CONFIGURATION_SET,
    EmailTags: Object.entries(outgoing.tags).map(([Name, Value]) => ({ Name, Value })),
  });
  if (outgoing.beforeWire) awaitBeforeWire(command.input, outgoing.beforeWire);
  const result = await ses.send(command);
  if (!result.MessageId) throw new Error('SES accepted the message but returned no MessageId');
  return result.MessageId;
}
