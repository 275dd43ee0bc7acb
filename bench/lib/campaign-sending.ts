import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { sql } from 'kysely';
import { jobs } from '../../jobs/registry.js';
import type { App } from '../../src/app/app.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { enqueueSends } from '../../src/campaigns/enqueue.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { renderCampaignMessage, SAMPLE_RECIPIENT, sampleToken } from '../../src/campaigns/message.js';
import { queueTodaysShare } from '../../src/campaigns/planner.js';
import { SEND_SLOTS } from '../../src/pace/pace.js';
import type { Db } from '../../src/db/connect.js';
import { sendMessage } from '../../src/mail/send.js';
import { createSesClient } from '../../src/mail/ses-client.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { plannedCampaign } from './campaign-fixtures.js';
import { describeShares, watchMainThread, type MainThreadShare } from './main-thread.js';
import { describeRoundTrips, watchRoundTrips, type RoundTrips } from './round-trips.js';
import { describeCpuPerMessage, watchProcessCpu, type CpuByPart, type PartOf } from './process-cpu.js';

/** One round of each sending contender of the campaign benchmark (bench/campaign.ts sendingBench). */

export const SEND_MESSAGES = Number(process.env.BENCH_CAMPAIGN_SENDS ?? 20_000);
/** SendEmail calls in flight: the bare loop runs as many as one worker process does. */
export const CONCURRENCY = SEND_SLOTS;
const number = new Intl.NumberFormat('en-US');

/**
 * A sending round's contenders (BENCH_SENDING_ORDER names them): the bare
 * loops, the send queue with its queues on Redis (`queue`) and on BullMQ's
 * PostgreSQL backend in the same database (`queue-pg`).
 */
export type Contender = 'bare' | 'bare-tuned' | 'queue' | 'queue-pg';
export const CONTENDERS: readonly Contender[] = ['bare', 'bare-tuned', 'queue', 'queue-pg'];

export interface RoundFigures {
  rate: number;
  mainThread: MainThreadShare | undefined;
  cpu: CpuByPart | undefined;
}

/**
 * The bare loop: the same rendered message, SEND_MESSAGES sends, CONCURRENCY
 * in flight. `bare` is an SESv2Client as anyone would make one (region,
 * endpoint, credentials: the SDK's defaults otherwise), the issue's
 * baseline; `bare-tuned` is the client the worker sends with
 * (createSesClient), which shows how much of the difference is the SDK's
 * own per-request work rather than the send queue's.
 */
export async function bareLoopRate(app: App, endpoint: string, parts: PartOf, client: 'bare' | 'bare-tuned'): Promise<RoundFigures> {
  const bare =
    client === 'bare'
      ? new SESv2Client({ region: app.config.AWS_REGION, endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
      : createSesClient({ AWS_REGION: app.config.AWS_REGION, SES_ENDPOINT: endpoint });
  const message = renderCampaignMessage(app.config, 'reverify-email', SAMPLE_RECIPIENT, sampleToken(new Date(), 168));
  let next = 0;
  const started = performance.now();
  const watch = watchMainThread();
  const cpu = watchProcessCpu(parts);
  const profile = await startCpuProfile(client);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < SEND_MESSAGES) {
        const i = next++;
        await sendMessage(bare, app.config, { to: `bare-${i}@example.com`, message, tags: { campaign_id: '0', recipient_id: String(i), kind: 'campaign' } });
      }
    }),
  );
  const rate = SEND_MESSAGES / ((performance.now() - started) / 1000);
  const mainThread = watch.stop();
  const cpuByPart = cpu.stop();
  console.error(`[bench] campaign: ${client} round ${rate.toFixed(0)} msg/s; main thread ${describeShares([mainThread])}; ${describeCpuPerMessage([cpuByPart], SEND_MESSAGES)}`);
  await profile.stop();
  bare.destroy();
  return { rate, mainThread, cpu: cpuByPart };
}

/**
 * Through the send queue: SEND_MESSAGES ledger rows of a new campaign queued
 * for today, limiter off, on whichever queue backend `app` has (`label`
 * names the round in the log and the CPU profile).
 */
