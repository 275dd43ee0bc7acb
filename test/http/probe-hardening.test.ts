import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { createLocalSnsSigner } from '../../src/dev/sns-signer.js';
import { HTTP_LIMITS } from '../../src/http/limits.js';
import { buildServer, createServer } from '../../src/http/server.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { createSnsWebhook } from '../../src/ses-events/webhook.js';
import { useTestEnv } from '../helpers/env.js';

/**
 * The outside probe's HTTP findings, replayed: slow clients held their
 * sockets for ever, a 250 KB TopicArn came back in the 403 and as a 500 KB
 * log line, /metrics could only be public.
 */

const env = useTestEnv();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-probe';
const running: RunningServer[] = [];

afterAll(async () => {
  for (const server of running) await server.close();
});

describe('slow clients are cut off', () => {
  it('sets request, header, connection and keep-alive timeouts by default', async () => {
    const server = await buildServer(env.app());
    expect(server.server.requestTimeout).toBe(HTTP_LIMITS.requestTimeoutMs);
    expect(server.server.headersTimeout).toBe(HTTP_LIMITS.headersTimeoutMs);
    expect(server.server.keepAliveTimeout).toBe(HTTP_LIMITS.keepAliveTimeoutMs);
    expect(server.server.timeout).toBe(HTTP_LIMITS.connectionTimeoutMs);
    expect(server.server.maxRequestsPerSocket).toBe(HTTP_LIMITS.maxRequestsPerSocket);
    await server.close();
  });

  it('closes 200 connections holding partial headers or a partial body, and keeps answering meanwhile', async () => {
    const limits = { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000, checkIntervalMs: 250 };
    const server = await startServer(env.app(), { port: 0, host: '127.0.0.1', dashboard: false, limits });
    running.push(server);
    const sockets: Socket[] = [];
    const closed: Array<Promise<void>> = [];
    const trickles: NodeJS.Timeout[] = [];
    for (let i = 0; i < 200; i += 1) {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      const partialHeaders = i % 2 === 0;
      socket.write(
        partialHeaders
          ? 'POST /webhooks/ses HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
          : 'POST /webhooks/ses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n{"Type":',
      );
      // One byte every 200 ms: never idle, never finished.
      trickles.push(setInterval(() => socket.writable && socket.write('a'), 200));
    }
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const deadline = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 10_000));
      expect(await Promise.race([Promise.all(closed).then(() => 'closed' as const), deadline])).toBe('closed');
    } finally {
      for (const trickle of trickles) clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  }, 20_000);
});

describe('echoed input is clipped', () => {
  it('a 250 KB TopicArn: 403 with the ARN cut to 200 characters and its length noted, in the body and the log line', async () => {
    const app = env.app({ overrides: { SNS_TOPIC_ARNS: TOPIC } });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const webhook = createSnsWebhook({ db: app.db, config: app.config, log, clock: app.clock });
    const signer = await createLocalSnsSigner({ certCacheDir: app.config.SNS_CERT_CACHE_DIR, install: false });
    const topicArn = `arn:aws:sns:us-east-1:123456789012:${'x'.repeat(250_000)}`;
    const message = signer.signedNotification({ topicArn, message: sampleSesEvent('delivery', { to: 'x@example.net' }) });
    const reply = await webhook.handle({ messageTypeHeader: 'Notification', body: JSON.stringify(message) });
    expect(reply.status).toBe(403);
    expect(reply.body.reason).toBe('bad_topic');
    const body = JSON.stringify(reply.body);
    expect(body.length).toBeLessThan(1_000);
    expect(body).toContain(`(${topicArn.length} characters)`);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.length).toBeLessThan(2_000);
    expect(lines[0]).toContain(`(${topicArn.length} characters)`);
  });

  it('a long message-type header, and a long unknown URL, come back clipped', async () => {
    const server = await createServer(env.app({ overrides: { SNS_TOPIC_ARNS: TOPIC } }), { dashboard: false });
    try {
      const header = 'N'.repeat(8_000);
      const refused = await server.inject({ method: 'POST', url: '/webhooks/ses', headers: { 'content-type': 'text/plain', 'x-amz-sns-message-type': header }, payload: JSON.stringify({ Type: 'Notification', MessageId: 'm', TopicArn: TOPIC, Message: '{}', Timestamp: new Date().toISOString(), SignatureVersion: '1', Signature: 'x', SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem' }) });
      expect(refused.statusCode).toBe(400);
      expect(refused.body.length).toBeLessThan(1_000);
      expect(refused.body).toContain('(8000 characters)');
      const missing = await server.inject({ method: 'GET', url: `/${'p'.repeat(10_000)}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.body.length).toBeLessThan(1_000);
      expect(missing.body).toContain('(10001 characters)');
    } finally {
      await server.close();
    }
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on its own listener only', async () => {
    const server = await startServer(env.app({ overrides: { METRICS_PORT: '0' } }), { port: 0, host: '127.0.0.1', dashboard: false });
    running.push(server);
    expect(server.metricsUrl).toBeDefined();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    const metrics = await fetch(server.metricsUrl as string);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE reverify_queue_jobs gauge');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
