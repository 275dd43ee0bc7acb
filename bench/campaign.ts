import { sql } from 'kysely';
import { createApp, type App } from '../src/app/app.js';
import { SEND_SLOTS, sendBatchSize, sendJobConcurrency } from '../src/pace/pace.js';
import { runCampaignTick } from '../src/campaigns/tick.js';
import { loadConfig } from '../src/config.js';
import type { Db } from '../src/db/connect.js';
import { PROFILES } from '../src/seed/profiles.js';
import { seedDatabase } from '../src/seed/seed.js';
import { createScratchDatabase } from './lib/scratch.js';
import { clearQueues, configEnv, median, ms, newCampaign, sampleRss, spawnLocalSes } from './lib/campaign-fixtures.js';
import { rateBench } from './lib/campaign-rate.js';
import { bareLoopRate, CONCURRENCY, CONTENDERS, describeWal, SEND_MESSAGES, sendQueueRate, type Contender, type RoundFigures, type WalWritten } from './lib/campaign-sending.js';
import { describeShares } from './lib/main-thread.js';
import { benchParts, describeCpuPerMessage, type PartOf } from './lib/process-cpu.js';
import type { BenchResult } from './types.js';

/**
 * Campaign benchmarks on a 1,000,000-user pypi-2018 seed:
 * 1. planning the whole campaign (a first tick: ledger rows for the whole
 *    segment in keyset batches, today's budget queued, its jobs enqueued)
 *    against one raw INSERT … SELECT of the same rows, with peak RSS;
 * 2. sending 20,000 messages through the send queue (limiter off) against a
 *    bare SESv2Client loop at the same concurrency, same local SES; and the
 *    send queue with its queues on BullMQ's PostgreSQL backend (in the same
 *    database) against the send queue on Redis, same run;
 * 3. the achieved rate with SES_MAX_SEND_RATE=50 over 30 s, and the busiest
 *    one-second window, with the queues on Redis (`rate`) and on PostgreSQL
 *    (`rate-pg`).
 */

/** BENCH_CAMPAIGN_USERS, else BENCH_USERS (the scale knob shared with the sweep bench: BENCH_USERS=10000000), else 1,000,000. */
const USERS = Number(process.env.BENCH_CAMPAIGN_USERS ?? process.env.BENCH_USERS ?? 1_000_000);
/** Which parts run (`planning`, `sending`, `rate`, `rate-pg`; all by default): lets one be re-measured alone. */
const PARTS = (process.env.BENCH_CAMPAIGN_PARTS ?? 'planning,sending,rate,rate-pg').split(',');
/**
 * BENCH_CAMPAIGN_PRIOR_DAYS=N: before the planning rounds, an earlier
 * campaign mailed every segment member N days ago (N above the 30-day
 * cooldown, so everyone is still planned): every person's cooldown probe then
 * finds an entry and reads its date, the probe's worst case. Unset: no
 * earlier campaign (the ledger holds only the round's rows).
 */
const PRIOR_DAYS = process.env.BENCH_CAMPAIGN_PRIOR_DAYS === undefined ? undefined : Number(process.env.BENCH_CAMPAIGN_PRIOR_DAYS);
/** SES_MAX_SEND_RATE for the limiter-off rounds: never reached here, so jobs carry the most rows. */
const UNLIMITED_RATE = 10_000;
/** Sending rounds: each contender three times (bare-tuned twice), positions spread. */
const DEFAULT_ORDER = 'bare,queue,queue-pg,bare-tuned,queue-pg,queue,bare,bare-tuned,queue,queue-pg,bare';
/** BENCH_CAMPAIGN_DATABASE: another scratch database (and queue prefix), so two runs (e.g. 1M and 10M) can go side by side. */
const DATABASE = process.env.BENCH_CAMPAIGN_DATABASE ?? 'rv_bench_campaign';
const PREFIX = `{${DATABASE.replace(/_/g, '-')}}`;
/**
 * BENCH_CAMPAIGN_KEEP_SEED=1: keep the scratch database after the run, and
 * reuse it (migrated, its campaigns removed) when it already holds the seed of
 * this many users: a 10,000,000-user seed takes ~20 minutes on 2 cores.
 */
const KEEP_SEED = process.env.BENCH_CAMPAIGN_KEEP_SEED === '1';
const number = new Intl.NumberFormat('en-US');

