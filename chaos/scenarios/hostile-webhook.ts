import { hostileBodies, signedHostileContent } from '../lib/hostile-bodies.js';
import { INSPECT_FLAG, inspectorUrl, liveMemory, type LiveMemory } from '../lib/live-memory.js';
import { residentMb } from '../lib/processes.js';
import { createScratch } from '../lib/scratch.js';
import type { ReverifyProcess } from '../lib/processes.js';
import type { Scenario } from '../lib/types.js';
import { referenceState, startServer } from '../lib/webhook-run.js';
import { addressNames, describeDifference, genuineMessages, insertAddresses, localSigner, pool, postSns, stateDigest, type SignedMessage } from '../lib/webhook.js';

/**
 * Growth allowed in the live JS heap plus external memory, after a full
 * collection, over AGAIN_PASSES more passes of the hostile bodies and the
 * genuine messages (replays by then), once the first pass has filled caches
 * and compiled code (0.05–1.6 MB measured). Measured over the two passes
 * (about 21,000 requests): 0.1–0.2 MB without a leak; 8.3 MB with 256 bytes
 * kept for every request the webhook handles, 21.6 MB with 1 kB, so a leak
 * of about 100 bytes a request fails. A leak only on the genuine path
 * (1,340 messages over the passes) is caught from about 1.5 kB a message.
 */
const LIVE_GROWTH_LIMIT_MB = 2;
/** Passes judged by LIVE_GROWTH_LIMIT_MB: a leak keeps memory on every pass, what fills once does not grow. */
const AGAIN_PASSES = 2;
/** Growth allowed in resident memory after a full collection (native memory, heap pages kept). */
const RSS_GROWTH_LIMIT_MB = 64;

/**
 * Hostile webhook input: thousands of forged, garbled, oversized and replayed
 * bodies, with genuine messages interleaved. The forged ones must change
 * nothing and get a 4xx, the genuine ones must all be applied, nothing may
 * answer 5xx (the documented 503 is for an unavailable database), and the
 * server's memory must stay flat once its garbage is collected (the server
 * runs with the inspector on a local port so the scenario can collect it).
 */
