import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/connect.js';
import { startLocalSes } from '../../src/dev/local-ses.js';
import { freePort } from '../../src/dev/ports.js';
import { simulatedEvents, startSesSimulator } from '../../src/dev/ses-simulator.js';
import { createLogger } from '../../src/logger.js';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';

const mail = { messageId: 'ses-1', timestamp: '2026-01-01T00:00:00.000Z', destination: [] as string[] };
const now = new Date('2026-01-01T00:00:05Z');

/** What the webhook's parser reads from each simulated event: its kind and sub-type. */
function parsed(address: string) {
  return simulatedEvents(address, { ...mail, destination: [address] }, now).map((event) => {
    const read = parseSesEvent(JSON.stringify(event));
    expect(read.recipients).toEqual([address.toLowerCase()]);
    expect(read.sesMessageId).toBe('ses-1');
    return `${read.kind}${read.subType ? ` ${read.subType}` : ''}`;
  });
}

describe('SES event simulator', () => {
  it('answers each mailbox-simulator address as SES does, in a shape the webhook parses', () => {
    expect(parsed('bounce@simulator.amazonses.com')).toEqual(['hard_bounce Permanent/General']);
    expect(parsed('suppressionlist@simulator.amazonses.com')).toEqual(['hard_bounce Permanent/OnAccountSuppressionList']);
    expect(parsed('complaint@simulator.amazonses.com')).toEqual(['delivery', 'complaint abuse']);
    expect(parsed('ooto@simulator.amazonses.com')).toEqual(['delivery', 'soft_bounce Transient/General']);
    expect(parsed('Bounce+label@Simulator.AmazonSES.com')).toEqual(['hard_bounce Permanent/General']);
  });

  it('delivers every other address', () => {
    expect(parsed('success@simulator.amazonses.com')).toEqual(['delivery']);
    expect(parsed('someone@example.org')).toEqual(['delivery']);
  });
});

describe('SES event simulator across a restart', () => {
  it('keeps the events still pending at a stop and posts them to the webhook at the next start', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reverify-sim-'));
    const ses = await startLocalSes({ preferredPort: await freePort() });
    const posted: string[] = [];
    const webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const event = JSON.parse((JSON.parse(body) as { Message: string }).Message) as { eventType: string };
        posted.push(event.eventType);
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    // Nothing listens on port 9: the ledger lookup fails fast and the events go out without campaign tags.
    const db = createDb('postgres://nobody@127.0.0.1:9/none');
    const options = {
      sesEndpoint: ses.endpoint,
      webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`,
      topicArn: 'arn:aws:sns:us-east-1:000000000000:reverify-dev-ses-events',
      certCacheDir: path.join(dir, 'certs'),
      region: 'us-east-1',
      db,
      log: createLogger({ level: 'silent' }),
      pollMs: 50,
      pendingFile: path.join(dir, 'pending.json'),
    };
    try {
      const client = new SESv2Client({ endpoint: ses.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      await client.send(
        new SendEmailCommand({
          FromEmailAddress: 'noreply@reverify.test',
          Destination: { ToAddresses: ['bounce@simulator.amazonses.com'] },
          Content: { Simple: { Subject: { Data: 'hi' }, Body: { Text: { Data: 'hi' } } } },
        }),
      );
      // It sees the message but stops before the message has settled: nothing posted yet.
      const first = await startSesSimulator({ ...options, settleMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await first.stop();
      expect(posted).toEqual([]);
      expect(JSON.parse(await readFile(options.pendingFile, 'utf8'))).toHaveLength(1);

      const second = await startSesSimulator({ ...options, settleMs: 0 });
      const deadline = Date.now() + 10_000;
      while (posted.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await second.stop();
      // SES publishes Send for every message it accepts, then what became of it.
      expect(posted).toEqual(['Send', 'Bounce']);
      expect(existsSync(options.pendingFile)).toBe(false);
    } finally {
      await db.destroy();
      await ses.stop();
      await new Promise((resolve) => webhook.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
