import { sql } from 'kysely';
import type { App } from '../app/app.js';
import { createCampaign } from '../campaigns/operations.js';
import type { Db } from '../db/connect.js';
import { PROFILES } from '../seed/profiles.js';
import { seedDatabase } from '../seed/seed.js';
import { SIMULATOR_ADDRESSES } from './ses-simulator.js';

/** The demo's campaign name; `reverify dev` creates it once. */
export const DEMO_CAMPAIGN_NAME = 'Demo: re-verify role holders';
/** Every five seconds, so the funnel visibly moves during a demo. */
export const DEMO_SCHEDULE = '*/5 * * * * *';

export interface DemoData {
  seeded: boolean;
  users: number;
}

/**
 * Seeds the demo population once (pypi-2018 ratios) and adds one unverified
 * role holder per SES mailbox-simulator address, so the campaign mails them
 * and the simulator's bounce and complaint come back through the webhook.
 */
export async function ensureDemoData(db: Db, options: { users: number; now: Date }): Promise<DemoData> {
  const existing = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  let seeded = false;
  if (Number(existing.n) === 0) {
    const profile = PROFILES['pypi-2018'];
    if (!profile) throw new Error('the pypi-2018 seed profile is missing');
    await seedDatabase(db, {
      users: options.users,
      temporaryAccounts: Math.max(1, Math.round(options.users / 50)),
      profile,
      seed: 2018,
      now: options.now,
    });
    seeded = true;
  }
  for (const address of SIMULATOR_ADDRESSES) {
    const local = address.split('@')[0] ?? address;
    const username = `simulator-${local}`;
    await db.transaction().execute(async (trx) => {
      const user = await trx
        .insertInto('users')
        .values({ username, created_at: options.now })
        .onConflict((oc) => oc.column('username').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!user) return;
      await trx.insertInto('emails').values({ user_id: user.id, email: address, is_primary: true, verified: false, created_at: options.now }).execute();
      await trx.insertInto('roles').values({ user_id: user.id, project_name: `demo-${local}`, role_name: 'Maintainer' }).execute();
    });
  }
  const total = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return { seeded, users: Number(total.n) };
}

/**
 * Creates the demo campaign on the first run and reuses it on every later
 * one, whatever its status: a successor would mail the same people again on
 * each restart. An unfinished one carries on where the last run stopped.
 */
export async function ensureDemoCampaign(app: App, options: { perDay: number }): Promise<{ id: string; created: boolean; status: string }> {
  const existing = await app.db
    .selectFrom('campaigns')
    .select(['id', 'status'])
    .where('name', '=', DEMO_CAMPAIGN_NAME)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (existing) return { id: existing.id, created: false, status: existing.status };
  const { campaign } = await createCampaign(
    app,
    {
      name: DEMO_CAMPAIGN_NAME,
      template: 'reverify-email',
      segment: 'unverified-role-holders',
      perDay: options.perDay,
      schedule: DEMO_SCHEDULE,
      startsAt: app.clock(),
      allowExternalLinks: false,
    },
    { dryRun: false },
  );
  if (!campaign) throw new Error('the demo campaign was not created');
  return { id: campaign.id, created: true, status: campaign.status };
}

/** The unverified addresses with their reasons, for the banner and the tests. */
export async function simulatorAddressStates(db: Db): Promise<Array<{ email: string; verified: boolean; reason: string | null }>> {
  const rows = await db
    .selectFrom('emails')
    .select(['email', 'verified', 'unverify_reason'])
    .where(sql<boolean>`lower(email) LIKE ${'%@simulator.amazonses.com'}`)
    .orderBy('email')
    .execute();
  return rows.map((row) => ({ email: row.email, verified: row.verified, reason: row.unverify_reason }));
}
