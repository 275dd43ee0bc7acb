import { sql, type Kysely } from 'kysely';
import type { Database, UnverifyReason } from '../db/database.js';
import { preparedDb } from '../db/connect.js';
import { suppressionRank } from '../mail/suppressions.js';
import type { SesEvent } from './ses-payload.js';
import { decide, TRANSITIONS, type AddressEventKind, type AddressOutcome, type Decision, type HistoryEntry, type LedgerEffect } from './state-machine.js';

/**
 * Applies one verified SNS Notification in one transaction: the email_events
 * row (unique on the SNS MessageId, so a redelivery changes nothing), the
 * address changes the state machine decides, suppressions, the campaign
 * ledger and an audit row for every unverification. Either all of it commits
 * or none of it does; the webhook answers 2xx only after the commit.
 */

export interface NotificationInput {
  readonly snsMessageId: string;
  readonly topicArn: string;
  readonly event: SesEvent;
  readonly softBounceLimit: number;
}

export interface IngestResult {
  readonly duplicate: boolean;
  /** email_events.outcome: applied, recorded, unknown_address, unknown_type, out_of_office, repeat, stale, or a mix joined by ','. */
  readonly outcome: string;
  readonly eventId: string | null;
  readonly campaignId: string | null;
  readonly campaignRecipientId: string | null;
  readonly unverified: ReadonlyArray<{ emailId: string; reason: UnverifyReason }>;
}

const RETRYABLE = new Set(['40001', '40P01']);

/** Runs the ingest transaction, retrying a deadlock or serialization failure a few times. */
export async function ingestNotification(db: Kysely<Database>, input: NotificationInput): Promise<IngestResult> {
  // Every statement of the ingest is a lookup by key: prepared once per
  // connection with a generic plan (planning the write cost more than running it).
  const hot = preparedDb(db);
  // An event that touches no address is one statement, atomic on its own.
  if (!TRANSITIONS[input.event.kind].touchesAddress) return applyNotification(hot, input);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await hot.transaction().execute((trx) => applyNotification(trx, input));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 3 || typeof code !== 'string' || !RETRYABLE.has(code)) throw error;
    }
  }
}

interface LockedEmail {
  id: string;
  user_id: string;
  email: string;
  lower_email: string;
  verified: boolean;
  verified_at: Date | null;
  unverify_reason: UnverifyReason | null;
  transient_bounces: number;
  /** Everything earlier SES events did to this address (ses_recipient_events). */
  history: HistoryEntry[];
}

async function applyNotification(trx: Kysely<Database>, input: NotificationInput): Promise<IngestResult> {
  const { event } = input;
  const rule = TRANSITIONS[event.kind];

  // 1. Lock the addresses and read what earlier SES events did to them.
  //    Nothing is written yet, so a duplicate costs no writes.
  const locked = rule.touchesAddress ? await lockEmails(trx, event.recipients) : [];
  const found = new Map(locked.map((row) => [row.lower_email, row]));

  // 2. Decide, per address, with the pure state machine.
  const outcomes = new Set<string>();
  const decided: Array<{ row: LockedEmail; decision: Decision }> = [];
  if (event.kind === 'unknown') outcomes.add('unknown_type');
  else if (!rule.touchesAddress) outcomes.add('recorded');
  else if (event.recipients.length === 0) outcomes.add('unknown_address');
  for (const address of rule.touchesAddress ? [...event.recipients].sort() : []) {
    const row = found.get(address);
    if (!row) {
      outcomes.add('unknown_address');
      continue;
    }
    const state = { verified: row.verified, verifiedAt: row.verified_at, reason: row.unverify_reason, transientBounces: row.transient_bounces, suppression: null };
    const facts = { kind: event.kind, sesMessageId: event.sesMessageId, occurredAt: event.occurredAt };
    const decision = decide(state, facts, row.history, input.softBounceLimit);
    outcomes.add(decision.outcome);
    decided.push({ row, decision });
  }
  const outcome = [...outcomes].sort().join(',');

  // 3. One statement: the event row (unique on the SNS MessageId), the ledger,
  //    the per-message memory, the address rows, the suppressions and the
  //    audit rows saying why an address was unverified. On a duplicate the
  //    event insert returns nothing and every other part, joined to it, does
  //    nothing.
  const audits = decided
    .filter(({ decision }) => decision.unverifiedWith !== null)
    .map(({ row, decision }) => ({
      userId: row.user_id,
      emailId: row.id,
      reason: decision.unverifiedWith as UnverifyReason,
      // emailEventId is added by the statement, which knows it.
      details: {
        email: row.email,
        previous: { verified: row.verified, reason: row.unverify_reason, transientBounces: row.transient_bounces },
        transientBounces: decision.next.transientBounces,
        snsMessageId: input.snsMessageId,
        sesEvent: event.summary,
      },
    }));
  const written = await writeEvent(trx, input, outcome, rule.ledger, decided, audits);
  if (!written) {
    return { duplicate: true, outcome: 'duplicate', eventId: null, campaignId: null, campaignRecipientId: null, unverified: [] };
  }
  const unverified = audits.map(({ emailId, reason }) => ({ emailId, reason }));
  return {
    duplicate: false,
    outcome,
    eventId: written.id,
    campaignId: written.campaign_id,
    campaignRecipientId: written.campaign_recipient_id,
    unverified,
  };
}

