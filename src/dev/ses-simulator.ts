import { randomUUID } from 'node:crypto';
import type { Db } from '../db/connect.js';
import type { Logger } from '../logger.js';
import { createLocalSnsSigner, type LocalSnsSigner } from './sns-signer.js';
import { listStoredEmails, type StoredEmail } from './local-ses.js';
import { loadPending, savePending, type PendingMessage } from './pending-events.js';

/**
 * The SES event simulator of `reverify dev`. It watches the local SES for new
 * messages and, as real SES does for its mailbox simulator, answers them with
 * SNS notifications in the configuration-set event format, signed with a local
 * certificate placed in the webhook's certificate cache, POSTed to the real
 * webhook, so the demo goes through the production verification path.
 *
 *   bounce@simulator.amazonses.com           → Bounce Permanent/General
 *   complaint@simulator.amazonses.com        → Delivery, then Complaint (abuse)
 *   ooto@simulator.amazonses.com             → Delivery, then Bounce Transient/General (an auto-reply)
 *   suppressionlist@simulator.amazonses.com  → Bounce Permanent/OnAccountSuppressionList
 *   any other address                        → Delivery
 *
 * Every message's events start with a Send event, as SES publishes one for
 * each message it accepts when the configuration set's event destination
 * includes Send (the dev stack sets SES_SEND_EVENTS=true). Each event carries
 * the message's own tags, read from the tag recorder in front of the local
 * SES (./ses-tag-recorder.ts), so a message whose ledger row never recorded
 * its MessageId (a crash) is matched to its row as in production.
 */

export const SIMULATOR_DOMAIN = 'simulator.amazonses.com';
export const SIMULATOR_ADDRESSES = ['bounce', 'complaint', 'ooto', 'suppressionlist', 'success'].map((local) => `${local}@${SIMULATOR_DOMAIN}`);

type SesEventDocument = Record<string, unknown>;

export interface SimulatorOptions {
  sesEndpoint: string;
  webhookUrl: string;
  topicArn: string;
  certCacheDir: string;
  region: string;
  /** Used to find the ledger row of a message, whose ids SES would carry as mail.tags. */
  db: Db;
  log: Logger;
  pollMs?: number;
  /** How long a message waits before its events go out, so the sender has recorded its MessageId. */
  settleMs?: number;
  /** Where events still pending at a stop are kept for the next start; none when unset. */
  pendingFile?: string;
  /** The tags a message was sent with (the tag recorder); without it, or for a message it did not see, they are read back from the ledger. */
  tagsOf?: (messageId: string) => Record<string, string> | undefined;
  /** Publish a Send event first for every message (default true). */
  sendEvents?: boolean;
}

export interface SesSimulator {
  /** Notifications accepted by the webhook, by SES event type. */
  stats(): Record<string, number>;
  /** Stops posting; waits for the round in progress. */
  halt(): Promise<void>;
  /** Halts, then takes the messages sent since the last round and keeps every pending one for the next start. */
  stop(): Promise<void>;
}

type Pending = PendingMessage;

/** The Send event SES publishes once it has accepted a message. */
export function sendEvent(mail: Record<string, unknown>): SesEventDocument {
  return { eventType: 'Send', mail, send: {} };
}

/** Which events SES would publish for a message to `address` once it is on its way (after Send). */
export function simulatedEvents(address: string, mail: Record<string, unknown>, now: Date): SesEventDocument[] {
  const [local = '', domain = ''] = address.toLowerCase().split('@');
  const kind = domain === SIMULATOR_DOMAIN ? local.split('+')[0] : 'other';
  const timestamp = now.toISOString();
  const delivery = {
    eventType: 'Delivery',
    mail,
    delivery: { timestamp, processingTimeMillis: 420, recipients: [address], smtpResponse: '250 2.6.0 Message received', reportingMTA: 'a8-1.smtp-out.amazonses.com' },
  };
  const bounce = (bounceType: string, bounceSubType: string, status: string, diagnosticCode: string) => ({
    eventType: 'Bounce',
    mail,
    bounce: {
      bounceType,
      bounceSubType,
      bouncedRecipients: [{ emailAddress: address, action: 'failed', status, diagnosticCode }],
      timestamp,
      feedbackId: `0100${randomUUID()}-000000`,
      reportingMTA: 'dns; amazonses.com',
    },
  });
  switch (kind) {
    case 'bounce':
      return [bounce('Permanent', 'General', '5.1.1', 'smtp; 550 5.1.1 user unknown')];
    case 'suppressionlist':
      return [bounce('Permanent', 'OnAccountSuppressionList', '5.1.1', 'Amazon SES did not send the message to this address because it is on the suppression list for your account.')];
    case 'ooto':
      return [delivery, bounce('Transient', 'General', '4.0.0', 'smtp; 250 2.0.0 auto-reply: out of the office')];
    case 'complaint':
      return [
        delivery,
        {
          eventType: 'Complaint',
          mail,
          complaint: {
            complainedRecipients: [{ emailAddress: address }],
            timestamp,
            feedbackId: `0100${randomUUID()}-000000`,
            complaintFeedbackType: 'abuse',
            userAgent: 'Amazon SES Mailbox Simulator',
          },
        },
      ];
    default:
      return [delivery];
  }
}

