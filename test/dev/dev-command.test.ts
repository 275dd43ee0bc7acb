import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/dev/redis-server.js';
import { poll, stackTraceLines, startDevProcess, type DevProcess } from '../helpers/dev-process.js';

// `reverify dev` on a machine with Node only: no redis-server on the PATH and
// nothing on 6379 (nor on 5432). It runs in a network namespace of its own,
// whose loopback has nothing else on it, and the test looks at it from inside
// that namespace (nsenter): the campaign sends through the local SES and the
// simulated bounce unverifies its address through the webhook.

const exec = promisify(execFile);
let dev: DevProcess | undefined;
let workDir = '';

afterAll(async () => {
  await dev?.interrupt();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

function tool(name: string): string {
  const found = findOnPath(name);
  if (!found) throw new Error(`this test needs "${name}" on the PATH (util-linux and iproute2)`);
  return found;
}

/** A PATH with just what dev and PostgreSQL's start need, and no redis-server. */
async function bareBin(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await symlink(process.execPath, path.join(dir, 'node'));
  for (const name of ['sh', 'id', 'ip', 'locale']) await symlink(tool(name), path.join(dir, name));
  return dir;
}

/** Runs a command in the dev process's network namespace; its stdout. */
async function inside(pid: number, command: string[]): Promise<string> {
  const { stdout } = await exec(tool('nsenter'), [`--net=/proc/${pid}/ns/net`, '--', ...command], { env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } });
  return stdout;
}

const probe = async <T>(pid: number, ...args: string[]): Promise<T> =>
  JSON.parse(await inside(pid, [process.execPath, 'test/helpers/ns-probe.mjs', ...args])) as T;

describe('reverify dev with Node only', () => {
  it('sends the demo campaign through the local SES and a simulated bounce unverifies its address', async () => {
    // A network namespace needs root here (CI and containers run as root). Under a
    // user namespace (unshare -r) dev would see itself as root and hand its data to "postgres".
    if (userInfo().uid !== 0) throw new Error('this test runs reverify dev in a network namespace of its own, which needs root (unshare -n)');
    workDir = await mkdtemp(path.join(tmpdir(), 'reverify-dev-isolated-'));
    const bin = await bareBin(path.join(workDir, 'bin'));
    expect(findOnPath('redis-server', bin)).toBeUndefined();
    const dataDir = path.join(workDir, 'data');
    // unshare -n: a network namespace of its own, whose lo starts down.
    dev = startDevProcess(
      tool('unshare'),
      ['-n', '--', 'sh', '-c', 'ip link set lo up && exec node "$@"', 'sh', 'bin/reverify.mjs', 'dev', '--json', '--data-dir', dataDir, '--users', '200', '--send-rate', '25'],
      { PATH: bin },
    );
    const info = await dev.ready;
    const pid = dev.process.pid ?? 0;
    expect(info.queueBackend).toBe('postgres');
    expect(info.queues).toContain('schema bullmq_reverify_dev');
    expect(await probe(pid, 'port', '127.0.0.1', '6379')).toMatchObject({ open: false });
    expect(await probe(pid, 'port', '127.0.0.1', '5432')).toMatchObject({ open: false });

    const auth = `Basic ${Buffer.from(`${info.adminUser}:${info.adminPassword}`).toString('base64')}`;
    expect(await probe(pid, 'http', info.campaignsUrl)).toMatchObject({ status: 401 });
    expect(await probe(pid, 'http', info.campaignsUrl, auth)).toMatchObject({ status: 200 });
    expect(await probe(pid, 'http', info.dashboardUrl, auth)).toMatchObject({ status: 200 });
    expect(await probe(pid, 'http', info.inboxUrl)).toMatchObject({ status: 200 });

    // What a user types in another shell: source the env file, ask the CLI.
    const show = async () =>
      JSON.parse(
        await inside(pid, ['sh', '-c', '. "$1" && exec node bin/reverify.mjs campaign show "$2" --json', 'sh', info.envFile, info.demoCampaignId]),
      ) as { status: string; counts: Record<string, number> };
    const summary = await poll(show, (s) => s.status === 'completed' && (s.counts.bounced ?? 0) >= 2, 45_000, 'the demo campaign completing with its bounces');
    expect(summary.counts.sent).toBe(summary.counts.eligible);
    expect(summary.counts.sent).toBeGreaterThan(20);

    const store = await probe<{ body: string }>(pid, 'http', `${info.inboxUrl}store`);
    const recipients = (JSON.parse(store.body) as { emails: Array<{ destination: { to: string[] } }> }).emails.flatMap((e) => e.destination.to);
    expect(recipients).toContain('bounce@simulator.amazonses.com');
    expect(recipients.length).toBe(summary.counts.sent);

    const rows = await probe<Array<{ email: string; verified: boolean; unverify_reason: string | null }>>(
      pid,
      'sql',
      info.databaseUrl,
      "SELECT email, verified, unverify_reason FROM emails WHERE email LIKE '%@simulator.amazonses.com' ORDER BY email",
    );
    expect(Object.fromEntries(rows.map((r) => [r.email, r.unverify_reason]))).toMatchObject({
      'bounce@simulator.amazonses.com': 'hard_bounce',
      'complaint@simulator.amazonses.com': 'complaint',
      'suppressionlist@simulator.amazonses.com': 'hard_bounce',
      'success@simulator.amazonses.com': null,
    });
    // The bounce came as a signed SNS notification through the webhook.
    const events = await probe<Array<{ n: string }>>(
      pid,
      'sql',
      info.databaseUrl,
      "SELECT count(*) AS n FROM email_events WHERE event_type = 'Bounce' AND topic_arn LIKE 'arn:aws:sns:%' AND payload::text LIKE '%\"bounce@simulator.amazonses.com%'",
    );
    expect(Number(events[0]?.n)).toBeGreaterThanOrEqual(1);

    const code = await dev.interrupt();
    expect(code, dev.stderr()).toBe(0);
    expect(stackTraceLines(dev.stderr() + dev.stdout())).toEqual([]);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 85_000);
});
