import { existsSync } from 'node:fs';
import { sql } from 'kysely';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../src/app/app.js';
import { countRowsByStatus } from '../../src/campaigns/ledger/ledger.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/connect.js';
import { createLogger } from '../../src/logger.js';
import type { LocalSes } from './local-ses.js';
import { runReverify, waitFor } from './processes.js';

/**
 * Campaign fixtures and the ledger-against-store check every sending scenario
 * ends with.
 */

/** Writes `count` people the segment unverified-role-holders takes: active, unverified primary, one role. */
export async function insertEligiblePeople(db: Db, count: number, tag = 'p'): Promise<void> {
  await sql`
    WITH u AS (
      INSERT INTO users (username, created_at)
      SELECT ${`chaos-${tag}-`} || g, now() FROM generate_series(1, ${count}::int) AS g
      RETURNING id, username
    ), e AS (
      INSERT INTO emails (user_id, email, is_primary, verified, created_at)
      SELECT id, username || '@chaos.example.org', true, false, now() FROM u
    )
    INSERT INTO roles (user_id, project_name, role_name) SELECT id, 'project-' || username, 'Owner' FROM u
  `.execute(db);
}

const CAMPAIGN_COMMAND = fileURLToPath(new URL('../../src/cli/commands/campaign.ts', import.meta.url));

/** Ticks every 2 s, so a scenario is not waiting on a minute cron; the budget never limits it. */
export const FAST_SCHEDULE = '*/2 * * * * *';
export const UNLIMITED_PER_DAY = 10_000_000;

/**
 * Creates a running-soon campaign over the segment: with `reverify campaign
 * create` when CAMPAIGNS has landed it, else with the domain function.
 * Returns the campaign id and how it was created.
 */
export async function createCampaign(env: Record<string, string>, name: string): Promise<{ id: string; via: string }> {
  const startsAt = new Date().toISOString();
  if (existsSync(CAMPAIGN_COMMAND)) {
    const result = await runReverify(
      ['campaign', 'create', '--name', name, '--template', 'reverify-email', '--segment', 'unverified-role-holders', '--per-day', String(UNLIMITED_PER_DAY), '--schedule', FAST_SCHEDULE, '--starts-at', startsAt, '--json'],
      env,
    );
    if (result.code === 0) {
      const created = JSON.parse(result.stdout) as { id: string | number };
      return { id: String(created.id), via: 'reverify campaign create' };
    }
    throw new Error(`reverify campaign create exited ${result.code}: ${result.stderr.slice(0, 500)}`);
  }
  const { createCampaign: create } = await import('../../src/campaigns/operations.js');
  const app = createApp(loadConfig(env), { log: createLogger({ level: 'warn', pretty: false }), dbPoolSize: 2 });
  try {
    const { campaign } = await create(
      app,
      { name, template: 'reverify-email', segment: 'unverified-role-holders', perDay: UNLIMITED_PER_DAY, schedule: FAST_SCHEDULE, startsAt: new Date(startsAt), allowExternalLinks: false },
      { dryRun: false },
    );
    if (!campaign) throw new Error('createCampaign returned no campaign');
    return { id: campaign.id, via: 'createCampaign() (no campaign CLI yet)' };
  } finally {
    await app.close();
  }
}

/** Runs `reverify reconcile` when it exists, else the domain function. */
export async function runReconcile(env: Record<string, string>): Promise<{ result: unknown; via: string }> {
  const command = fileURLToPath(new URL('../../src/cli/commands/reconcile.ts', import.meta.url));
  if (existsSync(command)) {
    const run = await runReverify(['reconcile', '--json'], env);
    if (run.code !== 0) throw new Error(`reverify reconcile exited ${run.code}: ${run.stderr.slice(0, 500)}`);
    return { result: JSON.parse(run.stdout) as unknown, via: 'reverify reconcile' };
  }
  const { reconcile } = await import('../../src/campaigns/reconcile.js');
  const app = createApp(loadConfig(env), { log: createLogger({ level: 'warn', pretty: false }), dbPoolSize: 2 });
  try {
    return { result: await reconcile(app), via: 'reconcile() (no reconcile CLI yet)' };
  } finally {
    await app.close();
  }
}


/**
 * Waits until every ledger row of the campaign is final and `expected` rows
 * exist. On timeout the error says where it stood: the rows by status and
 * the campaign's status and reason (a campaign paused by SES's answers or by
 * the reputation guard waits for an operator, not for time).
 */
