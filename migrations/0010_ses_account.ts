import { sql, type Kysely } from 'kysely';

// What reverify knows of the SES account it sends through (issue 21):
// - ses_account: one row, the latest GetAccount answer (send quota and
//   enforcement status) and how the last call went. Every worker process reads
//   the account's send rate and 24-hour quota from it, and `campaign resume`
//   refuses while it says PROBATION or SHUTDOWN. `called_at` spaces calls
//   across processes (SES allows one GetAccount a second).
// - campaign_recipients.bounce_type: the bounce's "Type/SubType" as SES gave
//   it, so the reputation guard counts only the bounces SES counts (not
//   OnAccountSuppressionList or Suppressed, not transient ones). Rows bounced
//   before this migration take the type from their stored SES event.
// - suppressions.ses_reason / ses_listed_at: an address imported from SES's
//   account-level suppression list, with the reason (BOUNCE, COMPLAINT) and
//   time SES gives; `reason` keeps reverify's own vocabulary.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ses_account (
      id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      called_at timestamptz NOT NULL,
      checked_at timestamptz NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('ok', 'access_denied', 'unsupported', 'invalid', 'error')),
      problem text NULL,
      figures_at timestamptz NULL,
      max_send_rate double precision NULL,
      max_24_hour_send double precision NULL,
      sent_last_24_hours double precision NULL,
      enforcement_status text NULL,
      sending_enabled boolean NULL
    );

    ALTER TABLE campaign_recipients ADD COLUMN bounce_type text NULL;
    UPDATE campaign_recipients cr SET bounce_type = ev.sub_type
      FROM (
        SELECT DISTINCT ON (campaign_recipient_id) campaign_recipient_id, sub_type
        FROM email_events
        WHERE event_type = 'Bounce' AND campaign_recipient_id IS NOT NULL AND sub_type IS NOT NULL
        ORDER BY campaign_recipient_id, (sub_type LIKE 'Permanent/%') DESC, id
      ) ev
      WHERE ev.campaign_recipient_id = cr.id AND cr.bounced_at IS NOT NULL;

    ALTER TABLE suppressions
      ADD COLUMN ses_reason text NULL CHECK (ses_reason IN ('BOUNCE', 'COMPLAINT')),
      ADD COLUMN ses_listed_at timestamptz NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE suppressions DROP COLUMN ses_reason, DROP COLUMN ses_listed_at;
    ALTER TABLE campaign_recipients DROP COLUMN bounce_type;
    DROP TABLE ses_account;
  `.execute(db);
}
