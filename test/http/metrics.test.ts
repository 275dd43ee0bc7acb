import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLocalSnsSigner } from '../../src/dev/sns-signer.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { createServer } from '../../src/http/server.js';
import { QUEUE_GAUGE_INTERVAL_MS } from '../../src/http/routes/metrics.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-metrics-test';
const certCacheDir = await mkdtemp(path.join(tmpdir(), 'reverify-metrics-certs-'));
const app = env.app({ overrides: { SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: certCacheDir } });
const serverPromise = createServer(app, { dashboard: false });

afterAll(async () => {
  await (await serverPromise).close();
  await rm(certCacheDir, { recursive: true, force: true });
});

// A sample line of the Prometheus text format: name, optional labels, value, optional timestamp.
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?\d+(\.\d+)?([eE][+-]?\d+)?|NaN|[+-]Inf)( -?\d+)?$/;
const COMMENT = /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

async function scrape() {
  const response = await (await serverPromise).inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.body;
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('/metrics', () => {
  it('is Prometheus text: every line is a comment or a sample', async () => {
    const text = await scrape();
    const lines = text.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) expect(line, line).toMatch(line.startsWith('#') ? COMMENT : SAMPLE);
    for (const name of [
      'process_cpu_seconds_total',
      'reverify_queue_jobs',
      'reverify_ses_events_total',
      'reverify_campaign_messages_total',
      'reverify_addresses_unverified_total',
      'reverify_temporary_accounts_total',
      'reverify_sweep_duration_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('reports the depth of every queue by state', async () => {
    const text = await scrape();
    for (const queue of Object.values(QUEUE_NAMES)) {
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children']) {
        expect(sample(text, 'reverify_queue_jobs', { queue, state }), `${queue} ${state}`).toBe(0);
      }
    }
  });

  it('counts an SES event the webhook accepted', async () => {
    const signer = await createLocalSnsSigner({ certCacheDir });
    const delivered = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('reverify_ses_events_total{') && line.includes('type="Delivery"'))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    const before = delivered(await scrape());
    const message = JSON.stringify({
      eventType: 'Delivery',
      mail: { messageId: 'metrics-test-message', timestamp: new Date().toISOString(), destination: ['nobody@example.org'] },
      delivery: { timestamp: new Date().toISOString(), recipients: ['nobody@example.org'] },
    });
    const response = await (await serverPromise).inject({
      method: 'POST',
      url: '/webhooks/ses',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      payload: JSON.stringify(signer.signedNotification({ topicArn: TOPIC, message })),
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(delivered(await scrape())).toBe(before + 1);
  });

  it('moves when jobs are queued, at the next reading of the queue store (at most every few seconds)', async () => {
    const before = await scrape();
    expect(sample(before, 'reverify_queue_jobs', { queue: 'send', state: 'delayed' })).toBe(0);
    const send = app.queues.get(QUEUE_NAMES.send);
    await send.add('metrics-probe', {}, { delay: 3_600_000, jobId: 'metrics-probe-delayed' });
    await send.add('metrics-probe', {}, { jobId: 'metrics-probe-waiting' });
    // The scrape right after reuses the last reading; the gauges move within the interval.
    expect(sample(await scrape(), 'reverify_queue_jobs', { queue: 'send', state: 'delayed' })).toBe(0);
    let after = '';
    await vi.waitFor(async () => {
      after = await scrape();
      expect(sample(after, 'reverify_queue_jobs', { queue: 'send', state: 'delayed' })).toBe(1);
    }, { timeout: QUEUE_GAUGE_INTERVAL_MS + 3_000, interval: 250 });
    expect(sample(after, 'reverify_queue_jobs', { queue: 'send', state: 'waiting' })).toBe(1);
    expect(sample(after, 'reverify_queue_jobs', { queue: 'sweeps', state: 'waiting' })).toBe(0);
  });

  it('asks the queue store once for many concurrent scrapes, and not again within the interval', async () => {
    await new Promise((resolve) => setTimeout(resolve, QUEUE_GAUGE_INTERVAL_MS));
    const spies = app.queues.all().map((queue) => vi.spyOn(queue, 'getJobCounts'));
    try {
      const bodies = await Promise.all(Array.from({ length: 50 }, () => scrape()));
      for (const body of bodies) expect(body).toContain('reverify_queue_jobs{');
      for (const spy of spies) expect(spy).toHaveBeenCalledTimes(1);
      await scrape();
      for (const spy of spies) expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