export const hostileWebhookScenario: Scenario = {
  name: 'hostile-webhook',
  title: 'forged, garbled, huge and replayed SNS bodies with genuine ones interleaved',
  async run(ctx) {
    const hostileCount = ctx.short ? 2_000 : 10_000;
    const genuineCount = ctx.short ? 150 : 600;
    const addresses = ctx.short ? 100 : 300;
    const { signer, certCacheDir } = await localSigner();
    const names = addressNames(addresses);
    const genuine: SignedMessage[] = genuineMessages(signer, names, genuineCount);
    const content = signedHostileContent(signer, ctx.short ? 20 : 70);
    const contentIds = new Set(content.map((message) => message.snsMessageId));
    // The genuine lane: SES's events in order, with the signed-but-nasty ones mixed in.
    const lane: SignedMessage[] = [];
    for (const [i, message] of genuine.entries()) {
      lane.push(message);
      if (i % 8 === 0 && content.length > 0) lane.push(content.shift()!);
    }
    lane.push(...content);
    const hostile = hostileBodies(signer, hostileCount, names);
    const reference = await referenceState('hostile', addresses, certCacheDir, lane);
    ctx.log(`reference: ${lane.length} genuine messages once, in order: ${[...reference.statuses].map(([s, n]) => `${n}×${s}`).join(', ')}`);

    const scratch = await createScratch('hostile');
    let server: ReverifyProcess | undefined;
    try {
      await insertAddresses(scratch.db, addresses);
      const started = await startServer(scratch, certCacheDir, { NODE_OPTIONS: INSPECT_FLAG });
      server = started.server;
      const inspector = await inspectorUrl(server);
      const warm = Math.min(1000, Math.floor(hostile.length / 5));
      const warmResults = await pool(hostile.slice(0, warm), 6, (body) => postSns(started.url, body.body, body.type));
      const baseMb = residentMb(server.pid);
      const baseLive = await liveMemory(inspector);
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(residentMb(server?.pid)), 500);
      let hostileResults;
      let laneResults;
      try {
        [hostileResults, laneResults] = await Promise.all([
          pool(hostile.slice(warm), 6, (body) => postSns(started.url, body.body, body.type)),
          pool(lane, 1, (message) => postSns(started.url, message.body, message.type)),
        ]);
      } finally {
        clearInterval(sampler);
      }
      const replays = lane.filter((_, i) => i % 2 === 0);
      const replayResults = await pool(replays, 6, (message) => postSns(started.url, message.body, message.type));
      const endMb = residentMb(server.pid);
      const endLive = await liveMemory(inspector);
      // The same bodies again: what a leak keeps, it keeps again; caches filled and code compiled once do not grow.
      // The genuine messages are replays by now, answered 200 without a change, so the end state is judged as before.
      const againResults: Array<{ status: number }> = [];
      let acceptedAgain = 0;
      const genuineAgain: Array<{ status: number }> = [];
      for (let pass = 0; pass < AGAIN_PASSES; pass += 1) {
        const [hostileAgain, laneAgain] = await Promise.all([
          pool(hostile.slice(warm), 6, (body) => postSns(started.url, body.body, body.type)),
          pool(lane, 2, (message) => postSns(started.url, message.body, message.type)),
        ]);
        againResults.push(...laneAgain, ...hostileAgain.filter((r) => r.status >= 500 || r.status === 0));
        genuineAgain.push(...laneAgain);
        acceptedAgain += hostileAgain.filter((r) => r.status >= 200 && r.status < 300).length;
      }
      const againLive = await liveMemory(inspector);

      const all = [...warmResults, ...hostileResults];
      const byKind = new Map<string, Map<number, number>>();
      hostile.forEach((body, i) => {
        const status = all[i]?.status ?? -1;
        const counts = byKind.get(body.kind) ?? new Map<number, number>();
        counts.set(status, (counts.get(status) ?? 0) + 1);
        byKind.set(body.kind, counts);
      });
      const accepted = all.filter((r) => r.status >= 200 && r.status < 300).length;
      const statusOf = (results: Array<{ status: number }>) => {
        const counts = new Map<number, number>();
        for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        return [...counts].map(([s, n]) => `${n}×${s === 0 ? 'connection failed' : s}`).join(', ');
      };
      const every = [...all, ...laneResults, ...replayResults, ...againResults];
      const unexpected5xx = every.filter((r) => (r.status >= 500 && r.status !== 503) || r.status === 0).length;
      const answered503 = every.filter((r) => r.status === 503).length;
      const actual = await stateDigest(scratch.db);
      const same = actual.hash === reference.digest.hash;
      const storedGenuine = new Set(actual.rows.events);
      const lostGenuine = lane.filter((message) => reference.digest.rows.events?.includes(message.snsMessageId) && !storedGenuine.has(message.snsMessageId)).length;
      const growthMb = endMb - baseMb;
      const peak = Math.max(...samples, endMb);
      // Judged after full collections: resident memory before one also
      // counts garbage not yet collected (measured: +77 MB before, +18 MB
      // after, with the live heap the same to 0.1 MB).
      const live = (memory: LiveMemory) => memory.heapUsedMb + memory.externalMb;
      const liveGrowthMb = live(againLive) - live(endLive);
      const collectedGrowthMb = againLive.rssMb - baseLive.rssMb;
      const flat = liveGrowthMb < LIVE_GROWTH_LIMIT_MB && collectedGrowthMb < RSS_GROWTH_LIMIT_MB;
      const notes = [
        `${hostile.length} hostile bodies (6 at a time): ${accepted} accepted with a 2xx (${acceptedAgain} in the passes after); by kind: ${[...byKind].map(([kind, counts]) => `${kind} ${[...counts].map(([s, n]) => `${n}×${s}`).join('/')}`).join('; ')}`,
        `${lane.length} genuine messages interleaved (${genuineCount} SES events + ${lane.length - genuineCount} signed ones with hostile contents): ${statusOf(laneResults)}; ${replays.length} replays of them afterwards: ${statusOf(replayResults)}; in the ${AGAIN_PASSES} passes after: ${statusOf(genuineAgain)}`,
        `5xx other than 503: ${unexpected5xx}; 503 with the database up: ${answered503}` +
          (answered503 > 0
            ? ` (of which ${lane.filter((m, i) => laneResults[i]?.status === 503 && contentIds.has(m.snsMessageId)).length} first deliveries of signed messages with hostile contents, e.g. a NUL byte in an address or in the Message, which PostgreSQL refuses in text and jsonb: the webhook reports any database error as "unavailable", so SNS would retry such a message forever)`
            : ''),
        `server memory after a full garbage collection: live heap and external ${live(baseLive).toFixed(1)} MB after ${warm} warm-up bodies, ${live(endLive).toFixed(1)} MB at the end, ${live(againLive).toFixed(1)} MB after ${AGAIN_PASSES} more passes of the hostile bodies and the genuine messages (growth over them ${liveGrowthMb.toFixed(1)} MB, limit ${LIVE_GROWTH_LIMIT_MB}); resident ${baseLive.rssMb.toFixed(0)} → ${againLive.rssMb.toFixed(0)} MB (growth ${collectedGrowthMb.toFixed(0)} MB, limit ${RSS_GROWTH_LIMIT_MB}): ${flat ? 'flat' : 'NOT flat'}`,
        `resident memory before collecting: ${baseMb.toFixed(0)} MB after the warm-up, ${endMb.toFixed(0)} MB at the end (growth ${growthMb.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; garbage included)`,
        same ? 'end state equals that of the genuine messages alone, applied once in order: the hostile bodies changed nothing' : 'end state DIFFERS from that of the genuine messages alone:',
        ...describeDifference(reference.digest, actual),
      ];
      return {
        faults: `${hostile.length} hostile bodies of ${byKind.size} kinds + ${replays.length} replays, then the hostile bodies and the genuine messages ${AGAIN_PASSES} times more`,
        messages: hostile.length + lane.length + replays.length + AGAIN_PASSES * (hostile.length - warm + lane.length),
        lost: lostGenuine,
        doubled: null,
        http5xx: unexpected5xx,
        peakMemoryMb: server.peakMb,
        pass: same && accepted === 0 && acceptedAgain === 0 && genuineAgain.every((r) => r.status >= 200 && r.status < 300) && unexpected5xx === 0 && answered503 === 0 && flat && server.crashes.length === 0,
        ran: true,
        notes,
      };
    } finally {
      await server?.stop();
      await scratch.drop();
    }
  },
};
