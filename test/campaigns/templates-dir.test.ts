import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { createCampaign, previewCampaign } from '../../src/campaigns/operations.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { findExternalLinks } from '../../src/mail/link-lint.js';
import { UnknownTemplateError } from '../../src/mail/render.js';
import { TemplateDirError } from '../../src/mail/template-dir.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import type { RunningWorkers } from '../../src/queue/worker.js';
import { useTestEnv } from '../helpers/env.js';
import { insertPeople, startLocalSes, waitFor } from './helpers.js';

/** Operators' templates from TEMPLATES_DIR: loaded and checked at start, created with, previewed, sent. */

const env = useTestEnv();
const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
const running: RunningWorkers[] = [];

afterEach(async () => {
  for (const workers of running.splice(0)) await workers.close(5_000);
  for (const close of closers.splice(0)) await close();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A TEMPLATES_DIR holding `files` (name → content). */
function templatesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'reverify-templates-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

const legalText = {
  'legal.subject.hbs': 'Action needed: confirm {{email}} on {{siteName}}',
  'legal.text.hbs': 'Dear {{username}},\n\nOur legal team asks you to confirm {{email}}:\n{{verifyUrl}}\n\nNot you? {{stopUrl}}\n',
  'legal.html.hbs': '<p>Dear {{username}},</p>\n<p>Our legal team asks you to confirm <b>{{email}}</b>:</p>\n<p><a href="{{verifyUrl}}">Confirm</a></p>\n<p><a href="{{stopUrl}}">Not you? Stop these messages</a></p>\n',
};

function loadWith(files: Record<string, string>) {
  return () => env.app({ overrides: { TEMPLATES_DIR: templatesDir(files) } });
}

describe('TEMPLATES_DIR', () => {
  it('a custom template is created with, previewed and sent through the local SES with the same variables and escaping', async () => {
    const local = await startLocalSes();
    closers.push(() => local.close());
    const app = env.app({ overrides: { TEMPLATES_DIR: templatesDir(legalText), SES_ENDPOINT: local.endpoint, SES_MAX_SEND_RATE: '200' } });
    closers.push(() => app.close());
    await app.db.updateTable('emails').set({ verified: true }).where('verified', '=', false).execute();
    await insertPeople(app.db, [{ username: 'ada<b>lovelace' }]);

    const input = { name: 'legal', template: 'legal', segment: 'unverified-role-holders', perDay: 10, schedule: '0 0 * * *', startsAt: app.clock(), allowExternalLinks: false };
    const { campaign } = await createCampaign(app, input, { dryRun: false });
    const preview = await previewCampaign(app, campaign!.id);
    expect(preview.message.subject).toBe('Action needed: confirm ada<b>lovelace@example.com on example.org');
    expect(preview.message.text).toContain('Dear ada<b>lovelace,');
    expect(preview.message.html).toContain('Dear ada&lt;b&gt;lovelace,');

    await runCampaignTick(app, campaign!.id);
    const workers = await startJobWorkers(app, jobs, { queues: [QUEUE_NAMES.send] });
    for (const worker of workers.workers) env.trackWorker(worker);
    running.push(workers);
    await waitFor('the message sent', async () => (await countRowsByStatus(env.db, campaign!.id)).sent === 1);
    const [email] = await local.emails();
    expect(email!.subject).toBe('Action needed: confirm ada<b>lovelace@example.com on example.org');
    expect(email!.body.text).toMatch(/^Dear ada<b>lovelace,\n\nOur legal team asks you to confirm ada<b>lovelace@example\.com:\nhttps:\/\/example\.org\/verify\/[A-Za-z0-9_-]{43}\n\nNot you\? https:\/\/example\.org\/stop\/[A-Za-z0-9_-]{43}\n$/);
    expect(email!.body.html).toContain('<p>Dear ada&lt;b&gt;lovelace,</p>');
    const stopLink = /href="(https:\/\/example\.org\/stop\/[^"]+)"/.exec(email!.body.html ?? '')?.[1];
    expect(email!.headers).toContainEqual({ name: 'List-Unsubscribe', value: `<${stopLink}>` });
    expect(findExternalLinks({ subject: email!.subject, text: email!.body.text ?? '', html: email!.body.html ?? '' }, 'https://example.org')).toEqual([]);
  });

  it('refuses at start a template with an external link, naming its file and line', () => {
    const files = { ...legalText, 'legal.html.hbs': '<p>Hello {{username}}</p>\n<p><a href="{{verifyUrl}}">Confirm</a></p>\n<p>Read <a href="https://blog.example.net/why">why</a></p>\n' };
    const start = loadWith(files);
    expect(start).toThrow(TemplateDirError);
    expect(start).toThrow(/legal\.html\.hbs:3: links outside PUBLIC_BASE_URL's verification and stop links: https:\/\/blog\.example\.net\/why/);
  });

  it('refuses at start a template with a syntax error or an unknown variable, naming each file and line, all at once', () => {
    const files = {
      ...legalText,
      'legal.text.hbs': 'Dear {{username}},\n\n{{#if email}}unclosed block\n',
      'legal.html.hbs': '<p>Dear {{username}}</p>\n<p>{{passwrod}}</p>\n',
    };
    let error: unknown;
    try {
      loadWith(files)();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TemplateDirError);
    const message = (error as Error).message;
    expect(message).toMatch(/legal\.text\.hbs:\d+: Parse error/);
    expect(message).toMatch(/legal\.html\.hbs:2: "passwrod" not defined/);
  });

  it('refuses a template missing one of its three files, and a file name it cannot place', () => {
    const { 'legal.html.hbs': _html, ...withoutHtml } = legalText;
    expect(loadWith(withoutHtml)).toThrow(/template "legal" is missing .*legal\.html\.hbs: a template is three files/);
    expect(loadWith({ ...legalText, 'legal.txt.hbs': 'x' })).toThrow(/legal\.txt\.hbs: not a template file name/);
  });

  it('campaign creation refuses an unknown template, listing the known ones', async () => {
    const app = env.app({ overrides: { TEMPLATES_DIR: templatesDir(legalText) } });
    closers.push(() => app.close());
    const input = { name: 'x', template: 'legl', segment: 'unverified-role-holders', perDay: 10, schedule: '0 0 * * *', startsAt: app.clock(), allowExternalLinks: false };
    await expect(createCampaign(app, input, { dryRun: true })).rejects.toThrow(UnknownTemplateError);
    await expect(createCampaign(app, input, { dryRun: true })).rejects.toThrow(/known templates are "legal", "reverify-email"/);
  });
});