/**
 * Locks the matching address rows (in a fixed order, so concurrent events
 * cannot deadlock) and reads what earlier SES events did to each, in one
 * statement. The history comes from reverify_ses_history() (migration 0006),
 * called for a row only once its lock is held: a VOLATILE function reads
 * with a fresh snapshot, so it sees whatever a concurrent event for the same
 * address committed while this one waited for the lock (a sub-select would
 * read with the statement's older snapshot and miss it).
 */
async function lockEmails(trx: Kysely<Database>, recipients: readonly string[]): Promise<LockedEmail[]> {
  if (recipients.length === 0) return [];
  const { rows } = await sql<Omit<LockedEmail, 'history'> & { history: Array<{ sesMessageId: string; kind: string; outcome: string; occurredAt: string | null }> }>`
    WITH locked AS MATERIALIZED (
      SELECT e.id, e.user_id, e.email, lower(e.email) AS lower_email, e.verified, e.verified_at, e.unverify_reason, e.transient_bounces
      FROM emails e
      WHERE lower(e.email) = ANY(${[...recipients]}::text[])
      ORDER BY lower(e.email)
      FOR NO KEY UPDATE OF e
    )
    SELECT locked.*, reverify_ses_history(locked.lower_email) AS history FROM locked
  `.execute(trx);
  return rows.map((row) => ({
    ...row,
    history: row.history.map((entry) => ({
      sesMessageId: entry.sesMessageId,
      kind: entry.kind as AddressEventKind,
      outcome: entry.outcome as AddressOutcome,
      occurredAt: entry.occurredAt === null ? null : new Date(entry.occurredAt),
    })),
  }));
}

/** Ledger status rank: an event only moves a row forward (a bounce or complaint wins over delivered). */
const STATUS_RANK = sql`(CASE status WHEN 'delivered' THEN 1 WHEN 'bounced' THEN 2 WHEN 'complained' THEN 3 ELSE 0 END)`;

/** The SET clause of the ledger update for an event, or null when the event only reads the ledger. */
function ledgerSet(event: SesEvent, effect: LedgerEffect) {
  const at = event.occurredAt ?? new Date();
  // An event can overtake the sender's own "sent" write (matched by its tags):
  // then it records the SES message id and send time itself.
  const messageId =
    event.sesMessageId === null
      ? sql`ses_message_id`
      : sql`COALESCE(ses_message_id, CASE WHEN NOT EXISTS (SELECT 1 FROM campaign_recipients other WHERE other.ses_message_id = ${event.sesMessageId}) THEN ${event.sesMessageId}::text END)`;
  const sentAt = sql`sent_at = COALESCE(sent_at, ${event.sentAt ?? at}), ses_message_id = ${messageId}, updated_at = now()`;
  switch (effect) {
    case 'delivered':
      return sql`delivered_at = COALESCE(delivered_at, ${at}), status = CASE WHEN ${STATUS_RANK} < 1 THEN 'delivered' ELSE status END, ${sentAt}`;
    case 'bounced':
      return sql`bounced_at = COALESCE(bounced_at, ${at}), status = CASE WHEN ${STATUS_RANK} < 2 THEN 'bounced' ELSE status END, ${sentAt}`;
    case 'complained':
      return sql`complained_at = COALESCE(complained_at, ${at}), status = 'complained', ${sentAt}`;
    case 'failed':
      return sql`status = CASE WHEN status IN ('queued', 'sending', 'sent') THEN 'failed' ELSE status END,
        reason = CASE WHEN status IN ('queued', 'sending', 'sent') THEN ${`ses_rejected: ${event.subType ?? 'no reason given'}`} ELSE reason END,
        updated_at = now()`;
    case 'sent':
      return sentAt;
    case null:
      return null;
  }
}

