import { sql, type RawBuilder } from 'kysely';

/**
 * The ledger moves of ledger-events.ts for a group of SES events in one
 * statement (src/ses-events/group-write.ts): the same rules, read from the
 * columns of the group's `written` relation (one row per stored event,
 * aliased `w`) instead of from one event's parameters, so that one statement
 * text serves every group. The rules are those of ledger-events.ts, which the
 * per-event ingest runs; keep the two in step (the webhook tests compare
 * them).
 *
 * `w` columns read here: row_id (the event's ledger row, found by
 * ledgerRowMatch's rule: the recipient_id tag, else the SES message id),
 * tag_recipient_id, ses_message_id, attempt, effect, sub_type, ledger_at
 * (the event's time, or now), ledger_sent_at (SES's send time, or ledger_at)
 * and failed_reason. Each ledger row appears at most once in `w` (the
 * statement defers the others to a statement of their own).
 */

/** Ledger status rank (as in ledger-events.ts): an event only moves a row forward. */
const STATUS_RANK = sql`(CASE cr.status WHEN 'delivered' THEN 1 WHEN 'bounced' THEN 2 WHEN 'complained' THEN 3 ELSE 0 END)`;

/** The row waits for SES's word: unconfirmed, or queued again after its wait and not claimed since. */
const AWAITING_WORD = sql`(cr.status = 'unconfirmed' OR (cr.status = 'queued' AND cr.resent_after_attempt IS NOT NULL))`;

/** Statuses a Reject moves to failed. */
const REJECTABLE = sql`cr.status IN ('queued', 'sending', 'unconfirmed', 'sent')`;

/** The row still stands for the event's message as the statement sees it (ledgerRowMatch, checked again on the locked row). */
const STILL_MATCHES = sql`cr.id = w.row_id AND (w.tag_recipient_id IS NOT NULL OR cr.ses_message_id = w.ses_message_id)`;

/** The event is about another message than the one row `cr` stands for (ledger-events.ts's secondMessage). */
const SECOND_MESSAGE = sql`COALESCE(w.ses_message_id IS NOT NULL AND (cr.ses_message_id <> w.ses_message_id
    OR (w.attempt IS NOT NULL AND cr.status = 'sending' AND cr.resent_after_attempt IS NOT NULL AND w.attempt <= cr.resent_after_attempt)), false)`;

/** The ledger update of every event of the group that moves its row (ledgerUpdateFromEvent). */
export function groupLedgerUpdate(): RawBuilder<unknown> {
  // Every effect but `failed` also records the send (ledger-events.ts's sentAtSet).
  const records = sql`w.effect <> 'failed'`;
  return sql`UPDATE campaign_recipients cr SET
      delivered_at = CASE WHEN w.effect = 'delivered' THEN COALESCE(cr.delivered_at, w.ledger_at) ELSE cr.delivered_at END,
      bounced_at = CASE WHEN w.effect = 'bounced' THEN COALESCE(cr.bounced_at, w.ledger_at) ELSE cr.bounced_at END,
      complained_at = CASE WHEN w.effect = 'complained' THEN COALESCE(cr.complained_at, w.ledger_at) ELSE cr.complained_at END,
      bounce_type = CASE w.effect
        WHEN 'bounced' THEN CASE WHEN cr.bounce_type LIKE 'Permanent/%' THEN cr.bounce_type ELSE w.sub_type END
        WHEN 'transient_bounce' THEN COALESCE(cr.bounce_type, w.sub_type)
        ELSE cr.bounce_type END,
      status = CASE w.effect
        WHEN 'delivered' THEN CASE WHEN ${STATUS_RANK} < 1 THEN 'delivered' ELSE cr.status END
        WHEN 'bounced' THEN CASE WHEN ${STATUS_RANK} < 2 THEN 'bounced' ELSE cr.status END
        WHEN 'complained' THEN 'complained'
        WHEN 'failed' THEN CASE WHEN ${REJECTABLE} THEN 'failed' ELSE cr.status END
        WHEN 'sent' THEN CASE WHEN ${AWAITING_WORD} THEN 'sent' ELSE cr.status END
        ELSE cr.status END,
      reason = CASE
        WHEN w.effect = 'failed' THEN CASE WHEN ${REJECTABLE} THEN w.failed_reason ELSE cr.reason END
        WHEN ${AWAITING_WORD} THEN NULL
        ELSE cr.reason END,
      sent_at = CASE WHEN ${records} THEN COALESCE(cr.sent_at, w.ledger_sent_at) ELSE cr.sent_at END,
      ses_message_id = CASE WHEN ${records} AND w.ses_message_id IS NOT NULL
        THEN COALESCE(cr.ses_message_id, CASE WHEN NOT EXISTS (SELECT 1 FROM campaign_recipients other WHERE other.ses_message_id = w.ses_message_id) THEN w.ses_message_id END)
        ELSE cr.ses_message_id END,
      updated_at = now()
    FROM written w
    WHERE ${STILL_MATCHES} AND w.effect IS NOT NULL AND NOT ${SECOND_MESSAGE}
    RETURNING cr.id`;
}

/** The update recording a second message of a row (ledgerSecondMessageFromEvent). */
export function groupLedgerSecondMessage(): RawBuilder<unknown> {
  return sql`UPDATE campaign_recipients cr SET late_ses_message_id = COALESCE(cr.late_ses_message_id, w.ses_message_id), updated_at = now()
    FROM written w
    WHERE ${STILL_MATCHES} AND w.ses_message_id IS NOT NULL AND ${SECOND_MESSAGE}
    RETURNING cr.id`;
}

/**
 * The lateral lookup of an event's ledger row (`p`: the event's parameters):
 * by the recipient_id tag (checked against the campaign_id tag when given),
 * else by the SES message id, as ledgerRowMatch finds it.
 */
export function groupLedgerRow(): RawBuilder<unknown> {
  return sql`SELECT cr.id, cr.campaign_id FROM campaign_recipients cr
      WHERE cr.id = p.tag_recipient_id AND (p.tag_campaign_id IS NULL OR cr.campaign_id = p.tag_campaign_id)
      UNION ALL
      SELECT cr.id, cr.campaign_id FROM campaign_recipients cr WHERE p.tag_recipient_id IS NULL AND cr.ses_message_id = p.ses_message_id
      LIMIT 1`;
}
