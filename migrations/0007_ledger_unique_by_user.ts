import { sql, type Kysely } from 'kysely';

// The ledger's "one row per (campaign, user)" key, led by the user: it then
// also answers "this person's rows" (the segment's not-yet-mailed probe),
// which needed an index of its own, campaign_recipients_user_idx. Every
// status change of a ledger row writes a new entry into each of its
// indexes, twice per message sent (claimed, then recorded), so one index
// fewer is measurable: 11 µs of PostgreSQL CPU a message in the claim
// (bench/RESULTS.md). Queries by campaign use campaign_status_idx, whose
// first column is the campaign. ON CONFLICT (campaign_id, user_id) finds the
// new key as it did the old one: PostgreSQL matches the columns as a set.
// The new key's index is built under the table's lock (migrations run in a
// transaction, so not CONCURRENTLY): on a ledger of millions of rows, run
// `reverify migrate` while no campaign sends.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE campaign_recipients
      ADD CONSTRAINT campaign_recipients_user_campaign_key UNIQUE (user_id, campaign_id),
      DROP CONSTRAINT campaign_recipients_campaign_user_key;
    DROP INDEX campaign_recipients_user_idx;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX campaign_recipients_user_idx ON campaign_recipients (user_id);
    ALTER TABLE campaign_recipients
      ADD CONSTRAINT campaign_recipients_campaign_user_key UNIQUE (campaign_id, user_id),
      DROP CONSTRAINT campaign_recipients_user_campaign_key;
  `.execute(db);
}
