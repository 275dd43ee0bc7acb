import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { getCampaign } from '../../src/campaigns/campaigns.js';
import { deliverCampaignBatch } from '../../src/campaigns/deliver.js';
import { getCampaignSummary } from '../../src/campaigns/summary.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { describeSummary } from '../../src/cli/commands/describe-campaign.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { useSesClient } from '../../src/mail/ses-client.js';
import { ingestNotification } from '../../src/ses-events/ingest.js';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';
import type { AddressEventKind } from '../../src/ses-events/state-machine.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, FakeSes } from './helpers.js';

/**
 * The reputation guard counts the bounces SES counts against the sender:
 * permanent ones, except those SES answered from a suppression list
 * (OnAccountSuppressionList, Suppressed). Transient bounces are shown and
 * never pause. Bounces arrive through the real SES ingest (the webhook's
 * transaction), on campaigns whose messages went out through the real send
 * path (to a fake SES).
 */
const env = useTestEnv();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-ses-events';
const SAMPLE = 100;

/** A sent ledger row: its id, address and the MessageId SES gave. */
type Sent = { id: string; email: string; ses_message_id: string | null };

/** A running campaign of 101 people, 100 messages sent (one still queued, so it runs on); the sent ledger rows with their addresses. */
async function sentCampaign(app: App, prefix: string): Promise<{ campaignId: string; rows: Sent[] }> {
  const fake = new FakeSes();
  useSesClient(app, fake);
  const { campaignId, rows } = await campaignForNewPeople(app, prefix, SAMPLE + 1, { tick: true });
  for (let start = 0; start < SAMPLE; start += 16) {
    await deliverCampaignBatch(app, rows.slice(start, Math.min(start + 16, SAMPLE)), { ses: fake, attemptsMade: 0, maxAttempts: 5 });
  }
  const ledger = await app.db.selectFrom('campaign_recipients').select(['id', 'email', 'ses_message_id']).where('campaign_id', '=', campaignId).where('status', '=', 'sent').orderBy('id').execute();
  expect(ledger).toHaveLength(SAMPLE);
  return { campaignId, rows: ledger };
}

/** SES reports a bounce of `kind` (with `subType`) for the message of each of `rows`, tagged as reverify tags campaign mail. */
async function bounce(app: App, campaignId: string, rows: readonly Sent[], kind: AddressEventKind, subType: string) {
  for (const row of rows) {
    const event = parseSesEvent(sampleSesEvent(kind, { to: row.email, subType, sesMessageId: row.ses_message_id ?? undefined, tags: { campaign_id: campaignId, recipient_id: row.id, kind: 'campaign' } }));
    await ingestNotification(app.db, { snsMessageId: randomUUID(), topicArn: TOPIC, event, softBounceLimit: 5 });
  }
}

describe('reputation guard and SES bounce types', () => {
  const app = env.app({ overrides: { REPUTATION_MIN_SAMPLE: String(SAMPLE), SES_MAX_SEND_RATE: '10000' } });

  it('does not pause for 10% bounces from the account’s suppression list, and `campaign show` says why', async () => {
    const { campaignId, rows } = await sentCampaign(app, 'listed');
    await bounce(app, campaignId, rows.slice(0, 10), 'hard_bounce', 'OnAccountSuppressionList');
    await bounce(app, campaignId, rows.slice(10, 12), 'hard_bounce', 'Suppressed');
    expect((await runCampaignTick(app, campaignId)).status).toBe('running');
    const summary = await getCampaignSummary(app.db, campaignId);
    expect(summary?.status).toBe('running');
    expect(summary?.counts).toMatchObject({ sent: 100, bounced: 12, bouncesCounted: 0, bouncesNotCounted: 12, transientBounces: 0 });
    expect(describeSummary(summary!)).toContain('reputation guard counts 0 bounces (0% of sent)');
    expect(describeSummary(summary!)).toContain('not counted: 12 on an SES suppression list');
  });

  it('pauses on 6% genuine hard bounces and gives the figures', async () => {
    const { campaignId, rows } = await sentCampaign(app, 'genuine');
    await bounce(app, campaignId, rows.slice(0, 6), 'hard_bounce', 'General');
    await bounce(app, campaignId, rows.slice(6, 9), 'hard_bounce', 'OnAccountSuppressionList');
    expect((await runCampaignTick(app, campaignId)).status).toBe('paused');
    const campaign = await getCampaign(app.db, campaignId);
    expect(campaign.status).toBe('paused');
    expect(campaign.status_reason).toContain('bounce rate 6% (6 of 100 sent)');
    const summary = await getCampaignSummary(app.db, campaignId);
    expect(summary?.counts).toMatchObject({ bounced: 9, bouncesCounted: 6, bouncesNotCounted: 3 });
  });

  it('does not pause for a storm of transient bounces, and shows them', async () => {
    const { campaignId, rows } = await sentCampaign(app, 'storm');
    await bounce(app, campaignId, rows.slice(0, 40), 'soft_bounce', 'MailboxFull');
    // A message that bounced transiently and then for good counts once, as permanent.
    await bounce(app, campaignId, rows.slice(0, 1), 'hard_bounce', 'General');
    expect((await runCampaignTick(app, campaignId)).status).toBe('running');
    const summary = await getCampaignSummary(app.db, campaignId);
    expect(summary?.counts).toMatchObject({ bounced: 1, bouncesCounted: 1, bouncesNotCounted: 0, transientBounces: 39 });
    const types = await app.db.selectFrom('campaign_recipients').select('bounce_type').where('id', 'in', [rows[0]!.id, rows[1]!.id]).orderBy('id').execute();
    expect(types.map((row) => row.bounce_type)).toEqual(['Permanent/General', 'Transient/MailboxFull']);
  });
});