/** Starts polling the local SES; events left over from the last run go out first. */
export async function startSesSimulator(options: SimulatorOptions): Promise<SesSimulator> {
  const signer = await createLocalSnsSigner({ certCacheDir: options.certCacheDir, region: options.region });
  const pollMs = options.pollMs ?? 500;
  const settleMs = options.settleMs ?? 1_000;
  const pending: Pending[] = options.pendingFile ? await loadPending(options.pendingFile, options.log) : [];
  const seen = new Set<string>(pending.map((item) => item.email.messageId));
  const posted: Record<string, number> = {};
  let stopped = false;
  let round: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const collect = async () => {
    for (const email of await listStoredEmails(options.sesEndpoint)) {
      if (seen.has(email.messageId)) continue;
      seen.add(email.messageId);
      pending.push({ email, firstSeen: Date.now(), events: [], attempts: 0 });
    }
  };
  const tick = async () => {
    await collect();
    const now = Date.now();
    for (const item of [...pending]) {
      if (stopped) break;
      if (now - item.firstSeen >= settleMs) await deliver(item, { options, signer, pending, posted, stopped: () => stopped });
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = tick()
        .catch((error: unknown) => options.log.warn({ err: error }, 'SES simulator round failed; retrying'))
        .finally(schedule);
    }, pollMs);
  };
  schedule();

  const halt = async () => {
    stopped = true;
    clearTimeout(timer);
    await round;
  };
  let stopping: Promise<void> | undefined;
  return {
    stats: () => ({ ...posted }),
    halt,
    stop() {
      stopping ??= (async () => {
        await halt();
        await collect().catch((error: unknown) => options.log.warn({ err: error }, 'SES simulator: could not read the local SES at stop'));
        if (options.pendingFile) await savePending(options.pendingFile, pending);
      })();
      return stopping;
    },
  };
}

interface DeliveryContext {
  options: SimulatorOptions;
  signer: LocalSnsSigner;
  pending: Pending[];
  /** Notifications accepted, by event type. */
  posted: Record<string, number>;
  stopped(): boolean;
}

/**
 * Makes a settled message's events (once) and posts them in order; it leaves
 * the pending list when all went out, or after 20 refused rounds. A stop
 * leaves what is left of it pending, for the next start.
 */
async function deliver(item: Pending, context: DeliveryContext): Promise<void> {
  const { options, pending, posted } = context;
  if (item.events.length === 0) {
    const mail = await mailObject(options, item.email);
    const send = options.sendEvents === false ? [] : [sendEvent(mail)];
    item.events = [...send, ...allRecipients(item.email).flatMap((address) => simulatedEvents(address, mail, new Date()))];
  }
  while (item.events.length > 0 && !context.stopped()) {
    const event = item.events[0] as SesEventDocument;
    if (!(await post(options, context.signer, event))) break;
    item.events.shift();
    const type = String(event.eventType);
    posted[type] = (posted[type] ?? 0) + 1;
  }
  if (item.events.length === 0) pending.splice(pending.indexOf(item), 1);
  else if (!context.stopped() && ++item.attempts > 20) {
    options.log.warn({ messageId: item.email.messageId }, 'SES simulator: the webhook kept refusing these events; dropping them');
    pending.splice(pending.indexOf(item), 1);
  }
}

function allRecipients(email: StoredEmail): string[] {
  return [...email.destination.to, ...email.destination.cc, ...email.destination.bcc].map(bareAddress);
}

/** "Name <a@b>" → "a@b". */
function bareAddress(value: string): string {
  const match = /<([^>]+)>/.exec(value);
  return (match?.[1] ?? value).trim();
}

/**
 * The `mail` object of an SES event. The local SES does not keep EmailTags:
 * they come from the tag recorder when it saw the message, else the campaign
 * and ledger ids are read back from the ledger by MessageId.
 */
async function mailObject(options: SimulatorOptions, email: StoredEmail): Promise<Record<string, unknown>> {
  const { db, topicArn } = options;
  const recorded = options.tagsOf?.(email.messageId);
  const row = recorded ? undefined : await db
    .selectFrom('campaign_recipients')
    .select(['id', 'campaign_id'])
    .where('ses_message_id', '=', email.messageId)
    .executeTakeFirst()
    .catch(() => undefined);
  const tags: Record<string, string[]> = { 'ses:configuration-set': ['reverify-dev'] };
  if (recorded) for (const [name, value] of Object.entries(recorded)) tags[name] = [value];
  if (row) Object.assign(tags, { campaign_id: [String(row.campaign_id)], recipient_id: [String(row.id)], kind: ['campaign'] });
  const account = topicArn.split(':')[4] ?? '000000000000';
  return {
    timestamp: new Date(email.at * 1000).toISOString(),
    source: email.from,
    sendingAccountId: account,
    messageId: email.messageId,
    destination: allRecipients(email),
    headersTruncated: false,
    commonHeaders: { from: [email.from], to: email.destination.to, subject: email.subject },
    tags,
  };
}

async function post(options: SimulatorOptions, signer: LocalSnsSigner, event: SesEventDocument): Promise<boolean> {
  const body = signer.signedNotification({ topicArn: options.topicArn, message: JSON.stringify(event) });
  try {
    const response = await fetch(options.webhookUrl, {
      method: 'POST',
      headers: {
        // What SNS sends: a JSON document labelled text/plain.
        'content-type': 'text/plain; charset=UTF-8',
        'x-amz-sns-message-type': 'Notification',
        'x-amz-sns-message-id': body.MessageId ?? '',
        'x-amz-sns-topic-arn': options.topicArn,
        'user-agent': 'Amazon Simple Notification Service Agent',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (response.ok) return true;
    options.log.warn({ status: response.status, body: (await response.text()).slice(0, 300), eventType: event.eventType }, 'SES simulator: webhook refused a notification');
    return false;
  } catch (error) {
    options.log.warn({ err: error }, 'SES simulator: webhook did not answer');
    return false;
  }
}
