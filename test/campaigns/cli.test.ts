import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { campaignCommand } from '../../src/cli/commands/campaign.js';
import { reconcileCommand } from '../../src/cli/commands/reconcile.js';
import { UsageError, type Command } from '../../src/cli/commands/command.js';
import { templates, type TemplateSource } from '../../src/mail/templates/index.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, insertPeople } from './helpers.js';
import { captureStdout } from '../helpers/stdout.js';

const env = useTestEnv();

function reverify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/reverify.mjs', ...args], { env: { ...process.env, ...env.env() }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs a command in this process (spawning tsx costs seconds each), capturing stdout. */
async function inProcess(command: Command, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return { ...(await captureStdout(() => command.run(args))), stderr: '' };
}

function json(result: { code: number; stdout: string; stderr: string }): Record<string, unknown> {
  expect(result.stderr).not.toMatch(/reverify: /);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const createFlags = ['--name', 'cli test', '--template', 'reverify-email', '--segment', 'unverified-role-holders', '--per-day', '2', '--schedule', '0 * * * *'];

beforeAll(async () => {
  Object.assign(process.env, env.env());
  await insertPeople(env.db, [...eligiblePeople('cli', 5), { username: 'cli-verified', verified: true }, { username: 'cli-no-role', roles: 0 }]);
});

describe('reverify campaign (CLI)', () => {
  it('create --dry-run counts and creates nothing; create --json gives id, status and eligible', async () => {
    expect(json(await reverify('campaign', 'create', ...createFlags, '--dry-run', '--json'))).toEqual({ id: null, status: null, eligible: 5, dryRun: true });
    expect(await env.db.selectFrom('campaigns').select('id').execute()).toEqual([]);

    const created = json(await inProcess(campaignCommand, 'create', ...createFlags, '--starts-at', '2030-01-01T00:00:00Z', '--json'));
    expect(created).toMatchObject({ status: 'scheduled', eligible: 5, dryRun: false });
    const id = String(created.id);

    const preview = json(await inProcess(campaignCommand, 'preview', id, '--json'));
    expect(preview).toMatchObject({ eligible: 5, excluded: { verified: 1, no_role: 1 }, projectedDays: 3, projectedFinish: '2030-01-03' });
    expect((preview.message as { text: string }).text).toContain('https://example.org/verify/');

    const show = json(await inProcess(campaignCommand, 'show', id, '--json'));
    expect(show).toMatchObject({ id, status: 'scheduled', reason: null });
    expect(Object.keys(show.counts as object)).toEqual(
      expect.arrayContaining(['eligible', 'queued', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'skipped', 'verified']),
    );
    expect(show.counts).toMatchObject({ eligible: 5, queued: 0, sent: 0, verified: 0 });

    expect(json(await inProcess(campaignCommand, 'pause', id, '--json'))).toMatchObject({ id, status: 'paused', reason: 'paused by an operator' });
    expect(json(await inProcess(campaignCommand, 'resume', id, '--json'))).toMatchObject({ id, status: 'running', reason: null });
    expect(json(await inProcess(campaignCommand, 'cancel', id, '--json'))).toMatchObject({ id, status: 'cancelled' });
    const list = json(await inProcess(campaignCommand, 'list', '--json'));
    expect((list.campaigns as Array<{ id: string; status: string }>).map((c) => [c.id, c.status])).toEqual([[id, 'cancelled']]);
  });

  it('says what to fix and exits 2 on bad input', async () => {
    const [badPerDay, unknownFlag] = await Promise.all([
      reverify('campaign', 'create', ...createFlags.slice(0, -4), '--per-day', 'lots', '--schedule', '0 * * * *', '--json'),
      reverify('campaign', 'show', '1', '--colour'),
    ]);
    expect(badPerDay.code).toBe(2);
    expect(badPerDay.stderr).toContain('--per-day must be a whole number of at least 1');
    expect(badPerDay.stdout).toBe('');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('--colour');

    await expect(inProcess(campaignCommand, 'create', ...createFlags.slice(0, -2), '--schedule', 'every hour')).rejects.toThrow(
      '--schedule must be a cron expression',
    );
    await expect(inProcess(campaignCommand, 'resume', '999999')).rejects.toThrow('no campaign has id 999999');
    await expect(inProcess(campaignCommand, 'launch')).rejects.toThrow('unknown action "launch"');
  });

  it('create refuses a template that links outside PUBLIC_BASE_URL unless --allow-external-links', async () => {
    // Every shipped template links only to the site, so the test adds one that
    // does not (the registry is a plain object; removed again below).
    const registry = templates as Record<string, TemplateSource>;
    registry['test-external-link'] = {
      subject: 'Hello {{username}}',
      text: 'Confirm: {{verifyUrl}}\nOur status page: https://status.example.net/now\n',
      html: '<p><a href="{{verifyUrl}}">Confirm</a> or see <a href="https://tracker.example.net/c?u={{username}}">our tracker</a>.</p>',
    };
    try {
      const flags = ['--name', 'external links', '--template', 'test-external-link', '--segment', 'unverified-role-holders', '--per-day', '2', '--schedule', '0 * * * *'];
      const before = await env.db.selectFrom('campaigns').select('id').execute();
      const refusal = inProcess(campaignCommand, 'create', ...flags, '--json');
      await expect(refusal).rejects.toThrow(UsageError);
      const message = await refusal.catch((error: Error) => error.message);
      expect(message).toContain('template "test-external-link" links outside PUBLIC_BASE_URL (https://example.org)');
      expect(message).toContain('https://status.example.net/now');
      expect(message).toContain('https://tracker.example.net/c?u=example-user');
      expect(message).toContain('pass --allow-external-links if these links are intended');
      expect(await env.db.selectFrom('campaigns').select('id').execute()).toEqual(before);

      const allowed = json(await inProcess(campaignCommand, 'create', ...flags, '--allow-external-links', '--starts-at', '2030-01-01T00:00:00Z', '--json'));
      expect(allowed).toMatchObject({ status: 'scheduled', eligible: 5, dryRun: false });
      const row = await env.db.selectFrom('campaigns').select(['template', 'allow_external_links']).where('id', '=', String(allowed.id)).executeTakeFirstOrThrow();
      expect(row).toEqual({ template: 'test-external-link', allow_external_links: true });
      await inProcess(campaignCommand, 'cancel', String(allowed.id));
    } finally {
      delete registry['test-external-link'];
    }
  });

  it('reconcile --json reports what it re-enqueued', async () => {
    // No worker ever ran on this queue prefix: the fixed schedules (sweeps, reconcile, the SES account jobs) are missing at first.
    const fixed = jobs.filter((job) => 'schedule' in job && job.schedule).length;
    expect(json(await inProcess(reconcileCommand, '--json'))).toEqual({ requeued: 0, released: 0, unknownOutcome: 0, unconfirmed: 0, resentUnconfirmed: 0, schedulesRestored: fixed });
    expect(json(await inProcess(reconcileCommand, '--json'))).toEqual({ requeued: 0, released: 0, unknownOutcome: 0, unconfirmed: 0, resentUnconfirmed: 0, schedulesRestored: 0 });
  });
});
