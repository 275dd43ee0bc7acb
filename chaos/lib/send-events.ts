import type { LocalSnsSigner } from '../../src/dev/sns-signer.js';
import type { SesTagRecorder } from '../../src/dev/ses-tag-recorder.js';
import type { Db } from '../../src/db/connect.js';
import { CHAOS_TOPIC_ARN } from './env.js';
import type { LocalSes } from './local-ses.js';

/**
 * SES's Send events for the chaos suite: every message the local SES takes
 * gets one, as SES publishes for a configuration set whose event destination
 * includes Send, signed, with the tags the message was sent with (read from
 * the tag recorder in front of the local SES), POSTed to a real `reverify
 * server`. A refused post is tried again on the next round, as SNS retries.
 */
export class SendEventPublisher {
  posted = 0;
  refused = 0;
  private next = 0;
  private readonly waiting: Array<{ messageId: string; to: string[]; at: number }> = [];
  private stopped = false;
  private round: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ses: LocalSes,
    private readonly recorder: SesTagRecorder,
    private readonly signer: LocalSnsSigner,
    private readonly webhookUrl: string,
  ) {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.publish().finally(() => this.schedule());
    }, 250);
  }

  /** Posts the Send events of the messages taken since the last round, and of those refused before. */
  private async publish(): Promise<void> {
    const emails = this.ses.emails();
    for (; this.next < emails.length; this.next += 1) {
      const email = emails[this.next]!;
      this.waiting.push({ messageId: email.messageId, to: email.destination.to, at: email.at });
    }
    const batch = this.waiting.splice(0, this.waiting.length);
    for (const message of batch) {
      if (this.stopped || !(await this.post(message))) this.waiting.push(message);
    }
  }

  private async post(message: { messageId: string; to: string[]; at: number }): Promise<boolean> {
    const tags = this.recorder.tagsOf(message.messageId);
    // Recorded as SES answers, which can come a moment after the store has it.
    if (tags === undefined) return false;
    const mail = {
      timestamp: new Date(message.at * 1000).toISOString(),
      source: 'noreply@chaos.example.org',
      messageId: message.messageId,
      destination: message.to,
      tags: { 'ses:configuration-set': ['reverify-chaos'], ...Object.fromEntries(Object.entries(tags).map(([name, value]) => [name, [value]])) },
    };
    const body = this.signer.signedNotification({ topicArn: CHAOS_TOPIC_ARN, message: JSON.stringify({ eventType: 'Send', mail, send: {} }) });
    try {
      const response = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) this.posted += 1;
      else this.refused += 1;
      return response.ok;
    } catch {
      this.refused += 1;
      return false;
    }
  }

  /** Messages whose Send event has not been accepted yet. */
  get pending(): number {
    return this.waiting.length + (this.ses.emails().length - this.next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }
}

/** How the rows whose outcome a crash left unknown were settled. */
export interface UnknownOutcomes {
  unconfirmed: number;
  settledByEvent: number;
  resentAfterWait: number;
  mailedTwice: number;
}

/** Counts the campaign's rows that went through `unconfirmed`, by how each was settled. */
export async function unknownOutcomes(db: Db, campaignId: string): Promise<UnknownOutcomes> {
  const row = await db
    .selectFrom('campaign_recipients')
    .select((eb) => [
      eb.fn.countAll<string>().filterWhere('unconfirmed_at', 'is not', null).as('unconfirmed'),
      eb.fn.countAll<string>().filterWhere((w) => w.and([w('unconfirmed_at', 'is not', null), w('resent_after_attempt', 'is', null)])).as('byEvent'),
      eb.fn.count<string>('resent_after_attempt').as('resent'),
      eb.fn.count<string>('late_ses_message_id').as('twice'),
    ])
    .where('campaign_id', '=', campaignId)
    .executeTakeFirstOrThrow();
  return { unconfirmed: Number(row.unconfirmed), settledByEvent: Number(row.byEvent), resentAfterWait: Number(row.resent), mailedTwice: Number(row.twice) };
}