export async function waitForLedgerFinal(db: Db, campaignId: string, expected: number, timeoutMs: number): Promise<Record<string, number>> {
  let last: Record<string, number> = {};
  try {
    return await waitFor(
      `campaign ${campaignId}: ${expected} final ledger rows`,
      async () => {
        last = await countRowsByStatus(db, campaignId);
        const total = Object.values(last).reduce((sum, n) => sum + n, 0);
        // unconfirmed: waiting for SES's events (SES_SEND_EVENTS), not final yet.
        const open = (last.pending ?? 0) + (last.queued ?? 0) + (last.sending ?? 0) + (last.unconfirmed ?? 0);
        return total >= expected && open === 0 ? last : undefined;
      },
      timeoutMs,
      1000,
    );
  } catch (error) {
    const campaign = await db.selectFrom('campaigns').select(['status', 'status_reason']).where('id', '=', campaignId).executeTakeFirst();
    const where = `rows ${JSON.stringify(last)}; campaign ${campaign ? `${campaign.status}${campaign.status_reason ? ` (${campaign.status_reason})` : ''}` : 'gone'}`;
    throw new Error(`${(error as Error).message}: ${where}`, { cause: error });
  }
}

export interface LedgerCheck {
  eligible: number;
  sentRows: number;
  /** Rows the ledger marks as caught in the accept-before-record window. */
  windowRows: number;
  /** …of which SES holds a message (the person was mailed once) and none (not mailed). */
  windowMailed: number;
  windowNotMailed: number;
  /** Eligible people with no message and no window mark: must be 0. */
  lost: number;
  /** People with more than one message outside the window: must be 0. */
  doubled: number;
  /** sent rows whose ses_message_id the store does not hold for that address. */
  sentWithoutMessage: number;
  /** Store messages whose MessageId another message already had (the local SES's random ids). */
  sharedMessageIds: number;
  otherStatuses: Record<string, number>;
  messages: number;
}

/** Compares the campaign's ledger with the local SES store, person by person. */
export async function checkLedgerAgainstStore(db: Db, campaignId: string, ses: LocalSes, eligible: number): Promise<LedgerCheck> {
  const rows = await db
    .selectFrom('campaign_recipients')
    .select(['email', 'status', 'reason', 'ses_message_id'])
    .where('campaign_id', '=', campaignId)
    .execute();
  const counts = ses.countsByAddress();
  const check: LedgerCheck = {
    eligible,
    sentRows: 0,
    windowRows: 0,
    windowMailed: 0,
    windowNotMailed: 0,
    lost: Math.max(0, eligible - rows.length),
    doubled: 0,
    sentWithoutMessage: 0,
    sharedMessageIds: 0,
    otherStatuses: {},
    messages: ses.emails().length,
  };
  // aws-ses-v2-local draws MessageIds at random from 900 million: among 10,000
  // messages two share one about once in 18 runs. Every address an id was
  // given to counts as holding it (the ledger's unique index lets only one
  // row record it: the other is a window row).
  const storeIds = new Map<string, string[]>();
  for (const email of ses.emails()) {
    const known = storeIds.get(email.messageId);
    if (known !== undefined) check.sharedMessageIds += 1;
    storeIds.set(email.messageId, [...(known ?? []), ...email.destination.to.map((to) => to.toLowerCase())]);
  }
  for (const row of rows) {
    const address = row.email.toLowerCase();
    const received = counts.get(address) ?? 0;
    const inWindow = row.reason === 'unknown_outcome_after_crash';
    if (row.status === 'sent' || row.status === 'delivered') {
      check.sentRows += 1;
      if (!row.ses_message_id || !storeIds.get(row.ses_message_id)?.includes(address)) check.sentWithoutMessage += 1;
    } else if (inWindow) {
      check.windowRows += 1;
      if (received > 0) check.windowMailed += 1;
      else check.windowNotMailed += 1;
    } else {
      check.otherStatuses[`${row.status}:${row.reason ?? ''}`] = (check.otherStatuses[`${row.status}:${row.reason ?? ''}`] ?? 0) + 1;
    }
    if (!inWindow && received === 0) check.lost += 1;
    if (!inWindow && received > 1) check.doubled += 1;
  }
  return check;
}

/** The check as notes for the table. */
export function describeCheck(check: LedgerCheck): string {
  const others = Object.entries(check.otherStatuses).map(([key, n]) => `${key}=${n}`).join(', ');
  return (
    `eligible ${check.eligible}, sent rows ${check.sentRows}, SES messages ${check.messages}, ` +
    `accept-before-record window rows ${check.windowRows} (mailed ${check.windowMailed}, not mailed ${check.windowNotMailed}), ` +
    `sent rows without their message ${check.sentWithoutMessage}${others ? `, other rows: ${others}` : ''}` +
    (check.sharedMessageIds > 0 ? `; the local SES gave ${check.sharedMessageIds} MessageId(s) to a second message (its ids are random)` : '')
  );
}

/** True when the check holds: nobody lost, nobody doubled, every sent row's message is in the store. */
export function checkHolds(check: LedgerCheck): boolean {
  return check.lost === 0 && check.doubled === 0 && check.sentWithoutMessage === 0 && Object.keys(check.otherStatuses).length === 0;
}