export async function run(): Promise<BenchResult[]> {
  const scratch = await createScratchDatabase(DATABASE, { keep: KEEP_SEED });
  const ses = await spawnLocalSes();
  const config = loadConfig({
    DATABASE_URL: scratch.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: PREFIX,
    SES_ENDPOINT: ses.endpoint,
    MAIL_FROM: 'bench <bench@example.org>',
    PUBLIC_BASE_URL: 'https://example.org',
    LOG_LEVEL: 'silent',
  });
  const app = createApp(config);
  try {
    await clearQueues(app);
    await seedOnce(app.db, scratch.kept);
    const results: BenchResult[] = [];
    if (PARTS.includes('planning')) results.push(await planningBench(app));
    if (PARTS.includes('sending')) results.push(...(await sendingBench(app, ses.endpoint, benchParts(ses.pid))));
    if (PARTS.includes('rate')) results.push(...(await rateBench(app, 'redis')));
    if (PARTS.includes('rate-pg')) results.push(...(await rateBench(app, 'postgres')));
    return results;
  } finally {
    await clearQueues(app).catch(() => undefined);
    await app.close();
    ses.stop();
    await scratch.drop();
  }
}

/** Seeds the users, unless a kept database already holds them (then only its campaigns from an earlier run go). */
async function seedOnce(db: Db, kept: boolean): Promise<void> {
  if (kept && Number((await sql<{ n: string }>`SELECT count(*) AS n FROM users`.execute(db)).rows[0]!.n) === USERS) {
    await sql`TRUNCATE campaign_recipients, campaigns CASCADE`.execute(db);
    await sql`VACUUM ANALYZE`.execute(db);
    console.error(`[bench] campaign: reusing the kept seed of ${number.format(USERS)} users`);
    return;
  }
  if (kept) await sql`TRUNCATE users CASCADE`.execute(db);
  const seedStarted = Date.now();
  await seedDatabase(db, { users: USERS, temporaryAccounts: 0, profile: PROFILES['pypi-2018']!, seed: 7, now: new Date() });
  await sql`VACUUM ANALYZE`.execute(db);
  console.error(`[bench] campaign: seeded ${number.format(USERS)} users in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
}

async function planningBench(app: App): Promise<BenchResult> {
  const db = app.db;
  let bestRaw = Infinity;
  let bestPlan = Infinity;
  let peakRss = 0;
  let rows = 0;
  const prior = PRIOR_DAYS === undefined ? 0 : await earlierCampaignMailedEveryone(db, PRIOR_DAYS);
  for (let round = 0; round < 2; round += 1) {
    const order = round === 0 ? ['raw', 'plan'] : ['plan', 'raw'];
    for (const which of order) {
      const campaign = await newCampaign(db, `planning ${which} ${round}`);
      if (which === 'raw') {
        const started = performance.now();
        const inserted = await rawInsertSelect(db, campaign);
        bestRaw = Math.min(bestRaw, performance.now() - started);
        rows = inserted;
      } else {
        await db.updateTable('campaigns').set({ status: 'scheduled' }).where('id', '=', campaign).execute();
        const sampler = sampleRss();
        const started = performance.now();
        const tick = await runCampaignTick(app, campaign);
        bestPlan = Math.min(bestPlan, performance.now() - started);
        peakRss = Math.max(peakRss, sampler.stop());
        if (tick.planned === 0) throw new Error('the planner planned nobody: the seed has no segment');
      }
      await db.deleteFrom('campaign_recipients').where('campaign_id', '=', campaign).execute();
      await sql`VACUUM ANALYZE campaign_recipients`.execute(db);
      await clearQueues(app);
    }
  }
  const ratio = bestPlan / (1.5 * bestRaw);
  const rssMb = peakRss / 2 ** 20;
  console.error(`[bench] campaign: ${number.format(rows)} rows; raw INSERT … SELECT ${ms(bestRaw)}, planning tick ${ms(bestPlan)}, peak RSS ${rssMb.toFixed(0)} MB`);
  return {
    name: `planning the whole campaign (${number.format(rows)} ledger rows + first day's jobs), ${number.format(USERS)} users${prior > 0 ? `, ${number.format(prior)} of them mailed by an earlier campaign ${PRIOR_DAYS} days ago` : ''}`,
    figure: `${ms(bestPlan)}, peak RSS ${rssMb.toFixed(0)} MB`,
    limit: `1.5 × raw INSERT … SELECT (${ms(bestRaw)}); RSS < 256 MB`,
    ratio,
    pass: ratio <= 1 && rssMb < 256,
    notes: `best of two rounds each, alternating order; keyset batches of 10,000 rows, one transaction each; ${ms(bestPlan / (USERS / 1e6))} per million users (linear scaling: the same at every BENCH_USERS)`,
  };
}

/** An earlier campaign whose ledger says it mailed every segment member `daysAgo` days ago; returns how many. */
async function earlierCampaignMailedEveryone(db: Db, daysAgo: number): Promise<number> {
  if (!(daysAgo > 30)) throw new Error(`BENCH_CAMPAIGN_PRIOR_DAYS must be above the 30-day cooldown (everyone must still be planned); got ${daysAgo}`);
  const campaign = await newCampaign(db, 'earlier campaign');
  const inserted = await rawInsertSelect(db, campaign);
  await sql`UPDATE campaign_recipients SET status = 'sent', sending_at = now() - make_interval(days => ${daysAgo}::int),
    sent_at = now() - make_interval(days => ${daysAgo}::int) WHERE campaign_id = ${campaign}::bigint`.execute(db);
  await sql`VACUUM ANALYZE campaign_recipients`.execute(db);
  console.error(`[bench] campaign: an earlier campaign mailed ${number.format(inserted)} people ${daysAgo} days ago`);
  return inserted;
}

/**
 * The baseline: the same rows (the segment of a campaign with an empty
 * ledger) written by one hand-written INSERT … SELECT: no batches, no cursor,
 * no ledger check (a NOT EXISTS on the table being filled makes PostgreSQL
 * re-read its own new rows for every row, quadratic), no jobs.
 */
async function rawInsertSelect(db: Db, campaignId: string): Promise<number> {
  const result = await sql`
    INSERT INTO campaign_recipients (campaign_id, user_id, email_id, email, status)
    SELECT ${campaignId}::bigint, e.user_id, e.id, e.email, 'pending'
    FROM emails e JOIN users u ON u.id = e.user_id
    WHERE e.is_primary AND NOT e.verified AND e.unverify_reason IS NULL
      AND u.is_active AND NOT u.is_temporary
      AND EXISTS (SELECT 1 FROM roles r WHERE r.user_id = e.user_id)
      AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(e.email))`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * BENCH_SENDING_ORDER (e.g. "queue,queue-pg,queue,queue-pg") changes the
 * rounds when re-measuring some contenders: `queue` at least once, and
 * `bare` or `queue-pg` to compare it with.
 */
function sendingOrder(): Contender[] {
  const order = (process.env.BENCH_SENDING_ORDER ?? DEFAULT_ORDER).split(',') as Contender[];
  if (!order.every((which) => CONTENDERS.includes(which)) || !order.includes('queue') || !(order.includes('bare') || order.includes('queue-pg'))) {
    throw new Error(
      `BENCH_SENDING_ORDER must list rounds of ${CONTENDERS.map((name) => `"${name}"`).join(', ')}, comma-separated, with "queue" and one of "bare" or "queue-pg" at least once each; got "${order.join(',')}"`,
    );
  }
  return order;
}

async function sendingBench(app: App, endpoint: string, parts: PartOf): Promise<BenchResult[]> {
  // Autovacuum after the seed and the planning rounds would otherwise weigh on
  // whichever contender runs first.
  await sql`VACUUM ANALYZE`.execute(app.db);
  // Three rounds of the bare loop and of the send queue on each backend, two
  // of the bare loop on reverify's own client, positions spread; the best of
  // each counts, the medians are reported beside it. Single rounds vary by
  // 10–25% on this shared machine.
  const order = sendingOrder();
  const rounds: Record<Contender, RoundFigures[]> = { bare: [], 'bare-tuned': [], queue: [], 'queue-pg': [] };
  const wal: Record<'queue' | 'queue-pg', WalWritten[]> = { queue: [], 'queue-pg': [] };
  let outcome: Record<string, number> = {};
  // "Limiter off": the BullMQ limiter is disabled and SES_MAX_SEND_RATE is set
  // far above what this machine can send, so jobs carry the most rows
  // (sendBatchSize) as they would at a high real quota.
  const unlimited = { ...configEnv(app), SES_MAX_SEND_RATE: String(UNLIMITED_RATE) };
  const unlimitedApp = createApp(loadConfig({ ...unlimited, QUEUE_BACKEND: 'redis' }));
  // The same, with the queues in the same database on BullMQ's PostgreSQL backend.
  const postgresApp = order.includes('queue-pg') ? createApp(loadConfig({ ...unlimited, QUEUE_BACKEND: 'postgres' })) : undefined;
  await postgresApp?.queueBackend.prepare();
  for (const which of order) {
    // The local SES keeps every message in memory; each round starts it empty,
    // so the sink is the same for every round, not one 20,000 messages heavier.
    await fetch(`${endpoint}/clear-store`, { method: 'POST' });
    if (which === 'queue' || which === 'queue-pg') {
      const round = await sendQueueRate(which === 'queue' ? unlimitedApp : postgresApp!, parts, which === 'queue' ? 'send-queue' : 'send-queue-pg');
      rounds[which].push(round);
      wal[which].push(round.wal);
      outcome = round.outcome;
    } else {
      rounds[which].push(await bareLoopRate(app, endpoint, parts, which));
    }
  }
  await unlimitedApp.close();
  const postgresLocation = postgresApp?.queueBackend.location;
  await postgresApp?.close();
  const rates = (which: Contender) => rounds[which].map((round) => round.rate);
  const best = (which: Contender) => Math.max(...rates(which));
  const listed = (which: Contender) => rates(which).map((rate) => rate.toFixed(0)).join(', ');
  const shares = (which: Contender) => describeShares(rounds[which].map((round) => round.mainThread));
  const cpu = (which: Contender) => describeCpuPerMessage(rounds[which].map((round) => round.cpu), SEND_MESSAGES);
  const ourRate = best('queue');
  console.error(`[bench] campaign: ${(['bare', 'queue', 'queue-pg', 'bare-tuned'] as const).filter((which) => rounds[which].length > 0).map((which) => `${which} ${listed(which)} msg/s`).join(', ')}`);
  const results: BenchResult[] = [];
  if (rounds.bare.length > 0) {
    const bareRate = best('bare');
    const ratio = (0.8 * bareRate) / ourRate;
    const medianRatio = median(rates('queue')) / median(rates('bare'));
    const tuned = rounds['bare-tuned'].length > 0
      ? `; the bare loop on reverify's own client (createSesClient: middleware cached, no SDK retries) ${listed('bare-tuned')} msg/s, the send queue's best ${((100 * ourRate) / best('bare-tuned')).toFixed(0)}% of its best, main thread ${shares('bare-tuned')}, ${cpu('bare-tuned')}`
      : '';
    results.push({
      name: `sending ${number.format(SEND_MESSAGES)} messages to local SES, limiter off, concurrency ${CONCURRENCY}`,
      figure: `${ourRate.toFixed(0)} msg/s`,
      limit: `≥ 80% of bare SESv2Client loop (${bareRate.toFixed(0)} msg/s); ratio = limit / figure`,
      ratio,
      pass: ratio <= 1,
      notes: `best of the rounds of each, order ${order.join(', ')} (bare ${listed('bare')}; queue ${listed('queue')} msg/s; median against median ${(100 * medianRatio).toFixed(0)}%); the main thread running/waiting for a core/asleep, mean of rounds: bare ${shares('bare')}, queue ${shares('queue')}; all processes, mean of rounds: bare ${cpu('bare')}, queue ${cpu('queue')}; PostgreSQL's WAL a message, mean of queue rounds: ${describeWal(wal.queue, SEND_MESSAGES)}${tuned}; SES_MAX_SEND_RATE=${number.format(UNLIMITED_RATE)} with the BullMQ limiter off: ${sendBatchSize(unlimitedApp.config)} rows a job, ${sendJobConcurrency(unlimitedApp.config)} jobs at once, at most ${SEND_SLOTS} SendEmail calls in flight; each send re-checks eligibility, claims the row (sending), issues a token, renders, sends and records the MessageId; last round's rows by final status: ${JSON.stringify(outcome)}`,
    });
  }
  if (rounds['queue-pg'].length > 0) {
    const postgresRate = best('queue-pg');
    const ratio = (0.6 * ourRate) / postgresRate;
    const medianRatio = median(rates('queue-pg')) / median(rates('queue'));
    results.push({
      name: `sending ${number.format(SEND_MESSAGES)} messages to local SES, limiter off, concurrency ${CONCURRENCY}, queue on PostgreSQL`,
      figure: `${postgresRate.toFixed(0)} msg/s`,
      limit: `≥ 60% of the send queue on Redis, same run (${ourRate.toFixed(0)} msg/s); ratio = limit / figure`,
      ratio,
      pass: ratio <= 1,
      notes: `best of the rounds of each, order ${order.join(', ')} (queue on Redis ${listed('queue')}; on PostgreSQL ${listed('queue-pg')} msg/s; best ${(100 * (postgresRate / ourRate)).toFixed(0)}% of best, median against median ${(100 * medianRatio).toFixed(0)}%); queues on ${postgresLocation}; the main thread running/waiting for a core/asleep, mean of rounds: Redis ${shares('queue')}, PostgreSQL ${shares('queue-pg')}; all processes, mean of rounds: Redis ${cpu('queue')}, PostgreSQL ${cpu('queue-pg')}; PostgreSQL's WAL a message, mean of rounds: Redis ${describeWal(wal.queue, SEND_MESSAGES)}, PostgreSQL ${describeWal(wal['queue-pg'], SEND_MESSAGES)}`,
    });
  }
  return results;
}
