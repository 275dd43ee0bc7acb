import { sql, type Kysely } from 'kysely';

// Issue 20: nobody left unmailed by a crash, nobody mailed twice across campaigns.
//
// - `unconfirmed`: a ledger row whose send outcome is unknown after a crash
//   (claimed, then its process died around SendEmail) waits for SES's events
//   when SES_SEND_EVENTS=true. unconfirmed_at says when it started waiting;
//   resent_after_attempt is the claim number (attempts) whose outcome was
//   given up on when the row went back to queued; late_ses_message_id is that
//   attempt's message, when an SES event shows after the resend that SES
//   took it after all (the person was then mailed twice: the ledger shows both).
// - campaigns.cooldown_days: CAMPAIGN_COOLDOWN_DAYS as it was when the
//   campaign was created, NULL when created with --ignore-cooldown.
// - campaign_recipients_mailed_idx: "who was mailed lately" by person, for the
//   cooldown check of the segment walk and of every claim. Partial: only rows
//   SES took (sent_at) or may have taken (sending, unconfirmed), so a person's
//   probe reads an index entry or two and never the table.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE campaign_recipients
      DROP CONSTRAINT campaign_recipients_status_check,
      ADD CONSTRAINT campaign_recipients_status_check
        CHECK (status IN ('pending', 'queued', 'sending', 'unconfirmed', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'skipped')),
      ADD COLUMN unconfirmed_at timestamptz NULL,
      ADD COLUMN resent_after_attempt integer NULL,
      ADD COLUMN late_ses_message_id text NULL;
    ALTER TABLE campaigns ADD COLUMN cooldown_days integer NULL CHECK (cooldown_days >= 0);
    CREATE INDEX campaign_recipients_mailed_idx ON campaign_recipients (user_id, (COALESCE(sent_at, sending_at)), campaign_id)
      WHERE sent_at IS NOT NULL OR status IN ('sending', 'unconfirmed');
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX campaign_recipients_mailed_idx;
    ALTER TABLE campaigns DROP COLUMN cooldown_days;
    UPDATE campaign_recipients SET status = 'failed', reason = 'unknown_outcome_after_crash' WHERE status = 'unconfirmed';
    ALTER TABLE campaign_recipients
      DROP CONSTRAINT campaign_recipients_status_check,
      ADD CONSTRAINT campaign_recipients_status_check
        CHECK (status IN ('pending', 'queued', 'sending', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'skipped')),
      DROP COLUMN unconfirmed_at,
      DROP COLUMN resent_after_attempt,
      DROP COLUMN late_ses_message_id;
  `.execute(db);
}
