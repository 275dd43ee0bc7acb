import { sql, type Kysely } from 'kysely';

// Planning writes a ledger row for every person of a campaign, and each
// foreign key of campaign_recipients checks its referenced row at every
// insert, locking it (at ten million users 30 µs a row for the user's key,
// a quarter of a batch: the users table no longer fits in the server's
// buffers). The user's key protects nothing the address key does not: a
// user's deletion removes their addresses (emails → users cascades) and with
// them their ledger rows (the address key, kept). The claim reads the person
// by an inner join, so a row whose person is gone is never sent. As for the
// verification tokens in 0008.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_user_id_fkey`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // What the key would have done meanwhile, so that it validates again.
  await sql`
    DELETE FROM campaign_recipients cr WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = cr.user_id);
    ALTER TABLE campaign_recipients
      ADD CONSTRAINT campaign_recipients_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
  `.execute(db);
}
