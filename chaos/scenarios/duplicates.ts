import { referenceState, startServer } from '../lib/webhook-run.js';
import { createScratch } from '../lib/scratch.js';
import type { ReverifyProcess } from '../lib/processes.js';
import type { Scenario } from '../lib/types.js';
import { addressNames, describeDifference, genuineMessages, insertAddresses, localSigner, pool, postSns, stateDigest } from '../lib/webhook.js';

/**
 * Duplicates and reordering: genuine SNS notifications, each delivered one to
 * three times in random order and several at once (as SNS retries do), must
 * end in the same database state as each delivered once, in order.
 */
export const duplicatesScenario: Scenario = {
  name: 'duplicates',
  title: 'genuine SNS messages delivered 1–3 times in random order',
  async run(ctx) {
    const count = ctx.short ? 300 : 2_000;
    const addresses = ctx.short ? 80 : 400;
    const { signer, certCacheDir } = await localSigner();
    const messages = genuineMessages(signer, addressNames(addresses), count);
    const deliveries = messages.flatMap((message) => Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => message));
    for (let i = deliveries.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    const reference = await referenceState('duplicates', addresses, certCacheDir, messages);
    ctx.log(`reference (once, in order): ${[...reference.statuses].map(([s, n]) => `${n}×${s}`).join(', ')}`);

    const scratch = await createScratch('duplicates');
    let server: ReverifyProcess | undefined;
    try {
      await insertAddresses(scratch.db, addresses);
      const started = await startServer(scratch, certCacheDir);
      server = started.server;
      const results = await pool(deliveries, 8, (message) => postSns(started.url, message.body, message.type));
      const byStatus = new Map<number, number>();
      for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
      ctx.log(`${deliveries.length} deliveries of ${count} messages: ${[...byStatus].map(([s, n]) => `${n}×${s}`).join(', ')}`);
      const actual = await stateDigest(scratch.db);
      const same = actual.hash === reference.digest.hash;
      const http5xx = results.filter((r) => r.status >= 500 || r.status === 0).length;
      const notes = [
        `${count} messages (${addresses} addresses; hard/soft bounces, complaints, deliveries, delays, sends), ${deliveries.length} deliveries, 8 at a time; answers ${[...byStatus].map(([s, n]) => `${n}×${s}`).join(', ')}`,
        same ? 'end state equals the once-in-order state (addresses, suppressions, ledger, stored events)' : 'end state DIFFERS from the once-in-order state:',
        ...describeDifference(reference.digest, actual),
      ];
      const differing = Object.keys(actual.parts).filter((part) => actual.parts[part] !== reference.digest.parts[part]);
      if (differing.length === 1 && differing[0] === 'transient_bounces') {
        notes.push(
          'only the soft-bounce counts differ (verified, unverify_reason, suppressions, ledger and the stored events are identical): ' +
            'transient_bounces is kept in arrival order (a Delivery resets it, a soft bounce adds one) rather than by the events\' own timestamps, ' +
            'so the same events arriving in another order leave another count',
        );
      }
      const storedEvents = actual.rows.events?.length ?? 0;
      return {
        faults: `${deliveries.length - count} duplicate deliveries, random order, 8 concurrent`,
        messages: deliveries.length,
        lost: Math.max(0, count - storedEvents),
        doubled: Math.max(0, storedEvents - count),
        http5xx,
        peakMemoryMb: server.peakMb,
        pass: same && http5xx === 0 && server.crashes.length === 0,
        ran: true,
        notes,
      };
    } finally {
      await server?.stop();
      await scratch.drop();
    }
  },
};
