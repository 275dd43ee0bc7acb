import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.js';
import { buildServer } from '../../src/http/server.js';
import { verifyRoutes } from '../../src/http/routes/verify.js';
import { addressesVerifiedTotal } from '../../src/metrics.js';
import { hashToken, issueVerificationToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';
import { createLedgerRow, createRoleHolder, snapshot } from './fixtures.js';

const env = useTestEnv();
const issuedAt = new Date('2026-03-01T12:00:00Z');
let now = issuedAt;
let server: FastifyInstance;

beforeAll(async () => {
  const app = env.app({ clock: () => now });
  server = await buildServer(app, { routes: [verifyRoutes] });
  await server.ready();
});

afterAll(async () => {
  await server?.close();
});

const at = (hoursAfterIssue: number) => new Date(issuedAt.getTime() + hoursAfterIssue * 3_600_000);

async function tokenFor(person: { userId: string; emailId: string; email: string }, campaignRecipientId: string | null = null) {
  const { token } = await issueVerificationToken(env.db, {
    ...person,
    purpose: campaignRecipientId ? 'campaign' : 'user_request',
    campaignRecipientId,
    now: issuedAt,
    ttlHours: 168,
  });
  return token;
}

const get = (token: string) => server.inject({ method: 'GET', url: `/verify/${token}` });
const post = (token: string, init: { payload?: string; headers?: Record<string, string> } = {}) =>
  server.inject({ method: 'POST', url: `/verify/${token}`, ...init });

describe('GET /verify/:token', () => {
  it('shows a confirmation page with a POST button and changes nothing, however often it is fetched', async () => {
    now = at(1);
    const person = await createRoleHolder(env.db, 'scanner-target');
    const token = await tokenFor(person);
    const before = await snapshot(env.db);
    for (let i = 0; i < 3; i += 1) {
      const response = await get(token);
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('<form method="post">');
      expect(response.body).toContain('scanner-target@mail.example.com');
      expect(response.body).toContain('Sunday, 8 March 2026 at 12:00 UTC');
    }
    await server.inject({ method: 'HEAD', url: `/verify/${token}` });
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('is served uncached, without referrer, under a restrictive CSP and with no external assets', async () => {
    now = at(1);
    const token = await tokenFor(await createRoleHolder(env.db, 'headers-check'));
    const response = await get(token);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain('unsafe-inline');
    // The one inline stylesheet is allowed by its hash, so browsers apply it.
    const style = /<style>([\s\S]*?)<\/style>/.exec(response.body)?.[1] ?? '';
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(response.body).not.toMatch(/(src|href)=/);
    expect(response.body).not.toContain(token);
  });

  it('escapes a hostile username on the page', async () => {
    now = at(1);
    const person = await createRoleHolder(env.db, '<script>alert(1)</script>', { email: 'hostile@mail.example.com' });
    const response = await get(await tokenFor(person));
    expect(response.body).not.toContain('<script>');
    expect(response.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('POST /verify/:token', () => {
  it('confirms the address once and applies every effect', async () => {
    now = at(2);
    const person = await createRoleHolder(env.db, 'confirms');
    await env.db
      .updateTable('emails')
      .set({ unverify_reason: 'soft_bounce', transient_bounces: 6 })
      .where('id', '=', person.emailId)
      .execute();
    await env.db.insertInto('suppressions').values({ email: person.email, reason: 'soft_bounce' }).execute();
    const linked = await createLedgerRow(env.db, person, { name: 'linked' });
    const otherSent = await createLedgerRow(env.db, person, { name: 'other, sent' });
    const otherUnsent = await createLedgerRow(env.db, person, { name: 'other, not sent', sentAt: null });
    const token = await tokenFor(person, linked.recipientId);
    const verifiedBefore = (await addressesVerifiedTotal.get()).values[0]?.value ?? 0;

    const response = await post(token, { payload: 'confirm=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Your email address is confirmed');
    expect(response.headers['cache-control']).toBe('no-store');

    const email = await env.db.selectFrom('emails').selectAll().where('id', '=', person.emailId).executeTakeFirstOrThrow();
    expect(email).toMatchObject({ verified: true, verified_at: now, unverify_reason: null, transient_bounces: 0 });
    expect(await env.db.selectFrom('suppressions').selectAll().where('email', '=', person.email).execute()).toEqual([]);

    const tokenRow = await env.db.selectFrom('verification_tokens').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow();
    expect(tokenRow.used_at).toEqual(now);

    const ledger = await env.db.selectFrom('campaign_recipients').select(['id', 'verified_at']).where('user_id', '=', person.userId).execute();
    const verifiedAt = Object.fromEntries(ledger.map((row) => [row.id, row.verified_at]));
    expect(verifiedAt[linked.recipientId]).toEqual(now);
    expect(verifiedAt[otherSent.recipientId]).toEqual(now);
    expect(verifiedAt[otherUnsent.recipientId]).toBeNull();

    const audit = await env.db.selectFrom('audit_log').selectAll().where('user_id', '=', person.userId).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'verify', action: 'email.verified', email_id: person.emailId });
    expect(audit[0]?.details).toMatchObject({ tokenId: tokenRow.id, previousUnverifyReason: 'soft_bounce', suppressionLifted: true });
    expect(JSON.stringify(audit[0])).not.toContain(token);
    expect(JSON.stringify(audit[0])).not.toContain(tokenRow.token_hash);

    expect((await addressesVerifiedTotal.get()).values[0]?.value).toBe(verifiedBefore + 1);
  });

  it('refuses a second use with a clear page and changes nothing', async () => {
    now = at(3);
    const person = await createRoleHolder(env.db, 'clicks-twice');
    const token = await tokenFor(person);
    expect((await post(token)).statusCode).toBe(200);
    const before = await snapshot(env.db);

    now = at(4);
    const again = await post(token, { payload: '{"not": "json', headers: { 'content-type': 'application/json' } });
    expect(again.statusCode).toBe(410);
    expect(again.body).toContain('This link has already been used');
    expect(again.body).toContain('request a new verification link from your account settings');
    expect((await get(token)).statusCode).toBe(410);
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('lets exactly one of two simultaneous presses confirm', async () => {
    now = at(3);
    const person = await createRoleHolder(env.db, 'double-click');
    const token = await tokenFor(person);
    const responses = await Promise.all([post(token), post(token)]);
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 410]);
    const audit = await env.db.selectFrom('audit_log').select('id').where('user_id', '=', person.userId).execute();
    expect(audit).toHaveLength(1);
  });

  it('refuses an expired token with a clear page and changes nothing', async () => {
    now = at(1);
    const person = await createRoleHolder(env.db, 'too-late');
    const token = await tokenFor(person);
    const before = await snapshot(env.db);

    now = at(168);
    for (const response of [await get(token), await post(token)]) {
      expect(response.statusCode).toBe(410);
      expect(response.body).toContain('This link has expired');
      expect(response.body).toContain('expired on Sunday, 8 March 2026 at 12:00 UTC');
      expect(response.body).toContain('go to example.org yourself, sign in, and request a new verification link');
      expect(response.body).not.toContain('<form');
    }
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('answers 404 for an unknown or malformed token', async () => {
    now = at(1);
    const before = await snapshot(env.db);
    const unknown = 'A'.repeat(43);
    const emptyJson = await post(unknown, { headers: { 'content-type': 'application/json' } });
    for (const response of [await get(unknown), await post(unknown), emptyJson, await get('short'), await post('%3Cscript%3E')]) {
      expect(response.statusCode).toBe(404);
      expect(response.body).toContain('This link is not valid');
      expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    }
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('refuses a token whose address changed since it was sent', async () => {
    now = at(1);
    const person = await createRoleHolder(env.db, 'changed-address');
    const token = await tokenFor(person);
    await env.db.updateTable('emails').set({ email: 'new-address@mail.example.com' }).where('id', '=', person.emailId).execute();
    const before = await snapshot(env.db);

    for (const response of [await get(token), await post(token)]) {
      expect(response.statusCode).toBe(409);
      expect(response.body).toContain('This link is for an address that has changed');
    }
    expect(await snapshot(env.db)).toEqual(before);
  });

  it('refuses a token whose address moved to another account', async () => {
    now = at(1);
    const person = await createRoleHolder(env.db, 'gave-address-away');
    const token = await tokenFor(person);
    const other = await env.db.insertInto('users').values({ username: 'took-address' }).returning('id').executeTakeFirstOrThrow();
    await env.db.updateTable('emails').set({ user_id: other.id, is_primary: false }).where('id', '=', person.emailId).execute();
    expect((await post(token)).statusCode).toBe(409);
    const email = await env.db.selectFrom('emails').select('verified').where('id', '=', person.emailId).executeTakeFirstOrThrow();
    expect(email.verified).toBe(false);
  });

  it('accepts a second link for an address another link verified meanwhile, keeping the first date', async () => {
    now = at(5);
    const person = await createRoleHolder(env.db, 'two-links');
    const first = await tokenFor(person);
    const second = await tokenFor(person);
    expect((await post(first)).statusCode).toBe(200);
    const firstDate = now;

    now = at(6);
    const response = await post(second);
    expect(response.statusCode).toBe(200);
    const email = await env.db.selectFrom('emails').selectAll().where('id', '=', person.emailId).executeTakeFirstOrThrow();
    expect(email).toMatchObject({ verified: true, verified_at: firstDate });
    const secondRow = await env.db.selectFrom('verification_tokens').select('used_at').where('token_hash', '=', hashToken(second)).executeTakeFirstOrThrow();
    expect(secondRow.used_at).toEqual(now);
  });
});

describe('logging', () => {
  it('never writes the token to the log, also when the database is down', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const apps = [
      createApp(env.config(), { log, clock: () => at(1) }),
      // A database that does not exist: every query fails, as during an outage.
      createApp(env.config({ DATABASE_URL: `${env.databaseUrl}_missing` }), { log, clock: () => at(1) }),
    ];
    let closed = false;
    track('logging test Apps', () => !closed);
    try {
      const [up, down] = await Promise.all(apps.map((app) => buildServer(app, { routes: [verifyRoutes] })));
      const token = await tokenFor(await createRoleHolder(env.db, 'quiet-logs'));
      await up!.inject({ method: 'GET', url: `/verify/${token}` });
      expect((await up!.inject({ method: 'POST', url: `/verify/${token}` })).statusCode).toBe(200);
      const outage = await down!.inject({ method: 'POST', url: `/verify/${token}` });
      expect(outage.statusCode).toBe(503);
      expect(outage.body).toContain('Please try again in a few minutes');
      await Promise.all([up!.close(), down!.close()]);

      expect(lines.some((line) => line.includes('email address verified'))).toBe(true);
      expect(lines.some((line) => line.includes('verification request failed'))).toBe(true);
      for (const line of lines) expect(line).not.toContain(token);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
      closed = true;
    }
  });
});

describe('request bodies', () => {
  it('refuses an oversized body with a page and changes nothing', async () => {
    now = at(1);
    const token = await tokenFor(await createRoleHolder(env.db, 'big-body'));
    const before = await snapshot(env.db);
    const response = await post(token, { payload: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } });
    expect(response.statusCode).toBe(413);
    expect(response.body).toContain('Nothing was changed');
    expect(await snapshot(env.db)).toEqual(before);
  });
});
