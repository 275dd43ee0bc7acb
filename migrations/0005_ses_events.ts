import { sql, type Kysely } from 'kysely';

// Per-message memory of the SES webhook: which address-changing events each
// SES message already produced for each address. The state machine reads it
// to tell an out-of-office reply (transient bounce after a delivery of the
// same message) and a repeat (the same event through both identity
// notifications and event publishing) from a new event.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ses_recipient_events (
      ses_message_id text NOT NULL,
      email text NOT NULL CHECK (email = lower(email)),
      kind text NOT NULL,
      email_event_id bigint NOT NULL REFERENCES email_events (id) ON DELETE CASCADE,
      outcome text NOT NULL,
      occurred_at timestamptz NULL,
      CONSTRAINT ses_recipient_events_pkey PRIMARY KEY (ses_message_id, email, kind)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE ses_recipient_events`.execute(db);
}
