import { sql, type Kysely } from 'kysely';
import { groupLedgerRow, groupLedgerSecondMessage, groupLedgerUpdate } from '../campaigns/ledger/ledger-group.js';
import type { Database } from '../db/database.js';
import { suppressionRank } from '../mail/suppressions.js';
import type { Audit, Decided, NotificationInput, WrittenEvent } from './ingest.js';
import { TRANSITIONS } from './state-machine.js';

/**
 * The write statement of a group of SES events (ingest-group.ts): what
 * ingest.ts's writeEvent does for one event — the email_events row (unique on
 * the SNS MessageId), the ledger, the per-message memory, the address rows,
 * the suppressions and the audit rows — for every event of the group at once.
 * Every part is data-driven (arrays, unnest) so one statement text serves
 * every group, prepared once per connection. Each part joins `written`, the
 * events whose row was inserted: a duplicate (the insert did nothing) writes
 * nothing else.
 *
 * Two events of a group may name the same ledger row (the group former keeps
 * apart events of one SES message or one recipient tag, but an untagged event
 * can find by its message id a row another event names by its tag): one
 * UPDATE cannot move a row twice, so only the first of them is written here
 * and the others come back `deferred`, for a statement of their own in the
 * same transaction.
 */

/** One event of the group with what the state machine decided for it. */
export interface PlannedEvent {
  readonly input: NotificationInput;
  readonly outcome: string;
  readonly decided: readonly Decided[];
  readonly audits: readonly Audit[];
}

/** Per event: its stored row, null for a duplicate, or 'deferred' (write it again in a statement of its own). */
export type GroupWriteResult = WrittenEvent | null | 'deferred';

export async function writeGroup(trx: Kysely<Database>, events: readonly PlannedEvent[]): Promise<GroupWriteResult[]> {
  const { rows } = await sql<{ ord: string; id: string | null; campaign_id: string | null; campaign_recipient_id: string | null; deferred: boolean }>`
    WITH ${eventParameters(events)},
    t AS MATERIALIZED (
      SELECT p.*, l.id AS row_id, l.campaign_id AS row_campaign_id,
        CASE WHEN l.id IS NULL THEN 1 ELSE row_number() OVER (PARTITION BY l.id ORDER BY p.ord) END AS layer
      FROM p LEFT JOIN LATERAL (${groupLedgerRow()}) l ON true
    ),
    ev AS (
      INSERT INTO email_events (sns_message_id, sns_type, topic_arn, event_type, sub_type, ses_message_id, campaign_id, campaign_recipient_id, outcome, payload, occurred_at)
      SELECT t.sns_message_id, 'Notification', t.topic_arn, t.event_type, t.sub_type, t.ses_message_id,
        COALESCE(t.row_campaign_id, t.tag_campaign_id), COALESCE(t.row_id, t.tag_recipient_id), t.outcome, t.payload, t.occurred_at
      FROM t WHERE t.layer = 1 ORDER BY t.ord
      ON CONFLICT ON CONSTRAINT email_events_sns_message_id_key DO NOTHING
      RETURNING id, sns_message_id, campaign_id, campaign_recipient_id
    ),
    written AS MATERIALIZED (
      SELECT t.ord, t.row_id, t.tag_recipient_id, t.ses_message_id, t.attempt, t.effect, t.sub_type, t.ledger_at, t.ledger_sent_at, t.failed_reason,
        t.occurred_at, ev.id AS event_id
      FROM t JOIN ev ON ev.sns_message_id = t.sns_message_id
    ),
    ledger AS (${groupLedgerUpdate()}),
    second_message AS (${groupLedgerSecondMessage()}),
    ${addressWrites(events)},
    ${suppressionAndAuditWrites(events)}
    SELECT t.ord::text, ev.id, ev.campaign_id, ev.campaign_recipient_id, t.layer > 1 AS deferred
    FROM t LEFT JOIN ev ON ev.sns_message_id = t.sns_message_id
  `.execute(trx);
  const byOrd = new Map(rows.map((row) => [Number(row.ord), row]));
  return events.map((_, i) => {
    const row = byOrd.get(i + 1);
    if (row?.deferred) return 'deferred';
    if (!row || row.id === null) return null;
    return { id: row.id, campaign_id: row.campaign_id, campaign_recipient_id: row.campaign_recipient_id };
  });
}

