import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';

/** A role-holder with an unverified primary address, as the campaign segment finds them. */
export async function createRoleHolder(db: Db, name: string, extra: { email?: string } = {}) {
  const user = await db.insertInto('users').values({ username: name }).returning('id').executeTakeFirstOrThrow();
  const email = await db
    .insertInto('emails')
    .values({ user_id: user.id, email: extra.email ?? `${name}@mail.example.com`, is_primary: true })
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow();
  await db.insertInto('roles').values({ user_id: user.id, project_name: `${name}-project`, role_name: 'Owner' }).execute();
  return { userId: user.id, emailId: email.id, email: email.email };
}

/** A campaign and a ledger row for `person`, as the sender leaves it after SendEmail. */
export async function createLedgerRow(
  db: Db,
  person: { userId: string; emailId: string; email: string },
  options: { sentAt?: Date | null; name?: string } = {},
) {
  const campaign = await db
    .insertInto('campaigns')
    .values({
      name: options.name ?? `campaign for ${person.email}`,
      template: 'reverify-email',
      segment: 'unverified-role-holders',
      per_day: 200,
      schedule: '0 * * * *',
      starts_at: new Date('2026-01-01T00:00:00Z'),
      status: 'running',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const sentAt = options.sentAt === undefined ? new Date('2026-01-02T00:00:00Z') : options.sentAt;
  const row = await db
    .insertInto('campaign_recipients')
    .values({
      campaign_id: campaign.id,
      user_id: person.userId,
      email_id: person.emailId,
      email: person.email,
      status: sentAt ? 'sent' : 'queued',
      sent_at: sentAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { campaignId: campaign.id, recipientId: row.id };
}

/** Every row of the tables a verification may touch, as text: equal snapshots mean nothing changed. */
export async function snapshot(db: Db): Promise<Record<string, string[]>> {
  const tables = ['users', 'emails', 'verification_tokens', 'campaign_recipients', 'suppressions', 'audit_log'] as const;
  const result: Record<string, string[]> = {};
  for (const table of tables) {
    const rows = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM ${sql.table(table)} t ORDER BY id`.execute(db);
    result[table] = rows.rows.map((r) => r.row);
  }
  return result;
}
