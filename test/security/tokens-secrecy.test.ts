import { Writable } from 'node:stream';
import type { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../jobs/registry.js';
import { createApp } from '../../src/app/app.js';
import { createCampaign } from '../../src/campaigns/operations.js';
import { runCampaignTick } from '../../src/campaigns/tick.js';
import { buildServer } from '../../src/http/server.js';
import { verifyRoutes } from '../../src/http/routes/verify.js';
import { useSesClient } from '../../src/mail/ses-client.js';
import { startJobWorkers } from '../../src/app/processing.js';
import { hashToken } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';

/**
 * Verification tokens are secrets until used: a campaign is sent by a real
 * worker (SES replaced by a recorder) and its links are opened and confirmed
 * through the HTTP routes, with every log line at trace level captured. No
 * token may appear in any log line or in any column of any table; the table
 * holds only their sha256.
 */

const env = useTestEnv();
const logged: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});
const config = env.config({ LOG_LEVEL: 'trace', SES_MAX_SEND_RATE: '1000' });
const app = createApp(config, { log: pino({ level: 'trace' }, sink) });
let appClosed = false;
track('security test App', () => !appClosed);
const sentTexts: string[] = [];
const tokens: string[] = [];
const PEOPLE = 4;

beforeAll(async () => {
  await sql`
    WITH u AS (
      INSERT INTO users (username, created_at) SELECT 'secret-' || g, now() FROM generate_series(1, ${PEOPLE}::int) g RETURNING id, username
    ), e AS (
      INSERT INTO emails (user_id, email, is_primary, verified, created_at) SELECT id, username || '@example.org', true, false, now() FROM u
    )
    INSERT INTO roles (user_id, project_name, role_name) SELECT id, 'proj-' || username, 'Owner' FROM u`.execute(env.db);

  useSesClient(app, {
    async send(command: SendEmailCommand) {
      sentTexts.push(`${command.input.Content?.Simple?.Body?.Text?.Data ?? ''}\n${command.input.Content?.Simple?.Body?.Html?.Data ?? ''}`);
      return { MessageId: `0100-test-${sentTexts.length}` };
    },
  });
  const { campaign } = await createCampaign(
    app,
    { name: 'secrecy', template: 'reverify-email', segment: 'unverified-role-holders', perDay: 100, schedule: '0 0 1 1 *', startsAt: new Date(), allowExternalLinks: false },
    { dryRun: false },
  );
  const workers = await startJobWorkers(app, jobs, { queues: ['send'] });
  try {
    await runCampaignTick(app, campaign!.id);
    const deadline = Date.now() + 15_000;
    while (sentTexts.length < PEOPLE && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    await workers.close(5_000);
  }
  for (const text of sentTexts) {
    const match = /\/verify\/([A-Za-z0-9_-]{20,})/.exec(text);
    if (match?.[1]) tokens.push(match[1]);
  }
  const server = await buildServer(app, { routes: [verifyRoutes] });
  try {
    for (const token of tokens) {
      await server.inject({ method: 'GET', url: `/verify/${token}` });
      await server.inject({ method: 'POST', url: `/verify/${token}`, payload: 'confirm=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      await server.inject({ method: 'POST', url: `/verify/${token}` });
      await server.inject({ method: 'GET', url: `/verify/${token}x` });
    }
  } finally {
    await server.close();
  }
}, 40_000);

afterAll(async () => {
  await app.close();
  appClosed = true;
});

describe('verification tokens', () => {
  it('were sent, one per person, and the links worked (so the checks below look at real tokens)', async () => {
    expect(tokens).toHaveLength(PEOPLE);
    const verified = await env.db.selectFrom('emails').select('email').where('verified', '=', true).execute();
    expect(verified).toHaveLength(PEOPLE);
    // The log lines searched below were captured: the send job's and the verify route's.
    expect(logged.some((line) => line.includes('"queue":"send"'))).toBe(true);
    expect(logged.filter((line) => line.includes('email address verified'))).toHaveLength(PEOPLE);
  });

  it('are stored only as their sha256', async () => {
    const rows = await env.db.selectFrom('verification_tokens').select(['token_hash', 'used_at']).execute();
    expect(rows.map((row) => row.token_hash).sort()).toEqual(tokens.map(hashToken).sort());
    expect(rows.every((row) => row.used_at !== null)).toBe(true);
  });

  it('appear in no column of any table', async () => {
    const { rows: tables } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(env.db);
    expect(tables.length).toBeGreaterThan(8);
    for (const { tablename } of tables) {
      const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(tablename)} t`.execute(env.db);
      for (const { row } of rows) for (const token of tokens) expect(row, tablename).not.toContain(token);
    }
  });

  it('appear in no log line, at trace level, of sending, opening and confirming', () => {
    const all = logged.join('');
    expect(all).toContain('email address verified');
    for (const token of tokens) {
      expect(all).not.toContain(token);
      expect(all).not.toContain(encodeURIComponent(token));
    }
  });
});
