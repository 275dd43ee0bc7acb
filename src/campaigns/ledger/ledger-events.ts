import { sql, type RawBuilder } from 'kysely';

/**
 * The ledger moves an SES event makes (delivered, bounced, complained, SES
 * rejected, sent), beside the sender's own in ledger.ts. They are parts of the
 * SES ingest statement (src/ses-events/ingest.ts) rather than statements of
 * their own, so the event row, the address changes and the ledger commit
 * together, and a duplicate event (no `ev` row) moves nothing.
 *
 * A row whose outcome a crash left unknown (`unconfirmed`), or that was put
 * back to queued after waiting in vain (resent_after_attempt set) and not
 * claimed since, is settled by any event for it: SES took that message, so
 * the row is sent (or further) with the event's MessageId, and is not resent.
 * An event about a second message of the row (another MessageId than the
 * recorded one, or the attempt given up on while its resend is in flight)
 * moves nothing but records that message in late_ses_message_id: SES took
 * both, the person got two messages, and the ledger shows them.
 */

/** What an SES event does to its ledger row; null when it only reads it. */
export type LedgerEffect = 'delivered' | 'bounced' | 'transient_bounce' | 'complained' | 'failed' | 'sent' | null;

/** The facts of an SES event the ledger reads (a subset of the parsed SesEvent). */
export interface LedgerEventFacts {
  /** The recipient_id and campaign_id mail tags the sender set. */
  readonly recipientId: string | null;
  readonly campaignId: string | null;
  /** The `attempt` tag: which claim of the row sent the message. */
  readonly attempt: number | null;
  readonly sesMessageId: string | null;
  /** Bounce sub-type or reject reason: the `failed` reason names it. */
  readonly subType: string | null;
  readonly occurredAt: Date | null;
  readonly sentAt: Date | null;
}

/** Ledger status rank: an event only moves a row forward (a bounce or complaint wins over delivered). */
const STATUS_RANK = sql`(CASE status WHEN 'delivered' THEN 1 WHEN 'bounced' THEN 2 WHEN 'complained' THEN 3 ELSE 0 END)`;

/** The condition on `cr` (campaign_recipients) that finds the event's row: by the recipient_id tag (checked against campaign_id when tagged), else by SES message id. */
export function ledgerRowMatch(event: LedgerEventFacts): RawBuilder<unknown> {
  if (event.recipientId !== null) {
    return event.campaignId !== null ? sql`cr.id = ${event.recipientId} AND cr.campaign_id = ${event.campaignId}` : sql`cr.id = ${event.recipientId}`;
  }
  return event.sesMessageId !== null ? sql`cr.ses_message_id = ${event.sesMessageId}` : sql`false`;
}

/**
 * The ledger part of the ingest statement: updates the event's row only when
 * the statement's `ev` CTE inserted the event row, returning the row's id; a
 * query of no rows when the event only reads the ledger.
 */
export function ledgerUpdateFromEvent(event: LedgerEventFacts, effect: LedgerEffect): RawBuilder<unknown> {
  const set = ledgerSet(event, effect);
  if (set === null) return sql`SELECT NULL::bigint AS id WHERE false`;
  return sql`UPDATE campaign_recipients cr SET ${set} WHERE ${ledgerRowMatch(event)} AND NOT ${secondMessage(event)} AND EXISTS (SELECT 1 FROM ev) RETURNING cr.id`;
}

/** The ledger part for an event about a second message of its row: records that message, nothing else. */
export function ledgerSecondMessageFromEvent(event: LedgerEventFacts): RawBuilder<unknown> {
  if (event.sesMessageId === null) return sql`SELECT NULL::bigint AS id WHERE false`;
  return sql`UPDATE campaign_recipients cr SET late_ses_message_id = COALESCE(cr.late_ses_message_id, ${event.sesMessageId}::text), updated_at = now()
    WHERE ${ledgerRowMatch(event)} AND ${secondMessage(event)} AND EXISTS (SELECT 1 FROM ev) RETURNING cr.id`;
}

/** Whether the event is about another message than the one row `cr` stands for (see the module comment). */
function secondMessage(event: LedgerEventFacts): RawBuilder<boolean> {
  if (event.sesMessageId === null) return sql<boolean>`false`;
  const givenUpAttempt =
    event.attempt === null ? sql`false` : sql`(cr.status = 'sending' AND cr.resent_after_attempt IS NOT NULL AND ${event.attempt}::int <= cr.resent_after_attempt)`;
  return sql<boolean>`COALESCE(cr.ses_message_id <> ${event.sesMessageId}::text OR ${givenUpAttempt}, false)`;
}

/** The row waits for SES's word: unconfirmed, or queued again after its wait and not claimed since. */
const AWAITING_WORD = sql`(status = 'unconfirmed' OR (status = 'queued' AND resent_after_attempt IS NOT NULL))`;

/** The SET clause of the ledger update for an event, or null when the event only reads the ledger. */
function ledgerSet(event: LedgerEventFacts, effect: LedgerEffect): RawBuilder<unknown> | null {
  const at = event.occurredAt ?? new Date();
  const sentAt = sentAtSet(event, at);
  switch (effect) {
    case 'delivered':
      return sql`delivered_at = COALESCE(delivered_at, ${at}), status = CASE WHEN ${STATUS_RANK} < 1 THEN 'delivered' ELSE status END, ${sentAt}`;
    case 'bounced':
      return sql`bounced_at = COALESCE(bounced_at, ${at}), status = CASE WHEN ${STATUS_RANK} < 2 THEN 'bounced' ELSE status END,
        bounce_type = CASE WHEN bounce_type LIKE 'Permanent/%' THEN bounce_type ELSE ${event.subType} END, ${sentAt}`;
    case 'transient_bounce':
      // Shown beside the bounces the reputation guard counts; a permanent bounce's type wins.
      return sql`bounce_type = COALESCE(bounce_type, ${event.subType}), ${sentAt}`;
    case 'complained':
      return sql`complained_at = COALESCE(complained_at, ${at}), status = 'complained', ${sentAt}`;
    case 'failed':
      return sql`status = CASE WHEN status IN ('queued', 'sending', 'unconfirmed', 'sent') THEN 'failed' ELSE status END,
        reason = CASE WHEN status IN ('queued', 'sending', 'unconfirmed', 'sent') THEN ${`ses_rejected: ${event.subType ?? 'no reason given'}`} ELSE reason END,
        updated_at = now()`;
    case 'sent':
      return sql`status = CASE WHEN ${AWAITING_WORD} THEN 'sent' ELSE status END, ${sentAt}`;
    case null:
      return null;
  }
}

/**
 * An event can overtake the sender's own "sent" write (matched by its tags):
 * then it records the SES message id and send time itself, unless another
 * row already holds that message id.
 */
function sentAtSet(event: LedgerEventFacts, at: Date): RawBuilder<unknown> {
  const messageId =
    event.sesMessageId === null
      ? sql`ses_message_id`
      : sql`COALESCE(ses_message_id, CASE WHEN NOT EXISTS (SELECT 1 FROM campaign_recipients other WHERE other.ses_message_id = ${event.sesMessageId}) THEN ${event.sesMessageId}::text END)`;
  // A row that waited for SES's word has it now: its waiting reason goes.
  return sql`sent_at = COALESCE(sent_at, ${event.sentAt ?? at}), ses_message_id = ${messageId}, updated_at = now(),
    reason = CASE WHEN ${AWAITING_WORD} THEN NULL ELSE reason END`;
}