/** `p`: one row per event, numbered from 1 in the group's order (`ord`). */
function eventParameters(events: readonly PlannedEvent[]) {
  const column = <T>(pick: (input: NotificationInput) => T) => events.map(({ input }) => pick(input));
  const ledgerAt = (input: NotificationInput) => input.event.occurredAt ?? new Date();
  return sql`p AS (
      SELECT * FROM unnest(
        ${column((i) => i.snsMessageId)}::text[], ${column((i) => i.topicArn)}::text[], ${column((i) => i.event.type)}::text[],
        ${column((i) => i.event.subType)}::text[], ${column((i) => i.event.sesMessageId)}::text[], ${column((i) => i.event.campaignId)}::bigint[],
        ${column((i) => i.event.recipientId)}::bigint[], ${column((i) => i.event.attempt)}::int[], ${events.map((e) => e.outcome)}::text[],
        ${column((i) => i.event.payloadJson)}::jsonb[], ${column((i) => i.event.occurredAt)}::timestamptz[],
        ${column((i) => TRANSITIONS[i.event.kind].ledger)}::text[], ${column(ledgerAt)}::timestamptz[],
        ${column((i) => i.event.sentAt ?? ledgerAt(i))}::timestamptz[], ${column((i) => `ses_rejected: ${i.event.subType ?? 'no reason given'}`)}::text[]
      ) WITH ORDINALITY AS p(sns_message_id, topic_arn, event_type, sub_type, ses_message_id, tag_campaign_id, tag_recipient_id, attempt, outcome,
        payload, occurred_at, effect, ledger_at, ledger_sent_at, failed_reason, ord)
    )`;
}

/** One row per decided address, with the number (`ord`) of its event. */
function perAddress<T>(events: readonly PlannedEvent[], keep: (decided: Decided) => boolean, pick: (decided: Decided, event: PlannedEvent) => T) {
  return {
    ords: events.flatMap((event, i) => event.decided.filter(keep).map(() => i + 1)),
    values: events.flatMap((event) => event.decided.filter(keep).map((decided) => pick(decided, event))),
  };
}

/** The `remembered` (per-message memory, repeats left out) and `addresses` (rows that changed) parts. */
function addressWrites(events: readonly PlannedEvent[]) {
  const remembered = (d: Decided) => d.decision.outcome !== 'repeat';
  const changed = ({ row, decision: { next } }: Decided) =>
    next.verified !== row.verified || next.reason !== row.unverify_reason || next.transientBounces !== row.transient_bounces;
  const memory = perAddress(events, remembered, (d, e) => ({ email: d.row.lower_email, kind: e.input.event.kind, outcome: d.decision.outcome }));
  const updates = perAddress(events, changed, (d) => ({ id: d.row.id, next: d.decision.next }));
  return sql`remembered AS (
      INSERT INTO ses_recipient_events (ses_message_id, email, kind, email_event_id, outcome, occurred_at)
      SELECT w.ses_message_id, r.email, r.kind, w.event_id, r.outcome, w.occurred_at
      FROM unnest(${memory.ords}::int[], ${memory.values.map((m) => m.email)}::text[], ${memory.values.map((m) => m.kind)}::text[],
        ${memory.values.map((m) => m.outcome)}::text[]) AS r(ord, email, kind, outcome)
      JOIN written w ON w.ord = r.ord
      WHERE w.ses_message_id IS NOT NULL
    ),
    addresses AS (
      UPDATE emails e SET verified = u.verified, unverify_reason = u.reason, transient_bounces = u.transient_bounces
      FROM unnest(${updates.ords}::int[], ${updates.values.map((u) => u.id)}::bigint[], ${updates.values.map((u) => u.next.verified)}::boolean[],
        ${updates.values.map((u) => u.next.reason)}::text[], ${updates.values.map((u) => u.next.transientBounces)}::int[])
        AS u(ord, id, verified, reason, transient_bounces)
      JOIN written w ON w.ord = u.ord
      WHERE e.id = u.id
    )`;
}

/** The `suppressed` (a stronger reason wins) and `audited` parts. */
function suppressionAndAuditWrites(events: readonly PlannedEvent[]) {
  const suppressed = perAddress(
    events,
    (d) => d.decision.suppressWith !== null,
    (d) => ({ email: d.row.lower_email, reason: d.decision.suppressWith }),
  );
  const audits = events.flatMap((event, i) => event.audits.map((audit) => ({ ord: i + 1, audit })));
  return sql`suppressed AS (
      INSERT INTO suppressions AS s (email, reason, email_event_id)
      SELECT n.email, n.reason, w.event_id
      FROM unnest(${suppressed.ords}::int[], ${suppressed.values.map((n) => n.email)}::text[], ${suppressed.values.map((n) => n.reason)}::text[]) AS n(ord, email, reason)
      JOIN written w ON w.ord = n.ord
      ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, email_event_id = excluded.email_event_id
      WHERE ${suppressionRank(sql.ref('excluded.reason'))} > ${suppressionRank(sql.ref('s.reason'))}
    ),
    audited AS (
      INSERT INTO audit_log (actor, action, user_id, email_id, reason, details)
      SELECT 'ses-webhook', 'email.unverified', a.user_id, a.email_id, a.reason, a.details || jsonb_build_object('emailEventId', w.event_id::text)
      FROM unnest(${audits.map((a) => a.ord)}::int[], ${audits.map((a) => a.audit.userId)}::bigint[], ${audits.map((a) => a.audit.emailId)}::bigint[],
        ${audits.map((a) => a.audit.reason)}::text[], ${audits.map((a) => JSON.stringify(a.audit.details))}::jsonb[]) AS a(ord, user_id, email_id, reason, details)
      JOIN written w ON w.ord = a.ord
    )`;
}
