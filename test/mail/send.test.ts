import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMessage } from '../../src/mail/send.js';
import { createSesClient } from '../../src/mail/ses-client.js';

/**
 * sendMessage through a real SESv2Client against a local HTTP server standing
 * in for SES: what reaches the wire, and when.
 */
interface Arrival {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function fakeSesEndpoint(): Promise<{ endpoint: string; arrivals: Arrival[] }> {
  const arrivals: Arrival[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      arrivals.push({ at: performance.now(), headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ MessageId: `local-${arrivals.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals };
}

const config = { MAIL_FROM: 'reverify <noreply@example.org>', SES_CONFIGURATION_SET: 'reverify-events' };
const message = { subject: 'Please confirm', text: 'plain', html: '<p>html</p>' };

describe('sendMessage', () => {
  it('awaits beforeWire once the request is signed and only then sends it', async () => {
    const { endpoint, arrivals } = await fakeSesEndpoint();
    const ses = createSesClient({ AWS_REGION: 'us-east-1', SES_ENDPOINT: endpoint });
    closers.push(async () => ses.destroy());
    let calls = 0;
    let heldUntil = 0;
    const messageId = await sendMessage(ses, config, {
      to: 'someone@example.com',
      message,
      tags: { campaign_id: '1', recipient_id: '2', kind: 'campaign' },
      beforeWire: async () => {
        calls += 1;
        // Nothing has left yet while the check runs; hold the send 150 ms.
        expect(arrivals).toHaveLength(0);
        await new Promise((resolve) => setTimeout(resolve, 150));
        heldUntil = performance.now();
      },
    });
    expect(messageId).toBe('local-1');
    expect(calls).toBe(1);
    expect(arrivals).toHaveLength(1);
    expect(arrivals[0]!.at).toBeGreaterThanOrEqual(heldUntil);
    // Signed before the check: the wait sits between signing and the wire.
    expect(arrivals[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    const sent = JSON.parse(arrivals[0]!.body) as { Destination: { ToAddresses: string[] }; ConfigurationSetName: string; EmailTags: Array<{ Name: string; Value: string }> };
    expect(sent.Destination.ToAddresses).toEqual(['someone@example.com']);
    expect(sent.ConfigurationSetName).toBe('reverify-events');
    expect(sent.EmailTags).toContainEqual({ Name: 'recipient_id', Value: '2' });
  });

  it('sends nothing when beforeWire fails', async () => {
    const { endpoint, arrivals } = await fakeSesEndpoint();
    const ses = createSesClient({ AWS_REGION: 'us-east-1', SES_ENDPOINT: endpoint });
    closers.push(async () => ses.destroy());
    const failing = sendMessage(ses, config, { to: 'someone@example.com', message, tags: {}, beforeWire: () => Promise.reject(new Error('gate gone')) });
    await expect(failing).rejects.toThrow('gate gone');
    expect(arrivals).toHaveLength(0);
  });
  it('runs each send’s own beforeWire, after signing, though the client resolves its middleware once', async () => {
    const { endpoint, arrivals } = await fakeSesEndpoint();
    const ses = createSesClient({ AWS_REGION: 'us-east-1', SES_ENDPOINT: endpoint });
    closers.push(async () => ses.destroy());
    const order = ses.middlewareStack.identify().map((entry) => entry.split(' ')[0]);
    expect(order.indexOf('reverifyBeforeWire')).toBeGreaterThan(order.indexOf('httpSigningMiddleware'));

    const ran: string[] = [];
    const send = (to: string, beforeWire?: () => Promise<void>) => sendMessage(ses, config, { to, message, tags: {}, beforeWire });
    // The first send, without a hook, is the one whose stack the client caches.
    await send('first@example.com');
    await send('second@example.com', async () => void ran.push('second'));
    // Two at once: the slow hook holds only its own request.
    await Promise.all([
      send('slow@example.com', async () => {
        ran.push('slow');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }),
      send('quick@example.com', async () => void ran.push('quick')),
    ]);
    await send('last@example.com');
    expect(ran.sort()).toEqual(['quick', 'second', 'slow']);
    const to = arrivals.map((arrival) => (JSON.parse(arrival.body) as { Destination: { ToAddresses: string[] } }).Destination.ToAddresses[0]);
    expect(to).toEqual(['first@example.com', 'second@example.com', 'quick@example.com', 'slow@example.com', 'last@example.com']);
  });
});
