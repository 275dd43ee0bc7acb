import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_CAMPAIGN_NAME } from '../../src/dev/demo.js';
import { poll, stackTraceLines, startDevProcess, type DevProcess } from '../helpers/dev-process.js';

// The env file lets another shell's reverify commands reach the dev stack,
// a second start carries on with the same demo campaign and delivers the
// simulated SES events the first run still had pending when it stopped, and
// a start after the campaign finished does not mail anyone again.

const exec = promisify(execFile);
const running: DevProcess[] = [];
let dataDir = '';

afterAll(async () => {
  for (const dev of running) await dev.interrupt();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

function start(args: string[]): DevProcess {
  const dev = startDevProcess(process.execPath, ['bin/reverify.mjs', 'dev', '--data-dir', dataDir, '--users', '150', '--send-rate', '3', ...args], {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
  running.push(dev);
  return dev;
}

/** NAME → value of the file's `export NAME='value'` lines. */
function parseExports(text: string): Record<string, string> {
  const lines = text.split('\n').filter((line) => line.startsWith('export '));
  return Object.fromEntries(lines.map((line) => /^export (\w+)='(.*)'$/.exec(line)?.slice(1, 3) ?? ['', '']));
}

/** A reverify command in a fresh shell that sourced the env file, as the banner tells a user to. */
async function sourcedCli(envFile: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await exec('sh', ['-c', '. "$1" && shift && exec node bin/reverify.mjs "$@"', 'sh', envFile, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
  });
  return JSON.parse(stdout);
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const campaignState = (url: string) =>
  query<{ status: string; sent: string; eligible: string }>(
    url,
    `SELECT c.status, count(r.ses_message_id) AS sent, count(r.id) AS eligible FROM campaigns c LEFT JOIN campaign_recipients r ON r.campaign_id = c.id GROUP BY c.id`,
  );

describe('reverify dev across a restart', () => {
  it('writes export lines another shell can source, and a restart carries on with the same demo campaign and its pending events', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'reverify-dev-restart-'));
    const first = start([]);
    await first.printed('Press Ctrl-C to stop.');
    const envFile = path.join(dataDir, 'env');
    const envText = await readFile(envFile, 'utf8');
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    const exported = parseExports(envText);
    expect(exported).toMatchObject({ QUEUE_BACKEND: 'postgres', QUEUE_PREFIX: '{reverify-dev}' });
    expect(exported.DATABASE_URL).toMatch(/^postgres:\/\/.*@127\.0\.0\.1:\d+\/reverify$/);
    expect(exported).not.toHaveProperty('REDIS_URL');
    expect(first.stdout()).toContain(`Log in as "admin" with password: ${exported.ADMIN_PASSWORD}`);
    // The banner shows the same lines, ready to paste.
    for (const line of envText.split('\n').filter((l) => l.startsWith('export '))) expect(first.stdout()).toContain(line);

    const listed = (await sourcedCli(envFile, 'campaign', 'list', '--json')) as { campaigns: Array<{ id: string; name: string; status: string }> };
    expect(listed.campaigns.map((c) => [c.name, c.status])).toEqual([[DEMO_CAMPAIGN_NAME, 'running']]);
    const campaignId = listed.campaigns[0]?.id;
    const url = exported.DATABASE_URL ?? '';
    await poll(() => campaignState(url), (rows) => Number(rows[0]?.sent) >= 8, 30_000, 'the first run sending 8 messages');
    expect(await first.interrupt(), first.stderr()).toBe(0);
    expect(stackTraceLines(first.stderr() + first.stdout())).toEqual([]);
    // Sending was under way: the simulator kept the events it had not posted yet.
    const carried = JSON.parse(await readFile(path.join(dataDir, 'ses-simulator-pending.json'), 'utf8')) as unknown[];
    expect(carried.length).toBeGreaterThan(0);

    const second = start(['--json']);
    const info = await second.ready;
    expect(info.demoCampaignId).toBe(campaignId);
    expect(info.demoCampaignCreated).toBe(false);
    expect(parseExports(await readFile(envFile, 'utf8')).ADMIN_PASSWORD).toBe(info.adminPassword);
    const [done] = await poll(() => campaignState(info.databaseUrl), (rows) => rows[0]?.status === 'completed', 40_000, 'the demo campaign completing');
    // One campaign, everyone eligible mailed once, and every message answered by an SES event (none lost at the stop).
    expect(done?.sent).toBe(done?.eligible);
    const shown = (await sourcedCli(envFile, 'campaign', 'list', '--json')) as { campaigns: unknown[] };
    expect(shown.campaigns).toHaveLength(1);
    await poll(
      () => query<{ unanswered: string }>(info.databaseUrl, 'SELECT count(*) AS unanswered FROM campaign_recipients r WHERE r.ses_message_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM email_events e WHERE e.ses_message_id = r.ses_message_id)'),
      (rows) => rows[0]?.unanswered === '0',
      15_000,
      'an SES event for every message sent',
    );
    expect(await second.interrupt(), second.stderr()).toBe(0);
    expect(stackTraceLines(second.stderr() + second.stdout())).toEqual([]);

    // A start after the campaign finished mails nobody again: same campaign, still completed, an empty inbox.
    const third = start(['--json']);
    const again = await third.ready;
    expect([again.demoCampaignId, again.demoCampaignCreated]).toEqual([campaignId, false]);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await campaignState(again.databaseUrl)).map((row) => row.status)).toEqual(['completed']);
    const inbox = (await (await fetch(`${again.inboxUrl}store`)).json()) as { emails: unknown[] };
    expect(inbox.emails).toEqual([]);
    expect(await third.interrupt(), third.stderr()).toBe(0);
    expect(stackTraceLines(third.stderr() + third.stdout())).toEqual([]);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 88_000);
});
