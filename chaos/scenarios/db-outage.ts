import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { runCampaignScenario } from '../lib/campaign-run.js';
import { sleep, waitFor, type ReverifyProcess } from '../lib/processes.js';
import { adminQuery } from '../lib/scratch.js';
import type { Scenario } from '../lib/types.js';
import { startServer } from '../lib/webhook-run.js';
import { addressNames, genuineMessages, insertAddresses, localSigner, pool, postSns } from '../lib/webhook.js';

/**
 * Database outage: while a campaign sends and SNS posts to the webhook, the
 * scenario's database refuses new connections and every existing one is
 * terminated (pg_terminate_backend) for a while — the shared PostgreSQL
 * server itself is never restarted, other people use it. The worker and the
 * server must stay up, the webhook must answer 503 while the database is down
 * (so SNS retries), and everything must complete afterwards.
 */
export const dbOutageScenario: Scenario = {
  name: 'db-outage',
  title: 'database connections refused and terminated mid-campaign and mid-webhook-load',
  async run(ctx) {
    const recipients = ctx.short ? 400 : 3_000;
    const rate = ctx.short ? 40 : 60;
    const outageMs = ctx.short ? 5_000 : 15_000;
    const webhookMessages = ctx.short ? 200 : 1_200;
    const { signer, certCacheDir } = await localSigner();
    // Signed before the campaign starts: signing 1,200 messages holds this
    // process's event loop for seconds. When the fault proxy still ran on
    // this thread, the sends of that stretch (at most SEND_SLOTS in flight)
    // sat unread and were stamped together when the loop came back: 16
    // "arrivals" within 4 ms, counted as the worker going above its rate.
    const addressCount = 200;
    const messages = genuineMessages(signer, addressNames(addressCount), webhookMessages);
    const statuses = { duringOutage: new Map<number, number>(), otherwise: new Map<number, number>() };
    let outage = false;
    let terminated = 0;
    let server: ReverifyProcess | undefined;
    let webhookStored = 0;
    let serverPeak = 0;
    const notes: string[] = [];
    const result = await runCampaignScenario(
      {
        scenario: 'db_outage',
        recipients,
        rate,
        finishTimeoutMs: (recipients / rate) * 3000 + 300_000,
        async injure({ scratch, campaignId }) {
          await insertAddresses(scratch.db, addressCount);
          const started = await startServer(scratch, certCacheDir);
          server = started.server;
          await waitFor('30% sent', async () => ((await countRowsByStatus(scratch.db, campaignId)).sent ?? 0) >= recipients * 0.3, 600_000);
          // SNS's side: post each message until it is taken (2xx), retrying after a 503 or a failed connection.
          const deadline = Date.now() + 180_000;
          const delivering = pool(messages, 4, async (message) => {
            for (;;) {
              if (!started.server.running || Date.now() > deadline) return;
              const during = outage;
              const { status } = await postSns(started.url, message.body, message.type);
              const bucket = during || outage ? statuses.duringOutage : statuses.otherwise;
              bucket.set(status, (bucket.get(status) ?? 0) + 1);
              if (status >= 200 && status < 300) {
                // About 40 a second in all, so the load spans the outage.
                await sleep(100);
                return;
              }
              await sleep(300);
            }
          });
          await sleep(1_000);
          const before = await countRowsByStatus(scratch.db, campaignId);
          outage = true;
          await adminQuery(`ALTER DATABASE ${scratch.name} ALLOW_CONNECTIONS false`);
          const outageEnds = Date.now() + outageMs;
          try {
            while (Date.now() < outageEnds) {
              terminated += await scratch.terminateBackends();
              await sleep(500);
            }
          } finally {
            await adminQuery(`ALTER DATABASE ${scratch.name} ALLOW_CONNECTIONS true`);
            outage = false;
          }
          ctx.log(`database refused connections for ${outageMs / 1000} s from ${JSON.stringify(before)}; ${terminated} backends terminated`);
          await delivering;
          const stored = await scratch.db.selectFrom('email_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
          webhookStored = Number(stored.n);
          serverPeak = server.peakMb;
          notes.push(
            `database down ${outageMs / 1000} s at ${JSON.stringify(before)}: new connections refused (ALLOW_CONNECTIONS false), ${terminated} backends terminated`,
            `webhook: ${webhookMessages} genuine messages posted 4 at a time, each retried until taken; answers while the database was down: ${fmt(statuses.duringOutage)}; otherwise: ${fmt(statuses.otherwise)}; stored afterwards: ${webhookStored}`,
            `server process: ${server.crashes.length === 0 ? 'stayed up' : `EXITED ${server.crashes.length} time(s): ${server.crashes.map((c) => `code ${c.code} signal ${c.signal}, last log: ${c.tail.replace(/\s+/g, ' ').slice(-700)}`).join('; ')}`}`,
          );
        },
      },
      ctx,
    ).finally(async () => {
      await server?.stop();
    });
    const all = [...statuses.duringOutage, ...statuses.otherwise];
    const bad5xx = all.filter(([status]) => (status >= 500 && status !== 503) || status === 0).reduce((sum, [, n]) => sum + n, 0);
    const outside503 = statuses.otherwise.get(503) ?? 0;
    const { check } = result;
    return {
      faults: `database down ${outageMs / 1000} s (${terminated} backends terminated)`,
      messages: check.messages + webhookMessages,
      lost: check.lost + Math.max(0, webhookMessages - webhookStored),
      windowNotMailed: check.windowNotMailed,
      doubled: check.doubled,
      http5xx: bad5xx,
      peakMemoryMb: Math.max(result.peakMemoryMb, serverPeak),
      pass: result.holds && result.workerCrashes === 0 && (server?.crashes.length ?? 1) === 0 && bad5xx === 0 && webhookStored === webhookMessages && (statuses.duringOutage.get(503) ?? 0) > 0,
      ran: true,
      notes: [
        ...result.notes,
        ...notes,
        // When webhook messages were not all taken, the server's own words say why.
        ...(webhookStored < webhookMessages && server ? [`server's last warnings/errors: ${server.logLines(/"level":(40|50|60)/).slice(-2).map((line) => line.slice(0, 400)).join(' ')}`] : []),
        ...(outside503 > 0 ? [`${outside503} answers of 503 came just before or after the outage window (connections re-established)`] : [])],
    };
  },
};

function fmt(counts: Map<number, number>): string {
  return [...counts].map(([status, n]) => `${n}×${status === 0 ? 'connection failed' : status}`).join(', ') || 'none';
}
