import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { DevInfo } from '../../src/dev/stack.js';
import { track } from '../helpers/resources.js';

// `reverify dev` with nothing but PATH and HOME: it must bring up its own
// PostgreSQL, Redis and SES, run the demo campaign to the end, and turn the
// simulator's bounce and complaint into unverified addresses via the webhook.

let child: ChildProcess | undefined;
let dataDir = '';

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await new Promise((resolve) => child?.once('exit', resolve));
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

function startDev(dir: string): { process: ChildProcess; ready: Promise<DevInfo>; stderr: () => string } {
  const processHandle = spawn(process.execPath, ['bin/reverify.mjs', 'dev', '--json', '--data-dir', dir, '--users', '300'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track('reverify dev process', () => processHandle.exitCode === null && processHandle.signalCode === null);
  let stdout = '';
  let stderr = '';
  processHandle.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
  const ready = new Promise<DevInfo>((resolve, reject) => {
    processHandle.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as DevInfo);
    });
    processHandle.once('exit', (code) => reject(new Error(`reverify dev exited with ${code} before it was ready:\n${stderr}`)));
  });
  return { process: processHandle, ready, stderr: () => stderr };
}

async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    last = await read();
  }
  return last;
}

describe('reverify dev', () => {
  it('runs the demo on embedded services and lands the simulated bounce and complaint', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'reverify-dev-test-'));
    const dev = startDev(dataDir);
    child = dev.process;
    const info = await dev.ready;
    expect(info.passwordGenerated).toBe(true);
    expect(info.adminPassword.length).toBeGreaterThanOrEqual(16);
    expect(info.databaseUrl).toMatch(/^postgres:\/\/.*@127\.0\.0\.1:\d+\/reverify$/);

    const auth = { authorization: `Basic ${Buffer.from(`${info.adminUser}:${info.adminPassword}`).toString('base64')}` };
    expect((await fetch(info.campaignsUrl)).status).toBe(401);
    expect((await fetch(info.campaignsUrl, { headers: auth })).status).toBe(200);
    expect((await fetch(info.dashboardUrl, { headers: auth })).status).toBe(200);
    expect((await fetch(info.inboxUrl)).status).toBe(200);

    const apiUrl = info.campaignsUrl.replace('/admin/campaigns', `/admin/api/campaigns/${info.demoCampaignId}`);
    const summary = await poll(
      async () => (await (await fetch(apiUrl, { headers: auth })).json()) as { status: string; counts: Record<string, number> },
      (s) => s.status === 'completed',
      45_000,
      'the demo campaign completing',
    );
    expect(summary.counts.sent).toBe(summary.counts.eligible);
    expect(summary.counts.sent).toBeGreaterThan(5);

    const db = new pg.Client({ connectionString: info.databaseUrl });
    await db.connect();
    try {
      const states = await poll(
        async () =>
          (
            await db.query<{ email: string; verified: boolean; unverify_reason: string | null }>(
              "SELECT email, verified, unverify_reason FROM emails WHERE email LIKE '%@simulator.amazonses.com' ORDER BY email",
            )
          ).rows,
        (rows) => rows.filter((r) => r.unverify_reason !== null).length >= 3,
        15_000,
        'the simulated bounce and complaint landing',
      );
      const reasons = Object.fromEntries(states.map((r) => [r.email, r.unverify_reason]));
      expect(reasons).toEqual({
        'bounce@simulator.amazonses.com': 'hard_bounce',
        'complaint@simulator.amazonses.com': 'complaint',
        'ooto@simulator.amazonses.com': null,
        'success@simulator.amazonses.com': null,
        'suppressionlist@simulator.amazonses.com': 'hard_bounce',
      });
      expect(states.every((r) => !r.verified)).toBe(true);
      // They came through the webhook, signature checked, as SNS notifications.
      const events = await db.query<{ event_type: string; n: string }>(
        "SELECT event_type, count(*) AS n FROM email_events WHERE topic_arn LIKE 'arn:aws:sns:%' GROUP BY event_type",
      );
      const byType = Object.fromEntries(events.rows.map((r) => [r.event_type, Number(r.n)]));
      expect(byType.Bounce).toBeGreaterThanOrEqual(3);
      expect(byType.Complaint).toBe(1);
    } finally {
      await db.end();
    }

    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child?.once('exit', resolve));
    expect(code, dev.stderr()).toBe(0);
    // The embedded PostgreSQL stopped with it.
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 90_000);
});
