import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminPasswordTooShortError } from '../../src/http/routes/admin.js';
import { createServer } from '../../src/http/server.js';
import { LoginThrottle } from '../../src/http/admin/login-throttle.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, post, TOPIC, useWebhook } from '../ses-events/helpers.js';
import { insertFixtureCampaign } from './campaign-fixture.js';

const env = useTestEnv();
const PASSWORD = 'console-api-password';
const app = env.app({ overrides: { ADMIN_USER: 'operator', ADMIN_PASSWORD: PASSWORD } });
const serverPromise = createServer(app);
const hook = useWebhook(env);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = basic('operator', PASSWORD);
const SAME_ORIGIN = { authorization: AUTH, 'sec-fetch-site': 'same-origin' };
let runningId = '';

beforeAll(async () => {
  runningId = await insertFixtureCampaign(env.db, { name: 'api target', tag: 'api' });
});

afterAll(async () => {
  await (await serverPromise).close();
});

async function api(method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = SAME_ORIGIN) {
  const server = await serverPromise;
  return server.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
}

const VALID = { name: 'API spring', segment: 'unverified-role-holders', perDay: 50, schedule: '0 * * * *', template: 'reverify-email' };

/** Runs the CLI and returns its exit code and stderr. */
async function cli(args: string[], overrides: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/reverify.mjs', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.env(overrides) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

describe('POST /admin/api/campaigns', () => {
  it('refuses bad input with the CLI\'s messages, naming the JSON fields, and creates nothing', { timeout: 90_000 }, async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...VALID, perDay: 0 }, /^perDay must be a whole number of at least 1, got "0"$/],
      [{ ...VALID, schedule: 'every hour' }, /^schedule must be a cron expression such as "0 \* \* \* \*" \(UTC\); got "every hour"$/],
      [{ ...VALID, segment: 'everyone' }, /^segment must be one of unverified-role-holders; got "everyone"$/],
      [{ ...VALID, startsAt: '2026-01-31 03:00' }, /^startsAt must be an ISO 8601 instant with a time zone/],
      [{ ...VALID, name: ' ' }, /^name is required: a name operators will recognise/],
      [{ ...VALID, perDays: 5 }, /^unknown field "perDays"/],
      [{ ...VALID, dryRun: 'yes' }, /^dryRun must be true or false$/],
    ];
    for (const [body, message] of cases) {
      const response = await api('POST', '/admin/api/campaigns', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().error, JSON.stringify(body)).toMatch(message);
    }
    const { code, stderr } = await cli(['campaign', 'create', '--name', 'x', '--segment', 'unverified-role-holders', '--per-day', '0', '--schedule', '0 * * * *']);
    expect(code).toBe(2);
    expect(stderr).toContain('--per-day must be a whole number of at least 1, got "0"');
    expect(await env.db.selectFrom('campaigns').select('id').execute()).toHaveLength(1);
  });

  it('previews with dryRun (eligible, excluded by reason, days, finish, message) and creates nothing', async () => {
    const response = await api('POST', '/admin/api/campaigns', { ...VALID, dryRun: true, startsAt: '2030-01-01T00:00:00Z' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ id: null, status: null, dryRun: true });
    expect(body.eligible).toBe(body.preview.eligible);
    expect(body.preview.projectedDays).toBe(Math.ceil(body.eligible / 50));
    expect(body.preview.excluded).toBeTypeOf('object');
    expect(body.preview.message.subject).toMatch(/\S/);
    if (body.eligible > 0) expect(body.preview.projectedFinish >= '2030-01-01').toBe(true);
    expect(await env.db.selectFrom('campaigns').select('id').execute()).toHaveLength(1);
  });

  it('creates a campaign as `campaign create --json` answers, audited as web:<ADMIN_USER>', async () => {
    const response = await api('POST', '/admin/api/campaigns', VALID);
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({ status: 'scheduled', dryRun: false });
    expect(body.id).toMatch(/^\d+$/);
    expect(body.eligible).toBeTypeOf('number');
    const audit = await env.db.selectFrom('audit_log').select(['actor', 'details']).where('action', '=', 'campaign.created').executeTakeFirstOrThrow();
    expect(audit.actor).toBe('web:operator');
    expect(audit.details).toMatchObject({ campaignId: body.id, name: 'API spring' });
  });
});

describe('POST /admin/api/campaigns/:id/pause|resume|cancel', () => {
  it('answers the campaign as `campaign show --json`, 409 for the wrong state, 404 for no campaign', async () => {
    const paused = await api('POST', `/admin/api/campaigns/${runningId}/pause`);
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ id: runningId, status: 'paused', reason: 'paused by web:operator' });
    // As in the CLI, pausing a paused campaign leaves it paused.
    const again = await api('POST', `/admin/api/campaigns/${runningId}/pause`);
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('paused');
    expect((await api('POST', `/admin/api/campaigns/${runningId}/resume`)).json().status).toBe('running');
    const cancelled = await api('POST', `/admin/api/campaigns/${runningId}/cancel`);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', reason: 'cancelled by web:operator' });
    expect(cancelled.json().counts.pending).toBe(0);
    const late = await api('POST', `/admin/api/campaigns/${runningId}/resume`);
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatch(/is cancelled and cannot become running/);
    expect((await api('POST', '/admin/api/campaigns/987654/pause')).statusCode).toBe(404);
    expect((await api('POST', `/admin/api/campaigns/${runningId}/delete`)).statusCode).toBe(404);
    const actors = await env.db.selectFrom('audit_log').select(['actor', 'action']).where('action', 'in', ['campaign.paused', 'campaign.resumed', 'campaign.cancelled']).orderBy('id').execute();
    expect(actors).toEqual([
      { actor: 'web:operator', action: 'campaign.paused' },
      { actor: 'web:operator', action: 'campaign.paused' },
      { actor: 'web:operator', action: 'campaign.resumed' },
      { actor: 'web:operator', action: 'campaign.cancelled' },
    ]);
  });
});

