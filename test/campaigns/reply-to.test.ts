import { afterEach, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { previewNewCampaign } from '../../src/campaigns/draft-preview.js';
import { previewCampaign } from '../../src/campaigns/operations.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, startLocalSes, waitFor } from './helpers.js';

/** Campaign mail carries a reply address (REPLY_DOMAIN) whose target is the recipient's address row, and says replying confirms. */

const env = useTestEnv();
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function sendCampaign(prefix: string, overrides: Record<string, string>) {
  const local = await startLocalSes();
  closers.push(() => local.close());
  const app = env.app({ overrides: { SES_ENDPOINT: local.endpoint, SES_MAX_SEND_RATE: '200', ...overrides } });
  closers.push(() => app.close());
  const { campaignId } = await campaignForNewPeople(app, prefix, 3, { tick: true });
  const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send] });
  for (const worker of workers.workers) env.trackWorker(worker);
  closers.push(() => workers.close(5_000));
  await waitFor('three sent rows', async () => (await countRowsByStatus(env.db, campaignId)).sent === 3);
  return { campaignId, emails: await local.emails() };
}

describe('campaign mail and replies', () => {
  it('with REPLY_DOMAIN, gives every message its own reply address for the recipient, and says a reply confirms', async () => {
    const { campaignId, emails } = await sendCampaign('replyto', { REPLY_DOMAIN: 'Reply.Example.org' });
    const rows = await env.db.selectFrom('campaign_recipients').select(['email', 'email_id']).where('campaign_id', '=', campaignId).execute();
    expect(emails).toHaveLength(3);
    const addresses = new Set<string>();
    for (const email of emails) {
      const row = rows.find((r) => r.email === email.destination.to[0])!;
      expect(email.replyTo).toHaveLength(1);
      const replyTo = email.replyTo![0]!;
      expect(replyTo).toMatch(new RegExp(`^v${row.email_id}-confirm-[a-z2-7]{32}@reply\\.example\\.org$`));
      expect(replyTo.split('@')[0]!.length).toBeLessThanOrEqual(64);
      addresses.add(replyTo);
      expect(email.body.text).toContain('simply reply to this message');
      expect(email.body.html).toContain('simply reply to this message');
    }
    expect(addresses.size).toBe(3);
  });

  it('without REPLY_DOMAIN, has no Reply-To and does not mention replying', async () => {
    const { emails } = await sendCampaign('noreply', {});
    expect(emails).toHaveLength(3);
    for (const email of emails) {
      expect(email.replyTo ?? []).toEqual([]);
      expect(email.body.text).not.toContain('reply to this message');
    }
  });

  it('previews show the message as it is sent: the reply paragraph with REPLY_DOMAIN, none without', async () => {
    const withReplies = env.app({ overrides: { REPLY_DOMAIN: 'reply.example.org' } });
    const without = env.app();
    closers.push(() => withReplies.close(), () => without.close());
    const { campaignId } = await campaignForNewPeople(withReplies, 'preview-reply', 1);
    const draft = { perDay: 100, template: 'reverify-email', startsAt: undefined };
    for (const preview of [await previewCampaign(withReplies, campaignId), await previewNewCampaign(withReplies, draft)]) {
      expect(preview.message.text).toContain('simply reply to this message');
      expect(preview.message.html).toContain('simply reply to this message');
    }
    for (const preview of [await previewCampaign(without, campaignId), await previewNewCampaign(without, draft)]) {
      expect(preview.message.text).not.toContain('reply to this message');
    }
  });
});
