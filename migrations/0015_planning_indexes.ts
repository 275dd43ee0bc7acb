import { sql, type Kysely } from 'kysely';

// Planning walks the segment in keyset batches (src/campaigns/planner.ts);
// at a million users two probes made a batch cost about three times the
// raw INSERT … SELECT of the same rows, and at ten million a third (issue 27):
// - emails_unverified_primary_idx now carries the address id and text, so
//   the walk reads the index alone instead of one heap page per candidate.
// - users_mailable_idx answers "is this person active and not temporary" from
//   the index alone: at ten million users the users table no longer fits in
//   the server's buffers, and reading a heap page per candidate made a batch
//   three times slower than at one million.
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
    CREATE INDEX users_mailable_idx ON users (id) WHERE is_active AND NOT is_temporary;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX users_mailable_idx;
    DROP INDEX suppressions_complaint_idx;
    DROP INDEX emails_complaint_user_idx;
    DROP INDEX emails_unverified_primary_idx;
    CREATE INDEX emails_unverified_primary_idx ON emails (user_id) WHERE is_primary AND NOT verified AND unverify_reason IS NULL;
  `.execute(db);
}
