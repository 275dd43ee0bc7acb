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
// and a start after the demo campaign finished reuses it instead of mailing
// the same people again. (Events pending at a stop: ses-simulator.test.ts.)

const exec = promisify(execFile);
const running: DevProcess[] = [];
let dataDir = '';

afterAll(async () => {
  for (const dev of running) await dev.interrupt();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

function start(args: string[]): DevProcess {
  const dev = startDevProcess(process.execPath, ['bin/reverify.mjs', 'dev', '--data-dir', dataDir, '--users', '150', '--send-rate', '20', ...args], {
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
  it('writes export lines another shell can source, and a restart reuses the finished demo campaign', async () => {
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
    expect(listed.campaigns.map((c) => c.name)).toEqual([DEMO_CAMPAIGN_NAME]);
    expect(['running', 'completed']).toContain(listed.campaigns[0]?.status);
    const campaignId = listed.campaigns[0]?.id;
    const url = exported.DATABASE_URL ?? '';
    const [done] = await poll(() => campaignState(url), (rows) => rows[0]?.status === 'completed', 40_000, 'the demo campaign completing');
    expect(done?.sent).toBe(done?.eligible);
    expect(await first.interrupt(), first.stderr()).toBe(0);
    expect(stackTraceLines(first.stderr() + first.stdout())).toEqual([]);

    // A start after the campaign finished mails nobody again: the same campaign, still completed, an empty inbox.
    const second = start(['--json']);
    const info = await second.ready;
    expect([info.demoCampaignId, info.demoCampaignCreated]).toEqual([campaignId, false]);
    expect(parseExports(await readFile(envFile, 'utf8')).ADMIN_PASSWORD).toBe(info.adminPassword);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const shown = (await sourcedCli(envFile, 'campaign', 'list', '--json')) as { campaigns: Array<{ id: string; status: string }> };
    expect(shown.campaigns.map((c) => [c.id, c.status])).toEqual([[campaignId, 'completed']]);
    const inbox = (await (await fetch(`${info.inboxUrl}store`)).json()) as { emails: unknown[] };
    expect(inbox.emails).toEqual([]);
    expect(await second.interrupt(), second.stderr()).toBe(0);
    expect(stackTraceLines(second.stderr() + second.stdout())).toEqual([]);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 85_000);
});
