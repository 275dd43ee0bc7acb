import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { UsageError } from '../../src/cli/commands/command.js';
import { runDevReply } from '../../src/cli/commands/dev-reply.js';
import { createWebhookRoutes } from '../../src/http/routes/webhook.js';
import { buildServer } from '../../src/http/server.js';
import { sesClientFor } from '../../src/mail/ses-client.js';
import { Slots } from '../../src/pace/send-slots.js';
import { processVerificationRequest } from '../../src/verification/requests/deliver.js';
import { startLocalSes } from '../campaigns/helpers.js';
import { useTestEnv } from '../helpers/env.js';
import { person } from '../verification/request-fixtures.js';
import { captureStdout } from '../helpers/stdout.js';

const env = useTestEnv();
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:reverify-dev-inbound';
let local: Awaited<ReturnType<typeof startLocalSes>>;
let app: App;
let server: FastifyInstance;
let certDir: string;
const saved = { ...process.env };

beforeAll(async () => {
  local = await startLocalSes();
  certDir = await mkdtemp(path.join(tmpdir(), 'rv-dev-reply-'));
  const overrides = { SES_ENDPOINT: local.endpoint, REPLY_DOMAIN: 'reply.reverify.test', SNS_TOPIC_ARNS: TOPIC, SNS_CERT_CACHE_DIR: certDir, LOG_LEVEL: 'silent' };
  app = env.app({ overrides });
  server = await buildServer(app, { routes: [createWebhookRoutes({ fetch: async () => { throw new Error('offline'); } })] });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  Object.assign(process.env, env.env({ ...overrides, PUBLIC_BASE_URL: url }));
});

afterAll(async () => {
  process.env = saved;
  await server.close();
  await local.close();
  await rm(certDir, { recursive: true, force: true });
});

async function capture(run: () => Promise<number>): Promise<{ code: number; json: Record<string, unknown> }> {
  const { code, stdout } = await captureStdout(run);
  return { code, json: JSON.parse(stdout) as Record<string, unknown> };
}

describe('reverify dev reply', () => {
  it('replies to the latest verification mail through the real webhook: the address is confirmed, once', async () => {
    const someone = await person(env.db);
    const request = await app.db.insertInto('verification_requests').values({ user_id: someone.userId }).returning('id').executeTakeFirstOrThrow();
    const sent = await processVerificationRequest(app, request.id, { ses: sesClientFor(app), gate: undefined, slots: new Slots(1) });
    expect(sent.outcome).toBe('sent');

    const first = await capture(() => runDevReply([someone.email, '--json']));
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ status: 200, body: { status: 'processed', outcome: 'verified' } });
    const email = await env.db.selectFrom('emails').select('verified').where('id', '=', someone.emailId).executeTakeFirstOrThrow();
    expect(email.verified).toBe(true);
    const audit = await env.db.selectFrom('audit_log').select('details').where('email_id', '=', someone.emailId).where('action', '=', 'email.verified').execute();
    expect(audit.map((row) => (row.details as { channel: string }).channel)).toEqual(['reply']);

    const second = await capture(() => runDevReply([someone.email, '--json']));
    expect(second.code).toBe(1);
    expect(second.json).toMatchObject({ status: 200, body: { outcome: 'refused', reason: 'token_used' } });
  });

  it('says what to do when there is no verification mail to reply to, or no address', async () => {
    await expect(runDevReply(['nobody@nowhere.example'])).rejects.toThrow(/no verification mail with a reply address to nobody@nowhere.example/);
    await expect(runDevReply([])).rejects.toThrow(UsageError);
  });
});
