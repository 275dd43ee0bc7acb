import { sql, type Kysely } from 'kysely';

// What earlier SES events did to one address (ses_recipient_events), as a
// JSON array, read with a snapshot of its own. The webhook locks an
// address and reads its history in one statement: a VOLATILE function takes
// a fresh snapshot for each query it runs (READ COMMITTED), so when the lock
// had to wait for a concurrent event of the same address, the history read
// after it sees what that event committed — a plain sub-select would see the
// statement's older snapshot and miss it. plpgsql, so its plan is cached per
// session.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION reverify_ses_history(address text) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'sesMessageId', h.ses_message_id, 'kind', h.kind, 'outcome', h.outcome, 'occurredAt', h.occurred_at)), '[]'::jsonb)
        FROM ses_recipient_events h
        WHERE h.email = address
      );
    END
    $$
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION reverify_ses_history(text)`.execute(db);
}
