import type { Kysely } from 'kysely';
import { Coalescer, coalescerPer } from '../db/coalesce.js';
import { preparedDb } from '../db/connect.js';
import type { Database } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { writeGroup, type PlannedEvent } from './group-write.js';
import { auditsOf, decideAll, lockEmails, RETRYABLE, type IngestResult, type NotificationInput } from './ingest.js';
import { TRANSITIONS } from './state-machine.js';

/**
 * The webhook's ingest: verified notifications that arrive while others are
 * being stored go together, a group to a transaction, the way the send path
 * records its messages (src/db/coalesce.ts). A notification that finds a
 * free slot runs at once, as a group of one, so a lone event waits for
 * nothing. A group is one transaction of four round trips whatever its size:
 * BEGIN; one statement locking all its addresses (sorted, so groups never
 * deadlock each other) and reading their SES histories; one write statement
 * (group-write.ts); COMMIT. Each request is answered only after its group's
 * commit, with the same result ingestNotification (ingest.ts) gives for the
 * event alone.
 *
 * Events that share an address, an SNS MessageId, an SES message id or a
 * recipient tag never share a group: the later one waits for a later group,
 * in arrival order. The address's row lock then serialises the two groups as
 * it serialises two one-event transactions, and the history read after the
 * lock sees what the other committed (two groups can run at once, so which
 * one takes the lock first is not fixed, as it is not for two requests
 * today, or two webhook processes).
 * A group that fails on a data error is run again one event at a time, so
 * only the event the database refuses fails (the webhook records it as
 * unstorable); on a database outage every request gets the error (503).
 */

/**
 * Groups in flight at once, each on one pooled connection for its four round
 * trips; notifications arriving meanwhile wait for the next group. 2 and 3
 * measured alike in the webhook benchmark (bench/RESULTS.md, issue 27); 2
 * gives larger groups (fewer commits) and holds fewer connections.
 */
export const GROUPS_IN_FLIGHT = 2;
const MAX_GROUP = 64;

/** Stores one verified notification together with those arriving at the same time; its result once its group has committed. */
export function ingestTogether(db: Kysely<Database>, input: NotificationInput): Promise<IngestResult> {
  return groups(db).submit(input);
}

/** Notifications of this process waiting for a group (those of the groups running not counted). */
export function waitingToIngest(db: Kysely<Database>): number {
  return groups(db).waitingCount;
}

const groups = coalescerPer(
  (db: Kysely<Database>) =>
    new Coalescer((inputs: NotificationInput[]) => ingestGroup(db, inputs), {
      maxBatch: MAX_GROUP,
      maxInFlight: GROUPS_IN_FLIGHT,
      keysOf: groupKeys,
      retryAlone: (error) => !isDatabaseUnavailable(error),
    }),
);

/** What two events of one group must not share (see the module comment). */
export function groupKeys(input: NotificationInput): string[] {
  const { event } = input;
  const keys = [`sns:${input.snsMessageId}`];
  if (event.sesMessageId !== null) keys.push(`ses:${event.sesMessageId}`);
  if (event.recipientId !== null) keys.push(`row:${event.recipientId}`);
  if (TRANSITIONS[event.kind].touchesAddress) keys.push(...event.recipients.map((address) => `to:${address}`));
  return keys;
}

/**
 * Stores a group of events whose keys are all different, in one transaction
 * (retried on a deadlock or serialization failure); the results in the
 * order of the inputs.
 */
export async function ingestGroup(db: Kysely<Database>, inputs: readonly NotificationInput[]): Promise<IngestResult[]> {
  const hot = preparedDb(db);
  // One event that touches no address is one statement, atomic on its own.
  if (inputs.length === 1 && !TRANSITIONS[inputs[0]!.event.kind].touchesAddress) return applyGroup(hot, inputs);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await hot.transaction().execute((trx) => applyGroup(trx, inputs));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 3 || typeof code !== 'string' || !RETRYABLE.has(code)) throw error;
    }
  }
}

async function applyGroup(trx: Kysely<Database>, inputs: readonly NotificationInput[]): Promise<IngestResult[]> {
  // 1. Lock every address of the group and read what earlier SES events did to them.
  const addresses = inputs.flatMap((input) => (TRANSITIONS[input.event.kind].touchesAddress ? input.event.recipients : []));
  const locked = await lockEmails(trx, addresses);
  // 2. Decide, per event and address, with the pure state machine: no two events share an address.
  const planned: PlannedEvent[] = inputs.map((input) => {
    const { outcome, decided } = decideAll(input, locked);
    return { input, outcome, decided, audits: auditsOf(input, decided) };
  });
  // 3. Write them all in one statement; events deferred by a shared ledger row go in the next.
  const results = new Map<PlannedEvent, IngestResult>();
  for (let pending = planned; pending.length > 0; ) {
    const written = await writeGroup(trx, pending);
    pending.forEach((event, i) => {
      const row = written[i];
      if (row !== 'deferred') results.set(event, resultOf(event, row ?? null));
    });
    pending = pending.filter((_, i) => written[i] === 'deferred');
  }
  return planned.map((event) => results.get(event)!);
}

function resultOf(event: PlannedEvent, written: { id: string; campaign_id: string | null; campaign_recipient_id: string | null } | null): IngestResult {
  if (!written) return { duplicate: true, outcome: 'duplicate', eventId: null, campaignId: null, campaignRecipientId: null, unverified: [] };
  return {
    duplicate: false,
    outcome: event.outcome,
    eventId: written.id,
    campaignId: written.campaign_id,
    campaignRecipientId: written.campaign_recipient_id,
    unverified: event.audits.map(({ emailId, reason }) => ({ emailId, reason })),
  };
}
