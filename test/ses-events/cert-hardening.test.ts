import { readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { createLocalSnsSigner } from '../../src/dev/sns-signer.js';
import {
  CertificateStore,
  CertificateUnavailableError,
  MAX_CONCURRENT_FETCHES,
  MAX_DISK_CERTIFICATES,
  MAX_MEMORY_CERTIFICATES,
  type FetchLike,
} from '../../src/ses-events/cert-store.js';
import { useTestEnv } from '../helpers/env.js';
import { post, TOPIC, useWebhook } from './helpers.js';

/**
 * The outside probe's certificate findings, replayed: forged certificate
 * paths, 50 spellings of one URL, failures not cached, redirects followed,
 * unbounded caches. Each is now answered as the issue asks.
 */

const env = useTestEnv();
const hook = useWebhook(env);
const sha1Only = useWebhook(env, { overrides: { SNS_SIGNATURE_VERSIONS: '2' } });

const HOST = 'https://sns.us-east-1.amazonaws.com';

/** A message signed by a key nobody trusts, naming `certUrl`: what a forger can send. */
function forged(certUrl: string) {
  return hook.signer.sign({
    Type: 'Notification',
    MessageId: crypto.randomUUID(),
    TopicArn: TOPIC,
    Message: sampleSesEvent('hard_bounce', { to: 'x@example.net' }),
    Timestamp: new Date().toISOString(),
    SigningCertURL: certUrl,
  });
}

function networkDown() {
  hook.fetchAnswer = () => new Error('network disabled in tests');
}

describe('forged certificate paths', () => {
  it('50 forged messages naming missing certificates: 403 bad_cert (not 503), one fetch per URL per minute', async () => {
    hook.fetchAnswer = () => ({ ok: false, status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' });
    const urls = Array.from({ length: 5 }, (_, i) => `${HOST}/SimpleNotificationService-forged${i}${process.pid}.pem`);
    const fetchedBefore = hook.fetched.length;
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => post(hook.server, forged(urls[i % urls.length] as string))));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(403));
    for (const response of responses) expect(response.json()).toMatchObject({ reason: 'bad_cert' });
    // Five distinct URLs: five fetches, not fifty; the same burst again costs none.
    expect(hook.fetched.length - fetchedBefore).toBe(5);
    await Promise.all(urls.map((url) => post(hook.server, forged(url))));
    expect(hook.fetched.length - fetchedBefore).toBe(5);
    networkDown();
  });

  it.each([
    [500, 503, 'unavailable'],
    [503, 503, 'unavailable'],
    [429, 503, 'unavailable'],
    [403, 403, 'bad_cert'],
    [410, 403, 'bad_cert'],
  ])('an SNS host answering %i → %i %s', async (hostStatus, status, reason) => {
    hook.fetchAnswer = () => ({ ok: false, status: hostStatus, body: '' });
    const response = await post(hook.server, forged(`${HOST}/SimpleNotificationService-status${hostStatus}x${process.pid}.pem`));
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ reason });
    networkDown();
  });
});

describe('one certificate, one spelling', () => {
  it('refuses 50 other spellings of a real certificate URL before any fetch, and fetches the real one once for 50 messages', async () => {
    const genuine = await createLocalSnsSigner({ certCacheDir: hook.certDir, install: false });
    const url = new URL(genuine.certUrl);
    const file = url.pathname.slice(1);
    const spellings = [
      `https://SNS.us-east-1.amazonaws.com/${file}`,
      `https://sns.US-EAST-1.amazonaws.com/${file}`,
      `https://sns.us-east-1.AmazonAWS.com/${file}`,
      `https://sns.us-east-1.amazonaws.com:443/${file}`,
      `HTTPS://sns.us-east-1.amazonaws.com/${file}`,
      `https://sns.us-east-1.amazonaws.com/./${file}`,
      `https://sns.us-east-1.amazonaws.com/%2e/${file}`,
      `https://sns.us-east-1.amazonaws.com//../${file}`,
      `https://sns.us-east-1.amazonaws.com\\${file}`,
      `https://sns.us-east-1.amazonaws.com./${file}`,
      ...Array.from({ length: 40 }, (_, i) => `https://sns.us-east-1.amazonaws.com/p${i}/../${file}`),
    ];
    expect(new Set(spellings).size).toBe(50);
    const filesBefore = (await readdir(hook.certDir)).length;
    const fetchedBefore = hook.fetched.length;
    hook.fetchAnswer = () => ({ ok: true, status: 200, body: genuine.certificatePem });
    const message = () => genuine.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('delivery', { to: 'x@example.net' }) });
    for (const spelling of spellings) {
      const response = await post(hook.server, { ...message(), SigningCertURL: spelling });
      expect(response.statusCode, spelling).toBe(403);
      expect(response.json().reason, spelling).toBe('bad_cert_url');
    }
    expect(hook.fetched.length).toBe(fetchedBefore);
    expect((await readdir(hook.certDir)).length).toBe(filesBefore);

    const responses = await Promise.all(Array.from({ length: 50 }, () => post(hook.server, message())));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(200));
    expect(hook.fetched.slice(fetchedBefore)).toEqual([genuine.certUrl]);
    expect((await readdir(hook.certDir)).length).toBe(filesBefore + 1);
    networkDown();
  });
});

