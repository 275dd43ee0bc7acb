import { afterEach, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { stopRoutes } from '../../src/http/routes/stop.js';
import { buildServer } from '../../src/http/server.js';
import { findExternalLinks } from '../../src/mail/link-lint.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import type { RunningWorkers } from '../../src/queue/worker.js';
import { hashToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { campaignForNewPeople, startLocalSes, waitFor } from './helpers.js';

/**
 * The stop link end to end: campaign mail sent through the local SES
 * (aws-ses-v2-local keeps Simple content's Headers) carries the link and the
 * RFC 8058 headers; the one-click POST a mailbox provider makes to the header's
 * URL stops the address; the campaign's next message to it is skipped.
 */

const env = useTestEnv();
const closers: Array<() => Promise<void>> = [];
const running: RunningWorkers[] = [];

afterEach(async () => {
  for (const workers of running.splice(0)) await workers.close(5_000);
  for (const close of closers.splice(0)) await close();
});

describe('the stop link in campaign mail', () => {
  it('goes out through the local SES in the body and the List-Unsubscribe headers; one click on it stops the address for good', async () => {
    const local = await startLocalSes();
    closers.push(() => local.close());
    const app = env.app({ overrides: { SES_ENDPOINT: local.endpoint, SES_MAX_SEND_RATE: '200' } });
    closers.push(() => app.close());
    // Two a day: the first two people today, the third tomorrow.
    const { campaignId } = await campaignForNewPeople(app, 'stoplink', 3, { perDay: 2, tick: true });
    const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send] });
    for (const worker of workers.workers) env.trackWorker(worker);
    running.push(workers);
    await waitFor('two sent rows', async () => (await countRowsByStatus(env.db, campaignId)).sent === 2);

    const emails = await local.emails();
    expect(emails).toHaveLength(2);
    const stopUrls: string[] = [];
    for (const email of emails) {
      const headers = Object.fromEntries((email.headers ?? []).map((h) => [h.name, h.value]));
      const match = /^<(https:\/\/example\.org\/stop\/([A-Za-z0-9_-]{43}))>$/.exec(headers['List-Unsubscribe'] ?? '');
      expect(match, JSON.stringify(headers)).not.toBeNull();
      expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
      const url = match![1]!;
      expect(email.body.text).toContain(url);
      expect(email.body.html).toContain(`href="${url}"`);
      expect(findExternalLinks({ subject: email.subject, text: email.body.text ?? '', html: email.body.html ?? '' }, 'https://example.org')).toEqual([]);
      // Stored only as its hash, for the address the message went to.
      const stored = await env.db.selectFrom('stop_tokens').select(['email', 'purpose']).where('token_hash', '=', hashToken(match![2]!)).executeTakeFirstOrThrow();
      expect(stored).toEqual({ email: email.destination.to[0], purpose: 'campaign' });
      stopUrls.push(url);
    }
    expect(new Set(stopUrls).size).toBe(2);

    // The mailbox provider's one-click request to the first message's header URL.
    const server = await buildServer(app, { routes: [stopRoutes] });
    closers.push(() => server.close());
    const stopped = emails[0]!.destination.to[0]!;
    const response = await server.inject({
      method: 'POST',
      url: new URL(stopUrls[0]!).pathname,
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.statusCode).toBe(200);
    expect(await env.db.selectFrom('suppressions').select('reason').where('email', '=', stopped.toLowerCase()).executeTakeFirst()).toEqual({ reason: 'recipient_request' });

    // The stopped person's row goes back to the queue as if their send had not happened, and the next tick skips it.
    await env.db
      .updateTable('campaign_recipients')
      .set({ status: 'pending', send_day: null, sent_at: null, ses_message_id: null })
      .where('campaign_id', '=', campaignId)
      .where('email', '=', stopped)
      .execute();
    await env.db.updateTable('campaign_recipients').set({ send_day: '2000-01-01' }).where('campaign_id', '=', campaignId).where('status', '=', 'sent').execute();
    await runCampaignTick(app, campaignId);
    await waitFor('the third person sent and the stopped one skipped', async () => {
      const counts = await countRowsByStatus(env.db, campaignId);
      return counts.sent === 2 && counts.skipped === 1;
    });
    const skipped = await env.db.selectFrom('campaign_recipients').select(['email', 'reason']).where('campaign_id', '=', campaignId).where('status', '=', 'skipped').execute();
    expect(skipped).toEqual([{ email: stopped, reason: 'suppressed' }]);
    expect((await local.emails()).filter((email) => email.destination.to[0] === stopped)).toHaveLength(1);
  });
});
