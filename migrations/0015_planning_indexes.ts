import { sql, type Kysely } from 'kysely';

// Planning walks the segment in keyset batches (src/campaigns/planner.ts);
// at a million users two probes made a batch cost about three times the
// raw INSERT … SELECT of the same rows (issue 27):
// - emails_unverified_primary_idx now carries the address id and text, so
//   the walk reads the index alone instead of one heap page per candidate.
// - "did any address of this person complain or ask to stop" is answered
//   from the few such rows, found by two small partial indexes, as one set
//   per statement (complainedUsersSql) instead of reading every address of
//   every candidate.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX emails_unverified_primary_idx;
    CREATE INDEX emails_unverified_primary_idx ON emails (user_id) INCLUDE (id, email)
      WHERE is_primary AND NOT verified AND unverify_reason IS NULL;
    CREATE INDEX emails_complaint_user_idx ON emails (user_id) WHERE unverify_reason = 'complaint';
    CREATE INDEX suppressions_complaint_idx ON suppressions (email) WHERE reason IN ('complaint', 'recipient_request');
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX suppressions_complaint_idx;
    DROP INDEX emails_complaint_user_idx;
    DROP INDEX emails_unverified_primary_idx;
    CREATE INDEX emails_unverified_primary_idx ON emails (user_id) WHERE is_primary AND NOT verified AND unverify_reason IS NULL;
  `.execute(db);
}
