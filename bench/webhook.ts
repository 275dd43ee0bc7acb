import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.js';
import { createDb, type Db } from '../src/db/connect.js';
import { ingestNotification } from '../src/ses-events/ingest.js';
import { createLocalSnsSigner } from '../src/dev/sns-signer.js';
import { sampleSesEvent } from '../src/dev/sample-events.js';
import { parseSesEvent, type SesEvent } from '../src/ses-events/ses-payload.js';
import type { AddressEventKind } from '../src/ses-events/state-machine.js';
import { createScratchDatabase } from './lib/scratch.js';
import type { BenchResult } from './types.js';

/**
 * The SES webhook against its own database transaction: NOTIFICATIONS signed
 * SNS notifications posted over real HTTP (keep-alive, CONCURRENCY in flight)
 * to the webhook server running as its own process, next to the same ingest
 * transaction called directly from a pg pool of the same size at the same
 * concurrency on a second, identical set of addresses. The two alternate in
 * ROUNDS rounds of the same run. The webhook ingests concurrent notifications
 * in groups (src/ses-events/ingest-group.ts); the direct contender stays one
 * transaction per event (ingestNotification), the limit of issue 27. The
 * signing certificate starts absent from the cache and is "downloaded" from a
 * fetch that counts.
 */

const NOTIFICATIONS = Number(process.env.BENCH_WEBHOOK_NOTIFICATIONS ?? 20_000);
const CONCURRENCY = 32;
const ADDRESSES = 10_000;
const WARMUP = 1_000;
const ROUNDS = 4;
const POOL_SIZE = Number(process.env.BENCH_WEBHOOK_POOL ?? 10);
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-bench';
const DATABASE = 'rv_bench_webhook';

/** A realistic mix: mostly deliveries, some bounces and sends, a few complaints. */
function kindOf(i: number): AddressEventKind {
  const slot = i % 20;
  if (slot < 12) return 'delivery';
  if (slot < 15) return 'soft_bounce';
  if (slot < 17) return 'hard_bounce';
  if (slot < 19) return 'send';
  return 'complaint';
}

function eventDocument(set: string, i: number): string {
  return sampleSesEvent(kindOf(i), { to: `${set}-${i % ADDRESSES}@bench.example.net`, sesMessageId: `${set}-ses-${i}` });
}

