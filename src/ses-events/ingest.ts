import { sql, type Kysely } from 'kysely';
import { ledgerRowMatch, ledgerSecondMessageFromEvent, ledgerUpdateFromEvent, type LedgerEffect } from '../campaigns/ledger/ledger-events.js';
import type { Database, UnverifyReason } from '../db/database.js';
import { preparedDb } from '../db/connect.js';
import { suppressionRank } from '../mail/suppressions.js';
import type { SesEvent } from './ses-payload.js';
import { decide, TRANSITIONS, type AddressEventKind, type AddressOutcome, type Decision, type HistoryEntry } from './state-machine.js';

/**
 * Applies one verified SNS Notification in one transaction: the email_events
 * row (unique on the SNS MessageId, so a redelivery changes nothing), the
 * address changes the state machine decides, suppressions, the campaign
 * ledger and an audit row for every unverification. Either all of it commits
 * or none of it does; the webhook answers 2xx only after the commit.
 *
 * The webhook stores concurrent notifications in groups (ingest-group.ts,
 * group-write.ts), built from the lock, the decisions and the audit rows
 * here. This one-event transaction stays as the reference the group write is
 * tested against and as the limit the webhook benchmark measures.
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

/** Deadlock and serialization failure: the transaction is tried again. */
export const RETRYABLE = new Set(['40001', '40P01']);

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

export interface LockedEmail {
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

/** One known recipient and what the state machine decided for it. */
export interface Decided {
  readonly row: LockedEmail;
  readonly decision: Decision;
}

export interface Audit {
  readonly userId: string;
  readonly emailId: string;
  readonly reason: UnverifyReason;
  readonly details: Record<string, unknown>;
}

export interface WrittenEvent {
  id: string;
  campaign_id: string | null;
  campaign_recipient_id: string | null;
}

async function applyNotification(trx: Kysely<Database>, input: NotificationInput): Promise<IngestResult> {
  const rule = TRANSITIONS[input.event.kind];
  // 1. Lock the addresses and read what earlier SES events did to them.
  //    Nothing is written yet, so a duplicate costs no writes.
  const locked = rule.touchesAddress ? await lockEmails(trx, input.event.recipients) : [];
  // 2. Decide, per address, with the pure state machine.
  const { outcome, decided } = decideAll(input, locked);
  // 3. Write everything in one statement (see writeEvent).
  const audits = auditsOf(input, decided);
  const written = await writeEvent(trx, input, outcome, rule.ledger, decided, audits);
  if (!written) {
    return { duplicate: true, outcome: 'duplicate', eventId: null, campaignId: null, campaignRecipientId: null, unverified: [] };
  }
  return {
    duplicate: false,
    outcome,
    eventId: written.id,
    campaignId: written.campaign_id,
    campaignRecipientId: written.campaign_recipient_id,
    unverified: audits.map(({ emailId, reason }) => ({ emailId, reason })),
  };
}

/** The state machine's decision for every known recipient, and the event's outcome (its parts sorted and joined by ','). */
export function decideAll(input: NotificationInput, locked: readonly LockedEmail[]): { outcome: string; decided: Decided[] } {
  const { event } = input;
  const rule = TRANSITIONS[event.kind];
  const found = new Map(locked.map((row) => [row.lower_email, row]));
  const outcomes = new Set<string>();
  const decided: Decided[] = [];
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
  return { outcome: [...outcomes].sort().join(','), decided };
}

/** The audit rows saying why an address was unverified. */
export function auditsOf(input: NotificationInput, decided: readonly Decided[]): Audit[] {
  return decided
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
        sesEvent: input.event.summary,
      },
    }));
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
export async function lockEmails(trx: Kysely<Database>, recipients: readonly string[]): Promise<LockedEmail[]> {
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

/**
 * One statement: the event row (unique on the SNS MessageId), the ledger,
 * the per-message memory, the address rows, the suppressions and the audit
 * rows saying why an address was unverified. On a duplicate the event insert
 * returns nothing and every other part, joined to it, does nothing. Its text
 * takes one of a few dozen shapes (ledger match × ledger effect), each
 * prepared once per connection of the prepared pool.
 */
async function writeEvent(
  trx: Kysely<Database>,
  input: NotificationInput,
  outcome: string,
  effect: LedgerEffect,
  decided: readonly Decided[],
  audits: readonly Audit[],
): Promise<WrittenEvent | null> {
  const { rows } = await sql<WrittenEvent>`
    WITH ev AS (${eventInsert(input, outcome)}),
    ledger AS (${ledgerUpdateFromEvent(input.event, effect)}),
    second_message AS (${ledgerSecondMessageFromEvent(input.event)}),
    ${addressWrites(input.event, decided)},
    ${suppressionAndAuditWrites(decided, audits)}
    SELECT id, campaign_id, campaign_recipient_id FROM ev
  `.execute(trx);
  return rows[0] ?? null;
}

/** The email_events row, with the campaign and ledger row it is about; nothing on a duplicate. */
function eventInsert(input: NotificationInput, outcome: string) {
  const { event } = input;
  return sql`
      INSERT INTO email_events (sns_message_id, sns_type, topic_arn, event_type, sub_type, ses_message_id, campaign_id, campaign_recipient_id, outcome, payload, occurred_at)
      SELECT ${input.snsMessageId}, 'Notification', ${input.topicArn}, ${event.type}, ${event.subType}, ${event.sesMessageId},
        COALESCE(l.campaign_id, ${event.campaignId}::bigint), COALESCE(l.id, ${event.recipientId}::bigint), ${outcome}, ${event.payloadJson}::jsonb, ${event.occurredAt}
      FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT cr.id, cr.campaign_id FROM campaign_recipients cr WHERE ${ledgerRowMatch(event)} LIMIT 1) l ON true
      ON CONFLICT ON CONSTRAINT email_events_sns_message_id_key DO NOTHING
      RETURNING id, campaign_id, campaign_recipient_id`;
}

/** The `remembered` (per-message memory, repeats left out) and `addresses` (rows that changed) parts. */
function addressWrites(event: SesEvent, decided: readonly Decided[]) {
  const remembered = decided.filter(({ decision }) => decision.outcome !== 'repeat');
  const changed = decided.filter(({ row, decision: { next } }) => next.verified !== row.verified || next.reason !== row.unverify_reason || next.transientBounces !== row.transient_bounces);
  return sql`remembered AS (
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
    )`;
}

/** The `suppressed` (a stronger reason wins) and `audited` parts. */
function suppressionAndAuditWrites(decided: readonly Decided[], audits: readonly Audit[]) {
  const suppressed = decided.filter(({ decision }) => decision.suppressWith !== null);
  return sql`suppressed AS (
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
    )`;
}
