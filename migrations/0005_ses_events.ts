import { sql, type Kysely } from 'kysely';

// Per-address memory of the SES webhook: which address-changing events each
// SES message produced for each address, with SES's event time. The state
// machine reads an address's rows to tell an out-of-office reply (transient
// bounce after a delivery of the same message) and a repeat (the same event
// through both identity notifications and event publishing) from a new
// event, and to count transient bounces by event time rather than arrival.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ses_recipient_events (
      ses_message_id text NOT NULL,
      email text NOT NULL CHECK (email = lower(email)),
      kind text NOT NULL,
      email_event_id bigint NOT NULL REFERENCES email_events (id) ON DELETE CASCADE,
      outcome text NOT NULL,
      occurred_at timestamptz NULL,
      CONSTRAINT ses_recipient_events_pkey PRIMARY KEY (email, ses_message_id, kind)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE ses_recipient_events`.execute(db);
}