export async function run(): Promise<BenchResult[]> {
  const scratch = await createScratchDatabase(DATABASE);
  const certDir = await mkdtemp(path.join(tmpdir(), 'rv-bench-sns-'));
  try {
    await seedAddresses(scratch.db);
    const config = loadConfig({ DATABASE_URL: scratch.url, SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: certDir, LOG_LEVEL: 'error' });

    // Prepared before any timing: the limit's parsed events and the webhook's signed bodies.
    const directEvents = Array.from({ length: NOTIFICATIONS }, (_, i) => parseSesEvent(eventDocument('direct', i)));
    const signer = await createLocalSnsSigner({ certCacheDir: certDir, install: false });
    console.error(`[bench] webhook: signing ${NOTIFICATIONS + WARMUP} notifications …`);
    const bodies = Array.from({ length: NOTIFICATIONS + WARMUP }, (_, i) =>
      JSON.stringify(signer.signedNotification({ topicArn: TOPIC, message: eventDocument('http', i), signatureVersion: i % 2 === 0 ? '1' : '2' })),
    );

    // The webhook runs as a server process of its own; its certificate cache starts empty.
    const pemFile = path.join(certDir, 'signing-cert.pem.src');
    await writeFile(pemFile, signer.certificatePem);
    const server = await startWebhookServer({
      ...process.env,
      DATABASE_URL: scratch.url,
      SNS_TOPIC_ARNS: TOPIC,
      SNS_CERT_CACHE_DIR: certDir,
      LOG_LEVEL: 'error',
      BENCH_CERT_PEM: pemFile,
      BENCH_WEBHOOK_POOL: String(POOL_SIZE),
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const pool = createDb(scratch.url, { max: POOL_SIZE });
    let failures = 0;
    const direct = new Recorder();
    const webhook = new Recorder();
    let fetchCount;
    try {
      const postBody = async (body: string) => {
        const status = await postOnce(agent, server.port, body);
        if (status !== 200) failures += 1;
      };
      const ingestDirect = (i: number) =>
        ingestNotification(pool, { snsMessageId: `direct-${i}`, topicArn: TOPIC, event: directEvents[i] as SesEvent, softBounceLimit: config.SOFT_BOUNCE_LIMIT });
      for (let i = 0; i < WARMUP; i += CONCURRENCY) {
        await Promise.all(bodies.slice(NOTIFICATIONS + i, NOTIFICATIONS + i + CONCURRENCY).map(postBody));
      }
      // A checkpoint now rather than one falling due in the middle of a round
      // (the seed and the warm-up wrote a lot of WAL): both contenders start clean.
      await sql`CHECKPOINT`.execute(pool);
      // Rounds alternate between the limit and the webhook, so a change in the
      // machine's load during the run weighs on both alike.
      const chunk = Math.ceil(NOTIFICATIONS / ROUNDS);
      for (let from = 0; from < NOTIFICATIONS; from += chunk) {
        const to = Math.min(NOTIFICATIONS, from + chunk);
        await direct.run(from, to, async (i) => void (await ingestDirect(i)));
        await webhook.run(from, to, (i) => postBody(bodies[i] as string));
      }
      fetchCount = await server.fetchCount();
    } finally {
      agent.destroy();
      await pool.destroy();
      await server.stop();
    }
    const directFigures = direct.figures();
    const webhookFigures = webhook.figures();
    console.error(`[bench] webhook: direct ${directFigures.rate.toFixed(0)}/s, HTTP ${webhookFigures.rate.toFixed(0)}/s, p50 ${webhookFigures.p50.toFixed(1)} ms, p99 ${webhookFigures.p99.toFixed(1)} ms`);
    const stored = await scratch.db.selectFrom('email_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const expected = 2 * NOTIFICATIONS + WARMUP;
    if (failures > 0 || Number(stored.n) !== expected) {
      throw new Error(`webhook benchmark lost work: ${failures} non-200 answers, ${stored.n} of ${expected} events stored`);
    }

    const ratio = webhookFigures.rate / directFigures.rate;
    const p99Ratio = webhookFigures.p99 / directFigures.p99;
    const extraFetches = Math.max(0, fetchCount - 1);
    return [
      {
        name: `webhook throughput, ${NOTIFICATIONS.toLocaleString('en')} signed notifications, concurrency ${CONCURRENCY}`,
        figure: `${webhookFigures.rate.toFixed(0)} notifications/s`,
        limit: `≥ 1.0 of the same per-event transaction direct from a pg pool (${directFigures.rate.toFixed(0)}/s); higher ratio is better`,
        ratio,
        pass: ratio >= 1.0,
        notes: `direct p50 ${directFigures.p50.toFixed(1)} ms, p99 ${directFigures.p99.toFixed(1)} ms; ${ROUNDS} alternating rounds; pool ${POOL_SIZE} connections both ways; mix 60% delivery, 15% transient, 10% permanent bounce, 10% send, 5% complaint over ${ADDRESSES.toLocaleString('en')} addresses; v1 and v2 signatures alternate`,
      },
      {
        name: 'webhook latency',
        figure: `p99 ${webhookFigures.p99.toFixed(1)} ms (p50 ${webhookFigures.p50.toFixed(1)} ms)`,
        // An absolute p99 moves with the machine's load; the ratio to the direct transaction's, measured alongside, does not.
        limit: `p99 ≤ 1.2 × the direct transaction's (p99 ${directFigures.p99.toFixed(1)} ms, p50 ${directFigures.p50.toFixed(1)} ms)`,
        ratio: p99Ratio,
        pass: p99Ratio <= 1.2,
      },
      {
        name: 'certificate fetches after the first',
        figure: String(extraFetches),
        limit: '0',
        ratio: extraFetches,
        pass: extraFetches === 0,
        notes: `${fetchCount} fetch in total (the cache started empty)`,
      },
    ];
  } finally {
    await rm(certDir, { recursive: true, force: true });
    await scratch.drop();
  }
}

async function seedAddresses(db: Db): Promise<void> {
  for (const set of ['direct', 'http']) {
    await sql`
      WITH new_users AS (
        INSERT INTO users (username) SELECT ${set} || '-user-' || g FROM generate_series(0, ${ADDRESSES - 1}) g RETURNING id, username
      )
      INSERT INTO emails (user_id, email, is_primary, verified, verified_at)
      SELECT id, replace(username, '-user-', '-') || '@bench.example.net', true, true, now() - interval '30 days' FROM new_users
    `.execute(db);
  }
  await sql`ANALYZE`.execute(db);
}

/** Runs tasks with CONCURRENCY in flight and keeps their latencies and the time spent, over several rounds. */
class Recorder {
  private readonly latencies: number[] = [];
  private seconds = 0;

  async run(from: number, to: number, task: (i: number) => Promise<void>): Promise<void> {
    let next = from;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < to; i = next++) {
          const t0 = performance.now();
          await task(i);
          this.latencies.push(performance.now() - t0);
        }
      }),
    );
    this.seconds += (performance.now() - started) / 1000;
  }

  figures(): { rate: number; p50: number; p99: number } {
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
    return { rate: this.latencies.length / this.seconds, p50: at(0.5), p99: at(0.99) };
  }
}

/** bench/lib/webhook-server.ts as a child process: its port, its certificate fetch count, and a stop. */
async function startWebhookServer(env: NodeJS.ProcessEnv): Promise<{ port: number; fetchCount(): Promise<number>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/webhook-server.ts'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = () => new Promise<string>((resolve) => waiting.push(resolve));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const first = await Promise.race([nextLine(), exited.then((code) => `exited ${code}`)]);
  const match = /^listening (\d+)$/.exec(first);
  if (!match) throw new Error(`webhook server did not start: ${first}`);
  return {
    port: Number(match[1]),
    async fetchCount() {
      child.stdin!.write('fetches\n');
      return Number((await nextLine()).replace('fetches ', ''));
    },
    async stop() {
      child.stdin!.end();
      await exited;
    },
  };
}

function postOnce(agent: http.Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhooks/ses',
        headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
