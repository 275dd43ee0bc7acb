import type { Db } from '../../src/db/connect.js';
import type { RecipientStatus } from '../../src/db/database.js';

/** How many ledger rows of each outcome the fixture campaign holds. */
export const FIXTURE_OUTCOMES: ReadonlyArray<{ status: RecipientStatus; n: number; verified?: number }> = [
  { status: 'pending', n: 5 },
  { status: 'queued', n: 3 },
  { status: 'sent', n: 4 },
  { status: 'delivered', n: 9, verified: 4 },
  { status: 'bounced', n: 2 },
  { status: 'complained', n: 1 },
  { status: 'failed', n: 1 },
  { status: 'skipped', n: 2 },
];

/**
 * Writes a campaign and its ledger straight into the database, with the
 * timestamp columns the funnel is counted from, so the admin pages have
 * something real to show without running a campaign.
 */
export async function insertFixtureCampaign(
  db: Db,
  options: { name: string; status?: 'running' | 'paused'; reason?: string | null; tag: string; now?: Date },
): Promise<string> {
  const now = options.now ?? new Date();
  const total = FIXTURE_OUTCOMES.reduce((sum, o) => sum + o.n, 0);
  const campaign = await db
    .insertInto('campaigns')
    .values({
      name: options.name,
      template: 'reverify-email',
      segment: 'unverified-role-holders',
      per_day: 200,
      schedule: '0 * * * *',
      starts_at: now,
      status: options.status ?? 'running',
      status_reason: options.reason ?? null,
      eligible_at_create: total,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  let i = 0;
  for (const outcome of FIXTURE_OUTCOMES) {
    for (let k = 0; k < outcome.n; k++, i++) {
      const user = await db.insertInto('users').values({ username: `${options.tag}-${i}`, created_at: now }).returning('id').executeTakeFirstOrThrow();
      const email = `${options.tag}-${i}@example.org`;
      const row = await db
        .insertInto('emails')
        .values({ user_id: user.id, email, is_primary: true, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      const mailed = ['sent', 'delivered', 'bounced', 'complained'].includes(outcome.status);
      await db
        .insertInto('campaign_recipients')
        .values({
          campaign_id: campaign.id,
          user_id: user.id,
          email_id: row.id,
          email,
          status: outcome.status,
          reason: outcome.status === 'skipped' ? 'verified_meanwhile' : outcome.status === 'failed' ? 'ses_rejected' : null,
          queued_at: outcome.status === 'pending' ? null : now,
          sent_at: mailed ? now : null,
          delivered_at: outcome.status === 'delivered' ? now : null,
          bounced_at: outcome.status === 'bounced' ? now : null,
          complained_at: outcome.status === 'complained' ? now : null,
          verified_at: outcome.verified !== undefined && k < outcome.verified ? now : null,
          created_at: now,
          updated_at: now,
        })
        .execute();
    }
  }
  return campaign.id;
}