export async function sendQueueRate(
  app: App,
  parts: PartOf,
  label = 'send-queue',
): Promise<RoundFigures & { outcome: Record<string, number>; wal: WalWritten; trips: RoundTrips }> {
  const campaign = await plannedCampaign(app, SEND_MESSAGES);
  const queued = await queueTodaysShare(app.db, campaign, { now: new Date(), maxPerTick: SEND_MESSAGES });
  if (queued.queued.length !== SEND_MESSAGES) throw new Error(`queued ${queued.queued.length} rows, wanted ${SEND_MESSAGES}: the seed's segment is too small`);
  await enqueueSends(app, queued.queued);
  await settleDatabase(app.db);
  const wal = await watchWal(app.db);
  const started = performance.now();
  const watch = watchMainThread();
  const cpu = watchProcessCpu(parts);
  const profile = await startCpuProfile(label);
  const tripsWatch = await watchRoundTrips(app.db);
  const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send], limiter: false });
  const outcome = await untilFinal(app, campaign);
  const trips = await tripsWatch.stop();
  await profile.stop();
  const rate = queued.queued.length / ((performance.now() - started) / 1000);
  const mainThread = watch.stop();
  const cpuByPart = cpu.stop();
  await workers.close();
  const walWritten = await wal.stop();
  console.error(
    `[bench] campaign: ${label} round ${rate.toFixed(0)} msg/s; main thread ${describeShares([mainThread])}; ${describeCpuPerMessage([cpuByPart], SEND_MESSAGES)}; WAL a message ${describeWal([walWritten], SEND_MESSAGES)}; ${describeRoundTrips(trips, SEND_MESSAGES)} (the bench's own queue polling, 20 a second, included)`,
  );
  return { rate, mainThread, cpu: cpuByPart, outcome, wal: walWritten, trips };
}

/**
 * With BENCH_CPU_PROFILE=<dir>, each sending round writes a V8 CPU profile
 * of this process there (open it in Chrome's DevTools): where the main
 * thread spends its time per message, bare loop against send queue.
 */
async function startCpuProfile(contender: string): Promise<{ stop(): Promise<void> }> {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return { stop: async () => undefined };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${contender}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * Planning a round's campaign writes a ledger row for the whole segment
 * (162,000 rows at 1M users) just before the round: left alone, autovacuum
 * for those rows runs inside the timed sends (one run: each queue round
 * slower than the one before, 1,493 → 1,398 → 1,235 msg/s). The round starts
 * on a vacuumed table instead; the sends' own writes still count.
 */
async function settleDatabase(db: Db): Promise<void> {
  await sql`VACUUM ANALYZE campaign_recipients, verification_tokens`.execute(db);
}

/**
 * Waits until the send queue is empty, then returns the campaign's rows by
 * status (none may be left queued or sending). Watched in the queue store,
 * not by counting ledger rows: a count over 20,000 rows four times a second
 * takes PostgreSQL CPU from the senders being measured.
 */
async function untilFinal(app: App, campaignId: string): Promise<Record<string, number>> {
  const queue = app.queues.get(QUEUE_NAMES.send);
  for (;;) {
    const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { pending: _planned, ...byStatus } = await countRowsByStatus(app.db, campaignId);
  if (byStatus.queued || byStatus.sending) throw new Error(`the send queue is empty but rows are unfinished: ${JSON.stringify(byStatus)}`);
  return byStatus;
}

export interface WalWritten {
  records: number;
  bytes: number;
  /** Checkpoints PostgreSQL started meanwhile (timed or requested). */
  checkpoints: number;
}

/**
 * PostgreSQL's WAL written from now until `stop` (pg_stat_wal, the whole
 * server): what a round's writes cost the database. Unlike CPU time it does
 * not move with the machine's load, so it shows a change to the statements
 * in one round. Also counts the checkpoints that began meanwhile: one
 * writes out every dirty page and flushes it while the round runs.
 */
async function watchWal(db: Db): Promise<{ stop(): Promise<WalWritten> }> {
  const read = async (): Promise<WalWritten> => {
    const { rows } = await sql<{ records: string; bytes: string; checkpoints: string }>`
      SELECT wal_records::text AS records, wal_bytes::text AS bytes,
             (SELECT (checkpoints_timed + checkpoints_req)::text FROM pg_stat_bgwriter) AS checkpoints
      FROM pg_stat_wal`.execute(db);
    return { records: Number(rows[0]!.records), bytes: Number(rows[0]!.bytes), checkpoints: Number(rows[0]!.checkpoints) };
  };
  const start = await read();
  return {
    async stop() {
      const end = await read();
      return { records: end.records - start.records, bytes: end.bytes - start.bytes, checkpoints: end.checkpoints - start.checkpoints };
    },
  };
}

/** Mean WAL a message over rounds, as "21.2 records, 1,921 bytes", and the checkpoints that fell inside them. */
export function describeWal(rounds: readonly WalWritten[], messages: number): string {
  if (rounds.length === 0) return 'no rounds';
  const mean = (pick: (wal: WalWritten) => number) => rounds.reduce((sum, wal) => sum + pick(wal), 0) / rounds.length / messages;
  const checkpoints = rounds.reduce((sum, wal) => sum + wal.checkpoints, 0);
  return `${mean((wal) => wal.records).toFixed(1)} records, ${number.format(Math.round(mean((wal) => wal.bytes)))} bytes (${checkpoints} checkpoint${checkpoints === 1 ? '' : 's'} began during ${rounds.length === 1 ? 'the round' : 'the rounds'})`;
}