describe('campaign page', () => {
  it('names a person mailed twice (a first attempt SES took after all, found after its resend) beside the outcomes, only when it happened', async () => {
    const id = await insertFixtureCampaign(env.db, { name: 'twice', tag: 'twice' });
    const page = async () => (await api('GET', `/admin/campaigns/${id}`, undefined, { authorization: AUTH })).body;
    expect(await page()).not.toContain('data-count="sentTwice"');
    const sent = await env.db.selectFrom('campaign_recipients').select('id').where('campaign_id', '=', id).where('status', '=', 'sent').limit(2).execute();
    await env.db.updateTable('campaign_recipients').set({ late_ses_message_id: 'first-attempt-after-all' }).where('id', 'in', sent.map((row) => row.id)).execute();
    expect(await page()).toMatch(/<span class="bad">sent twice <b data-count="sentTwice">2<\/b>/);
  });
});

describe('address lookup', () => {
  it('shows a bounced address: reason, suppression and the SES event with its diagnostic code, in time order (as `reverify address show --json`)', { timeout: 90_000 }, async () => {
    const address = await addAddress(env.db, { email: 'Bounced.Person@Example.net', verified: true });
    const message = hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent('hard_bounce', { to: 'bounced.person@example.net' }) });
    expect((await post(hook.server, message)).statusCode).toBe(200);
    const report = (await api('GET', '/admin/addresses?q=BOUNCED.person%40example.net&format=json')).json();
    expect(report.state).toMatchObject({ emailId: address.emailId, verified: false, unverifyReason: 'hard_bounce', softBounces: 0 });
    expect(report.suppression).toMatchObject({ reason: 'hard_bounce' });
    const kinds = report.history.map((entry: { kind: string }) => entry.kind);
    expect(kinds).toEqual(expect.arrayContaining(['ses_event', 'audit']));
    const event = report.history.find((entry: { kind: string }) => entry.kind === 'ses_event');
    expect(event.details).toMatchObject({ type: 'Bounce', subType: 'Permanent/General', code: 'smtp; 550 5.1.1 user unknown' });
    const times = report.history.map((entry: { at: string }) => entry.at);
    expect(times).toEqual([...times].sort());
    const child = spawn(process.execPath, ['bin/reverify.mjs', 'address', 'show', 'Bounced.Person@example.net', '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.env() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(0);
    expect(JSON.parse(stdout)).toEqual(report);
    const page = await api('GET', '/admin/addresses?q=bounced.person%40example.net');
    expect(page.body).toContain('hard_bounce');
    expect(page.body).toContain('smtp; 550 5.1.1 user unknown');
  });
});

describe('ADMIN_PASSWORD and failed logins', () => {
  it('refuses a password shorter than 12 characters at start, and accepts 12', { timeout: 90_000 }, async () => {
    await expect(createServer(env.app({ overrides: { ADMIN_PASSWORD: 'elevenchars' } }))).rejects.toThrow(AdminPasswordTooShortError);
    const twelve = await createServer(env.app({ overrides: { ADMIN_PASSWORD: 'twelve-chars' } }));
    const response = await twelve.inject({ method: 'GET', url: '/admin/campaigns', headers: { authorization: basic('admin', 'twelve-chars') } });
    expect(response.statusCode).toBe(200);
    await twelve.close();
    const { code, stderr } = await cli(['server'], { PORT: '0', ADMIN_PASSWORD: 'short-pw' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/ADMIN_PASSWORD has 8 characters, fewer than 12/);
  });

  it('throttles an address after 10 wrong logins (429 with Retry-After, even with the right password); others still log in', async () => {
    const server = await serverPromise;
    const from = (remoteAddress: string, authorization?: string) =>
      server.inject({ method: 'GET', url: '/admin/api/campaigns', remoteAddress, headers: authorization ? { authorization } : {} });
    // A browser's first request, before it asks for credentials, is no failure.
    for (let i = 0; i < 20; i++) expect((await from('10.9.0.1')).statusCode).toBe(401);
    for (let i = 0; i < 10; i++) expect((await from('10.9.0.1', basic('operator', `guess-${i}`))).statusCode).toBe(401);
    const throttled = await from('10.9.0.1', AUTH);
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(800);
    expect((await from('10.9.0.2', AUTH)).statusCode).toBe(200);
  });

  it('forgets an address\'s failures once the window has passed', () => {
    let now = 0;
    const throttle = new LoginThrottle({ limit: 3, windowMs: 60_000 }, () => now);
    for (let i = 0; i < 3; i++) throttle.recordFailure('10.0.0.1');
    expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(60);
    now = 59_000;
    expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(1);
    now = 60_000;
    expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(0);
    expect(throttle.retryAfterSeconds('10.0.0.2')).toBe(0);
  });
});