async function writeEvent(
  trx: Kysely<Database>,
  input: NotificationInput,
  outcome: string,
  effect: LedgerEffect,
  decided: ReadonlyArray<{ row: LockedEmail; decision: Decision }>,
  audits: ReadonlyArray<{ userId: string; emailId: string; reason: UnverifyReason; details: Record<string, unknown> }>,
): Promise<{ id: string; campaign_id: string | null; campaign_recipient_id: string | null } | null> {
  const { event } = input;
  // The ledger row: by the recipient_id tag (checked against campaign_id when tagged), else by SES message id.
  const match =
    event.recipientId !== null
      ? event.campaignId !== null
        ? sql`cr.id = ${event.recipientId} AND cr.campaign_id = ${event.campaignId}`
        : sql`cr.id = ${event.recipientId}`
      : event.sesMessageId !== null
        ? sql`cr.ses_message_id = ${event.sesMessageId}`
        : sql`false`;
  const set = ledgerSet(event, effect);
  const ledger = set === null ? sql`SELECT NULL::bigint AS id WHERE false` : sql`UPDATE campaign_recipients cr SET ${set} WHERE ${match} AND EXISTS (SELECT 1 FROM ev) RETURNING cr.id`;

  const remembered = decided.filter(({ decision }) => decision.outcome !== 'repeat');
  const suppressed = decided.filter(({ decision }) => decision.suppressWith !== null);
  const changed = decided.filter(({ row, decision: { next } }) => next.verified !== row.verified || next.reason !== row.unverify_reason || next.transientBounces !== row.transient_bounces);

  // Its text takes one of a few dozen shapes (ledger match × ledger effect),
  // each prepared once per connection of the prepared pool.
  const { rows } = await sql<{ id: string; campaign_id: string | null; campaign_recipient_id: string | null }>`
    WITH ev AS (
      INSERT INTO email_events (sns_message_id, sns_type, topic_arn, event_type, sub_type, ses_message_id, campaign_id, campaign_recipient_id, outcome, payload, occurred_at)
      SELECT ${input.snsMessageId}, 'Notification', ${input.topicArn}, ${event.type}, ${event.subType}, ${event.sesMessageId},
        COALESCE(l.campaign_id, ${event.campaignId}::bigint), COALESCE(l.id, ${event.recipientId}::bigint), ${outcome}, ${event.payloadJson}::jsonb, ${event.occurredAt}
      FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT cr.id, cr.campaign_id FROM campaign_recipients cr WHERE ${match} LIMIT 1) l ON true
      ON CONFLICT ON CONSTRAINT email_events_sns_message_id_key DO NOTHING
      RETURNING id, campaign_id, campaign_recipient_id
    ),
    ledger AS (${ledger}),
    remembered AS (
      INSERT INTO ses_recipient_events (ses_message_id, email, kind, email_event_id, outcome, occurred_at)
      SELECT ${event.sesMessageId}, r.email, ${event.kind}, ev.id, r.outcome, ${event.occurredAt}
      FROM ev, unnest(${remembered.map((d) => d.row.lower_email)}::text[], ${remembered.map((d) => d.decision.outcome)}::text[]) AS r(email, outcome)
      WHERE ${event.sesMessageId}::text IS NOT NULL
    ),
    addresses AS (
      UPDATE emails e SET verified = u.verified, unverify_reason = u.reason, transient_bounces = u.transient_bounces
      FROM ev, unnest(${changed.map((d) => d.row.id)}::bigint[], ${changed.map((d) => d.decision.next.verified)}::boolean[],
        ${changed.map((d) => d.decision.next.reason)}::text[], ${changed.map((d) => d.decision.next.transientBounces)}::int[])
        AS u(id, verified, reason, transient_bounces)
      WHERE e.id = u.id
    ),
    suppressed AS (
      INSERT INTO suppressions AS s (email, reason, email_event_id)
      SELECT n.email, n.reason, ev.id FROM ev, unnest(${suppressed.map((d) => d.row.lower_email)}::text[], ${suppressed.map((d) => d.decision.suppressWith)}::text[]) AS n(email, reason)
      ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, email_event_id = excluded.email_event_id
      WHERE ${suppressionRank(sql.ref('excluded.reason'))} > ${suppressionRank(sql.ref('s.reason'))}
    ),
    audited AS (
      INSERT INTO audit_log (actor, action, user_id, email_id, reason, details)
      SELECT 'ses-webhook', 'email.unverified', a.user_id, a.email_id, a.reason, a.details || jsonb_build_object('emailEventId', ev.id::text)
      FROM ev, unnest(${audits.map((a) => a.userId)}::bigint[], ${audits.map((a) => a.emailId)}::bigint[], ${audits.map((a) => a.reason)}::text[],
        ${audits.map((a) => JSON.stringify(a.details))}::jsonb[]) AS a(user_id, email_id, reason, details)
    )
    SELECT id, campaign_id, campaign_recipient_id FROM ev
  `.execute(trx);
  return rows[0] ?? null;
}
