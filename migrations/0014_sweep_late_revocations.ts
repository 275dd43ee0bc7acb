import { sql, type Kysely } from 'kysely';

// The expiry sweep also revokes sessions and API tokens opened for a
// temporary account after it expired (issue 25): counted apart from the
// revocations at expiry, in two columns of the run's row. The partial index
// lets that pass start from the expired temporary accounts (few, next to all
// users) rather than from every open session.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE sweep_runs
      ADD COLUMN sessions_revoked_after_expiry integer NOT NULL DEFAULT 0,
      ADD COLUMN tokens_revoked_after_expiry integer NOT NULL DEFAULT 0;
    CREATE INDEX users_temporary_expired_idx ON users (id) WHERE is_temporary AND expired_at IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX users_temporary_expired_idx;
    ALTER TABLE sweep_runs DROP COLUMN sessions_revoked_after_expiry, DROP COLUMN tokens_revoked_after_expiry;
  `.execute(db);
}
