import { sql, type Kysely } from 'kysely';

// Verification tokens point at ledger rows (ON DELETE SET NULL). Without an
// index, deleting a campaign would scan every token once per ledger row.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX verification_tokens_campaign_recipient_idx ON verification_tokens (campaign_recipient_id)
      WHERE campaign_recipient_id IS NOT NULL
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX verification_tokens_campaign_recipient_idx`.execute(db);
}