describe('SNS_SIGNATURE_VERSIONS', () => {
  it('2 alone refuses a SHA1-signed message (SignatureVersion 1) and accepts SHA256', async () => {
    const message = (version: '1' | '2') =>
      sha1Only.signer.signedNotification({ topicArn: TOPIC, signatureVersion: version, message: sampleSesEvent('delivery', { to: 'x@example.net' }) });
    const refused = await post(sha1Only.server, message('1'));
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ reason: 'bad_signature_version' });
    expect((await post(sha1Only.server, message('2'))).statusCode).toBe(200);
    // The default accepts both.
    const both = hook.signer.signedNotification({ topicArn: TOPIC, signatureVersion: '1', message: sampleSesEvent('delivery', { to: 'x@example.net' }) });
    expect((await post(hook.server, both)).statusCode).toBe(200);
  });
});

describe('the certificate download', () => {
  async function localServer(handler: Parameters<typeof createServer>[1]): Promise<{ base: string; server: Server; hits: string[] }> {
    const hits: string[] = [];
    const server = createServer((request, response) => {
      hits.push(request.url ?? '');
      handler?.(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits };
  }

  it('does not follow a redirect', async () => {
    const { base, server, hits } = await localServer((_request, response) => {
      response.writeHead(302, { location: '/elsewhere.pem' }).end();
    });
    try {
      const store = new CertificateStore({ cacheDir: hook.certDir });
      await expect(store.certificate(`${base}/SimpleNotificationService-redirect.pem`)).rejects.toBeInstanceOf(CertificateUnavailableError);
      expect(hits).toEqual(['/SimpleNotificationService-redirect.pem']);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('gives up on a host that does not answer after its timeout', async () => {
    const { base, server } = await localServer(() => undefined);
    try {
      const store = new CertificateStore({ cacheDir: hook.certDir, timeoutMs: 300 });
      const started = Date.now();
      await expect(store.certificate(`${base}/SimpleNotificationService-silent.pem`)).rejects.toThrow(/timed out/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it(`keeps at most ${MAX_CONCURRENT_FETCHES} downloads in flight`, async () => {
    let inFlight = 0;
    let most = 0;
    const slowMissing: FetchLike = async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inFlight -= 1;
      return { ok: false, status: 404, text: async () => '' };
    };
    const store = new CertificateStore({ cacheDir: hook.certDir, fetch: slowMissing });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => store.certificate(`${HOST}/SimpleNotificationService-flight${i}.pem`)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(store.fetchCount).toBe(40);
    expect(most).toBe(MAX_CONCURRENT_FETCHES);
  });

  it('bounds the memory cache and trims the disk cache to its cap', async () => {
    const dir = `${hook.certDir}-bounded`;
    const fetched: string[] = [];
    const pem = hook.signer.certificatePem;
    const store = new CertificateStore({ cacheDir: dir, fetch: async (url) => (fetched.push(url), { ok: true, status: 200, text: async () => pem }) });
    const urls = Array.from({ length: MAX_DISK_CERTIFICATES + 20 }, (_, i) => `${HOST}/SimpleNotificationService-bound${i}.pem`);
    try {
      for (const url of urls) await store.certificate(url);
      expect((await readdir(dir)).filter((name) => name.endsWith('.pem')).length).toBe(MAX_DISK_CERTIFICATES);
      // With the disk copies gone, only what memory still holds is served without a fetch.
      await rm(dir, { recursive: true, force: true });
      fetched.length = 0;
      await store.certificate(urls.at(-1) as string);
      expect(fetched).toEqual([]);
      await store.certificate(urls.at(-1 - MAX_MEMORY_CERTIFICATES) as string);
      expect(fetched).toEqual([urls.at(-1 - MAX_MEMORY_CERTIFICATES)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
