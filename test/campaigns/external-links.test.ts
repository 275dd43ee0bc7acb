import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app/app.js';
import { ExternalLinksError } from '../../src/campaigns/message.js';
import { cancelCampaign, createCampaign } from '../../src/campaigns/operations.js';
import { templates, type TemplateSource } from '../../src/mail/templates/index.js';
import { useTestEnv } from '../helpers/env.js';
import { eligiblePeople, insertPeople } from './helpers.js';

const env = useTestEnv();
let app: App;
// Every shipped template links only to the site, so the test adds one that
// does not (the registry is a plain object; removed again below).
const registry = templates as Record<string, TemplateSource>;

beforeAll(async () => {
  app = env.app();
  await insertPeople(env.db, eligiblePeople('links', 3));
  registry['test-domain-external-link'] = {
    subject: 'Hello {{username}}',
    text: 'Confirm: {{verifyUrl}}\nOur status page: https://status.example.net/now\n',
    html: '<p><a href="{{verifyUrl}}">Confirm</a> or see <a href="https://tracker.example.net/c?u={{username}}">our tracker</a>.</p>',
  };
});
afterAll(async () => {
  delete registry['test-domain-external-link'];
  await app.close();
});

const input = {
  name: 'external links',
  template: 'test-domain-external-link',
  segment: 'unverified-role-holders',
  perDay: 2,
  schedule: '0 * * * *',
  startsAt: new Date('2030-01-01T00:00:00Z'),
};

describe('createCampaign and links outside the site', () => {
  it('refuses a template that links outside PUBLIC_BASE_URL, dry run or not, and creates nothing', async () => {
    for (const dryRun of [true, false]) {
      const refusal = createCampaign(app, { ...input, allowExternalLinks: false }, { dryRun });
      await expect(refusal).rejects.toThrow(ExternalLinksError);
      const error = (await refusal.catch((e: unknown) => e)) as ExternalLinksError;
      expect(error.template).toBe('test-domain-external-link');
      expect([...error.links].sort()).toEqual(['https://status.example.net/now', 'https://tracker.example.net/c?u=example-user']);
      expect(error.message).toContain(`template "test-domain-external-link" links outside PUBLIC_BASE_URL (${app.config.PUBLIC_BASE_URL})`);
    }
    expect(await env.db.selectFrom('campaigns').select('id').execute()).toEqual([]);
  });

  it('creates it when the campaign allows external links', async () => {
    const { campaign, eligible } = await createCampaign(app, { ...input, allowExternalLinks: true }, { dryRun: false });
    expect(campaign).toMatchObject({ status: 'scheduled', template: 'test-domain-external-link', allow_external_links: true });
    expect(eligible).toBe(3);
    await cancelCampaign(app, campaign!.id);
  });
});
