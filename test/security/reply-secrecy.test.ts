import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app/app.js';
import { inboundMailNotification } from '../../src/dev/inbound-mail.js';
import { createLocalSnsSigner, type LocalSnsSigner } from '../../src/dev/sns-signer.js';
import { waitFor } from '../../src/dev/wait.js';
import { createWebhookRoutes } from '../../src/http/routes/webhook.js';
import { buildServer } from '../../src/http/server.js';
import { Slots } from '../../src/pace/send-slots.js';
import { startRequestListener } from '../../src/verification/requests/listener.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';

/**
 * Reply secrets and link tokens of requested verification mail are secrets
 * until used: a request is mailed by the listener (SES replaced by a
 * recorder), then replied to through the webhook, wrongly and rightly, with
 * every log line at trace level captured. Neither the secret nor the token
 * may appear in a log line or in any column of any table.
 */

const env = useTestEnv();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-inbound';
const logged: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});
const sent: Array<{ to: string; replyTo: string; text: string }> = [];
let app: App;
let signer: LocalSnsSigner;
let certDir: string;
let closed = false;
track('reply secrecy App', () => !closed);

beforeAll(async () => {
  certDir = await mkdtemp(path.join(tmpdir(), 'rv-reply-certs-'));
  signer = await createLocalSnsSigner({ certCacheDir: certDir });
  const config = env.config({ LOG_LEVEL: 'trace', REPLY_DOMAIN: 'reply.example.org', SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: certDir });
  app = createApp(config, { log: pino({ level: 'trace' }, sink) });
});

afterAll(async () => {
  await app.close();
  closed = true;
  await rm(certDir, { recursive: true, force: true });
});

describe('reply secrets and requested links', () => {
  it('are mailed, replied to and confirmed without a log line or a table holding them', async () => {
    const user = await app.db.insertInto('users').values({ username: 'secret-replier' }).returning('id').executeTakeFirstOrThrow();
    await app.db.insertInto('emails').values({ user_id: user.id, email: 'replier@example.org', is_primary: true }).execute();
    const ses = {
      async send(command: SendEmailCommand) {
        const input = command.input;
        sent.push({ to: input.Destination!.ToAddresses![0]!, replyTo: input.ReplyToAddresses![0]!, text: input.Content!.Simple!.Body!.Text!.Data! });
        return { MessageId: `recorded-${sent.length}` };
      },
    };
    const listener = startRequestListener(app, { pollMs: 600_000, ctx: { ses, gate: undefined, slots: new Slots(1) } });
    try {
      await app.db.insertInto('verification_requests').values({ user_id: user.id }).execute();
      await waitFor('the mail sent', async () => sent.length === 1, 10_000);
    } finally {
      await listener.close();
    }
    const { replyTo, text } = sent[0]!;
    const secret = /-confirm-([a-z2-7]{32})@/.exec(replyTo)![1]!;
    const token = /\/verify\/([A-Za-z0-9_-]{43})/.exec(text)![1]!;

    const server = await buildServer(app, { routes: [createWebhookRoutes({ fetch: async () => { throw new Error('offline'); }, reputationGuard: async () => ({ paused: false }) })] });
    try {
      const post = async (from: string) => {
        const body = signer.signedNotification({ topicArn: TOPIC, message: JSON.stringify(inboundMailNotification({ from, to: replyTo, topicArn: TOPIC })) });
        const response = await server.inject({ method: 'POST', url: '/webhooks/ses', headers: { 'content-type': 'text/plain', 'x-amz-sns-message-type': 'Notification' }, payload: JSON.stringify(body) });
        return response.json() as { outcome: string };
      };
      expect((await post('attacker@evil.example')).outcome).toBe('refused');
      expect((await post('replier@example.org')).outcome).toBe('verified');
    } finally {
      await server.close();
    }

    const all = logged.join('');
    expect(all).toContain('address verified by a reply');
    expect(all).toContain('inbound reply refused');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(token);
    const { rows: tables } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(app.db);
    expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(['inbound_replies', 'verification_requests']));
    for (const { tablename } of tables) {
      const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(tablename)} t`.execute(app.db);
      for (const { row } of rows) {
        expect(row, tablename).not.toContain(secret);
        expect(row, tablename).not.toContain(token);
      }
    }
  });
});
