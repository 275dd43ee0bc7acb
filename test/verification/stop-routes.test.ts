import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, previewCampaign } from '../../src/campaigns/operations.js';
import { stopRoutes } from '../../src/http/routes/stop.js';
import { verifyRoutes } from '../../src/http/routes/verify.js';
import { buildServer } from '../../src/http/server.js';
import { checkSendPolicy } from '../../src/mail/send-policy.js';
import { issueStopToken } from '../../src/verification/stop-tokens.js';
import { issueVerificationToken } from '../../src/verification/tokens.js';
import type { App } from '../../src/app/app.js';
import { useTestEnv } from '../helpers/env.js';
import { createRoleHolder, snapshot } from './fixtures.js';

const env = useTestEnv();
const now = new Date('2026-03-01T12:00:00Z');
let app: App;
let server: FastifyInstance;

beforeAll(async () => {
  app = env.app({ clock: () => now });
  server = await buildServer(app, { routes: [verifyRoutes, stopRoutes] });
  await server.ready();
});

afterAll(async () => {
  await server?.close();
});

async function stopTokenFor(person: { userId: string; emailId: string; email: string }): Promise<string> {
  return (await issueStopToken(env.db, { ...person, purpose: 'campaign', now })).token;
}

const get = (token: string) => server.inject({ method: 'GET', url: `/stop/${token}` });
const postForm = (token: string) =>
  server.inject({ method: 'POST', url: `/stop/${token}`, payload: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const postOneClick = (token: string) =>
  server.inject({ method: 'POST', url: `/stop/${token}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });

async function suppressionOf(email: string) {
  return env.db.selectFrom('suppressions').select('reason').where('email', '=', email.toLowerCase()).executeTakeFirst();
}

async function stopAudits(emailId: string) {
  const { rows } = await sql<{ reason: string; channel: string; actor: string }>`
    SELECT reason, details->>'channel' AS channel, actor FROM audit_log WHERE action = 'email.stopped' AND email_id = ${emailId} ORDER BY id`.execute(env.db);
  return rows;
}

describe('GET /stop/:token', () => {
  it('shows the address and a button, and changes nothing however often it is fetched', async () => {
    const person = await createRoleHolder(env.db, 'stop-scanned');
    const token = await stopTokenFor(person);
    const before = await snapshot(env.db);
    const tokensBefore = await env.db.selectFrom('stop_tokens').selectAll().orderBy('id').execute();
    for (let i = 0; i < 3; i += 1) {
      const response = await get(token);
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('stop-scanned@mail.example.com');
      expect(response.body).toContain('<form method="post"><button type="submit">Stop mail to this address</button></form>');
      expect(response.body).toMatch(/This is not my account, or I do not want these messages/);
    }
    await server.inject({ method: 'HEAD', url: `/stop/${token}` });
    expect(await snapshot(env.db)).toEqual(before);
    expect(await env.db.selectFrom('stop_tokens').selectAll().orderBy('id').execute()).toEqual(tokensBefore);
  });

  it('is served with the same strict headers as the verification page', async () => {
    const person = await createRoleHolder(env.db, 'stop-headers');
    const stop = await get(await stopTokenFor(person));
    const { token } = await issueVerificationToken(env.db, { ...person, purpose: 'user_request', now, ttlHours: 168 });
    const verify = await server.inject({ method: 'GET', url: `/verify/${token}` });
    for (const header of ['content-security-policy', 'cache-control', 'referrer-policy', 'x-content-type-options', 'x-frame-options', 'content-type']) {
      expect(stop.headers[header], header).toBe(verify.headers[header]);
    }
    expect(stop.headers['content-security-policy']).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    expect(stop.headers['cache-control']).toBe('no-store');
    expect(stop.body).not.toMatch(/<script|https?:\/\//);
  });
});

describe('POST /stop/:token', () => {
  it('suppresses the address as recipient_request, audits it, and no campaign or site-requested verification mails it again', async () => {
    const person = await createRoleHolder(env.db, 'stop-web');
    const token = await stopTokenFor(person);
    const response = await postForm(token);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/Mail to this address is stopped/);
    expect(await suppressionOf(person.email)).toEqual({ reason: 'recipient_request' });
    expect(await stopAudits(person.emailId)).toEqual([{ reason: 'recipient_request', channel: 'web', actor: 'stop-link' }]);
    const used = await env.db.selectFrom('stop_tokens').select(['used_at', 'used_channel']).where('email_id', '=', person.emailId).executeTakeFirstOrThrow();
    expect(used).toEqual({ used_at: now, used_channel: 'web' });

    // The next campaign leaves them out, and says why.
    await env.db.updateTable('emails').set({ verified: true }).where('user_id', '!=', person.userId).execute();
    const input = { name: 'after the stop', template: 'reverify-email', segment: 'unverified-role-holders', perDay: 10, schedule: '0 0 * * *', startsAt: now, allowExternalLinks: false };
    const created = await createCampaign(app, input, { dryRun: false });
    expect(created.eligible).toBe(0);
    expect((await previewCampaign(app, created.campaign!.id)).excluded.suppressed).toBe(1);
    // A verification the site or an operator asks for is refused; the one the person asks for is not.
    expect(await checkSendPolicy(env.db, { emailId: person.emailId, kind: 'campaign' })).toEqual({ allowed: false, reason: 'suppressed_recipient_request' });
    expect(await checkSendPolicy(env.db, { emailId: person.emailId, kind: 'notice' })).toEqual({ allowed: false, reason: 'suppressed_recipient_request' });
    expect(await checkSendPolicy(env.db, { emailId: person.emailId, kind: 'user_request' })).toEqual({ allowed: true });
  });

  it('answers a mailbox provider’s one-click request with 200 and no page, audited as one-click', async () => {
    const person = await createRoleHolder(env.db, 'stop-one-click');
    const token = await stopTokenFor(person);
    const response = await postOneClick(token);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('');
    expect(await suppressionOf(person.email)).toEqual({ reason: 'recipient_request' });
    expect(await stopAudits(person.emailId)).toEqual([{ reason: 'recipient_request', channel: 'one-click', actor: 'stop-link' }]);
    // The provider retrying is answered the same, and changes nothing.
    const before = await snapshot(env.db);
    expect((await postOneClick(token)).statusCode).toBe(200);
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('keeps a complaint a complaint: the stop is audited, the stronger reason stays', async () => {
    const person = await createRoleHolder(env.db, 'stop-after-complaint');
    await env.db.insertInto('suppressions').values({ email: person.email, reason: 'complaint' }).execute();
    expect((await postForm(await stopTokenFor(person))).statusCode).toBe(200);
    expect(await suppressionOf(person.email)).toEqual({ reason: 'complaint' });
    expect(await stopAudits(person.emailId)).toHaveLength(1);
  });

  it('refuses a used token with a page that says so, and changes nothing', async () => {
    const person = await createRoleHolder(env.db, 'stop-twice');
    const token = await stopTokenFor(person);
    expect((await postForm(token)).statusCode).toBe(200);
    const before = await snapshot(env.db);
    const again = await postForm(token);
    expect(again.statusCode).toBe(410);
    expect(again.body).toMatch(/already been used/);
    expect((await get(token)).statusCode).toBe(410);
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('answers an unknown or malformed token as /verify does (404), on every method and body', async () => {
    const before = await snapshot(env.db);
    // A token longer than any URL parameter the server takes is refused before routing (414), for /verify alike.
    for (const [token, status] of [['A'.repeat(43), 404], ['short', 404], ['..%2F..%2Fetc', 404], ['x'.repeat(500), 414]] as const) {
      const verify = await server.inject({ method: 'GET', url: `/verify/${token}` });
      expect(verify.statusCode).toBe(status);
      for (const response of [await get(token), await postForm(token), await postOneClick(token)]) {
        expect(response.statusCode, token).toBe(status);
        if (status === 404) expect(response.body).toMatch(/This link is not valid/);
      }
    }
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('refuses an oversized body with a page and changes nothing', async () => {
    const person = await createRoleHolder(env.db, 'stop-big-body');
    const token = await stopTokenFor(person);
    const response = await server.inject({ method: 'POST', url: `/stop/${token}`, payload: 'x'.repeat(64 * 1024), headers: { 'content-type': 'text/plain' } });
    expect(response.statusCode).toBe(413);
    expect(await suppressionOf(person.email)).toBeUndefined();
  });
});
