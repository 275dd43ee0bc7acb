import { fork } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.js';
import { createDb, type Db } from '../src/db/connect.js';
import { ingestNotification } from '../src/ses-events/ingest.js';
import { createLocalSnsSigner } from '../src/ses-events/local-signer.js';
import { sampleSesEvent } from '../src/ses-events/sample-events.js';
import { parseSesEvent, type SesEvent } from '../src/ses-events/ses-payload.js';
import type { AddressEventKind } from '../src/ses-events/state-machine.js';
import { createScratchDatabase } from './lib/scratch.js';
import type { BenchResult } from './types.js';

/**
 * The SES webhook against its own database transaction: NOTIFICATIONS signed
 * SNS notifications posted over real HTTP (keep-alive, CONCURRENCY in flight)
 * to a server listening in its own process, next to the same ingest transaction called directly
 * from a pg pool of the same size at the same concurrency, in the same run, on
 * a second identical set of addresses. The difference is what HTTP, parsing
 * and signature verification cost. The signing certificate starts absent from
 * the cache and is "downloaded" once from an in-process fetch that counts.
 */

const NOTIFICATIONS = Number(process.env.BENCH_WEBHOOK_NOTIFICATIONS ?? 20_000);
const CONCURRENCY = 32;
const ADDRESSES = 10_000;
const WARMUP = 1_000;
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
    const configEnv = { DATABASE_URL: scratch.url, SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: certDir, LOG_LEVEL: 'error', PATH: process.env.PATH ?? '' };
    const config = loadConfig(configEnv);

    // The limit: the ingest transaction straight from a pg pool of the same size (events parsed beforehand).
    const directEvents = Array.from({ length: NOTIFICATIONS }, (_, i) => parseSesEvent(eventDocument('direct', i)));
    const pool = createDb(scratch.url, { max: POOL_SIZE });
    let direct;
    try {
      direct = await measure(NOTIFICATIONS, async (i) => {
        await ingestNotification(pool, {
          snsMessageId: `direct-${i}`,
          topicArn: TOPIC,
          event: directEvents[i] as SesEvent,
          softBounceLimit: config.SOFT_BOUNCE_LIMIT,
        });
      });
    } finally {
      await pool.destroy();
    }
    console.error(`[bench] webhook: direct transaction ${direct.rate.toFixed(0)}/s`);

    // The webhook: a server in its own process, the certificate fetched once into an empty cache.
    const signer = await createLocalSnsSigner({ certCacheDir: certDir, install: false });
    const pemFile = path.join(certDir, 'served-by-fake-sns.pem.txt');
    await writeFile(pemFile, signer.certificatePem);
    console.error(`[bench] webhook: signing ${NOTIFICATIONS + WARMUP} notifications …`);
    const bodies = Array.from({ length: NOTIFICATIONS + WARMUP }, (_, i) =>
      JSON.stringify(signer.signedNotification({ topicArn: TOPIC, message: eventDocument('http', i), signatureVersion: i % 2 === 0 ? '1' : '2' })),
    );
    const server = await startServer({ ...configEnv, BENCH_CERT_PEM_FILE: pemFile, BENCH_WEBHOOK_POOL: String(POOL_SIZE) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    let failures = 0;
    let webhook;
    let fetchCount;
    try {
      const postBody = async (body: string) => {
        const status = await postOnce(agent, server.port, body);
        if (status !== 200) failures += 1;
      };
      for (let i = 0; i < WARMUP; i += CONCURRENCY) {
        await Promise.all(bodies.slice(NOTIFICATIONS + i, NOTIFICATIONS + i + CONCURRENCY).map(postBody));
      }
      webhook = await measure(NOTIFICATIONS, (i) => postBody(bodies[i] as string));
      fetchCount = await server.fetchCount();
    } finally {
      agent.destroy();
      await server.stop();
    }
    console.error(`[bench] webhook: HTTP ${webhook.rate.toFixed(0)}/s, p50 ${webhook.p50.toFixed(1)} ms, p99 ${webhook.p99.toFixed(1)} ms`);
    const stored = await scratch.db.selectFrom('email_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const expected = 2 * NOTIFICATIONS + WARMUP;
    if (failures > 0 || Number(stored.n) !== expected) {
      throw new Error(`webhook benchmark lost work: ${failures} non-200 answers, ${stored.n} of ${expected} events stored`);
    }

    const ratio = webhook.rate / direct.rate;
    const extraFetches = Math.max(0, fetchCount - 1);
    return [
      {
        name: `webhook throughput, ${NOTIFICATIONS.toLocaleString('en')} signed notifications, concurrency ${CONCURRENCY}`,
        figure: `${webhook.rate.toFixed(0)} notifications/s`,
        limit: `≥ 60% of the same transaction direct from a pg pool (${direct.rate.toFixed(0)}/s); higher ratio is better`,
        ratio,
        pass: ratio >= 0.6,
        notes: `direct p50 ${direct.p50.toFixed(1)} ms, p99 ${direct.p99.toFixed(1)} ms; pool ${POOL_SIZE} connections both ways; mix 60% delivery, 15% transient, 10% permanent bounce, 10% send, 5% complaint over ${ADDRESSES.toLocaleString('en')} addresses; v1 and v2 signatures alternate`,
      },
      {
        name: 'webhook latency',
        figure: `p99 ${webhook.p99.toFixed(1)} ms (p50 ${webhook.p50.toFixed(1)} ms)`,
        limit: 'p99 < 50 ms',
        ratio: webhook.p99 / 50,
        pass: webhook.p99 < 50,
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

interface Measurement {
  rate: number;
  p50: number;
  p99: number;
}

/** Runs `task(0..count-1)` with CONCURRENCY in flight; rate and latency percentiles. */
async function measure(count: number, task: (i: number) => Promise<void>): Promise<Measurement> {
  const latencies = new Float64Array(count);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await task(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return { rate: count / seconds, p50: latencies[Math.floor(count * 0.5)] ?? 0, p99: latencies[Math.floor(count * 0.99)] ?? 0 };
}

/** Starts bench/_webhook-server.ts in a child process and waits for its port. */
async function startServer(env: Record<string, string>): Promise<{ port: number; fetchCount(): Promise<number>; stop(): Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./_webhook-server.ts', import.meta.url)), [], {
    env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`webhook server exited with ${code}`)));
  });
  return {
    port,
    fetchCount: () =>
      new Promise((resolve) => {
        child.once('message', (message) => resolve((message as { fetchCount: number }).fetchCount));
        child.send('stats');
      }),
    async stop() {
      child.send('stop');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
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
