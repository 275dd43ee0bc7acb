import type { AddressEventKind, AddressState, EventFacts, HistoryEntry } from './state-machine.js';

/**
 * The transient bounce count by SES's event times, for the state machine's
 * `decide` (state-machine.ts, whose table and notes say what the count
 * means): a delivery resets it, a bounce that happened before the latest
 * delivery is judged within its stretch between two deliveries. Pure.
 */

const TRANSIENT_KINDS: ReadonlySet<AddressEventKind> = new Set(['soft_bounce', 'undetermined_bounce']);

/**
 * The transient bounce count after a delivery. The newest delivery so far
 * resets it to the bounces that happened after it (none of this message's);
 * an older delivery arriving late only takes back this message's bounces,
 * which it shows were out-of-office replies.
 */
export function countAfterDelivery(state: AddressState, event: EventFacts, history: readonly HistoryEntry[], latestDelivery: Date | null): number {
  const counted = history.filter((entry) => TRANSIENT_KINDS.has(entry.kind) && entry.outcome === 'applied');
  const delivered = new Set(history.filter((entry) => entry.kind === 'delivery').map((entry) => entry.sesMessageId));
  const newest = latestDelivery === null || !isBefore(event.occurredAt, latestDelivery, true);
  if (newest) {
    return counted.filter(
      (entry) =>
        entry.sesMessageId !== event.sesMessageId &&
        !delivered.has(entry.sesMessageId) &&
        !isBefore(entry.occurredAt, event.occurredAt, true) &&
        !isBefore(entry.occurredAt, state.verifiedAt),
    ).length;
  }
  const retracted = counted.filter((entry) => entry.sesMessageId === event.sesMessageId && !isBefore(entry.occurredAt, latestDelivery, true)).length;
  return Math.max(0, state.transientBounces - retracted);
}

/**
 * The transient bounces, this one included, that happened between the two
 * applied deliveries around `event` (after the one before it, up to and
 * including the one at or after it): what the count would have reached there
 * had SNS delivered in order. Bounces of delivered messages, stale ones and
 * repeats never count, and a message counts once.
 */
export function bouncesInStretch(state: AddressState, event: EventFacts, history: readonly HistoryEntry[]): number {
  if (event.occurredAt === null) return 1;
  const at = event.occurredAt.getTime();
  const deliveries = history
    .filter((entry) => entry.kind === 'delivery' && entry.outcome === 'applied' && entry.occurredAt !== null)
    .map((entry) => entry.occurredAt!.getTime());
  const from = Math.max(-Infinity, ...deliveries.filter((time) => time < at));
  const to = Math.min(Infinity, ...deliveries.filter((time) => time >= at));
  const delivered = new Set(history.filter((entry) => entry.kind === 'delivery').map((entry) => entry.sesMessageId));
  const messages = new Set(
    history
      .filter(
        (entry) =>
          TRANSIENT_KINDS.has(entry.kind) &&
          (entry.outcome === 'applied' || entry.outcome === 'superseded') &&
          entry.occurredAt !== null &&
          entry.occurredAt.getTime() > from &&
          entry.occurredAt.getTime() <= to &&
          !delivered.has(entry.sesMessageId) &&
          !isBefore(entry.occurredAt, state.verifiedAt),
      )
      .map((entry) => entry.sesMessageId),
  );
  messages.add(event.sesMessageId ?? `this event at ${at}`);
  return messages.size;
}

/** When the latest applied delivery to the address happened; null when none with a known time. */
export function latestAppliedDelivery(history: readonly HistoryEntry[]): Date | null {
  let latest: Date | null = null;
  for (const entry of history) {
    if (entry.kind !== 'delivery' || entry.outcome !== 'applied' || entry.occurredAt === null) continue;
    if (latest === null || entry.occurredAt.getTime() > latest.getTime()) latest = entry.occurredAt;
  }
  return latest;
}

/** occurredAt < than (or ≤ with orEqual); an unknown time is never before anything. */
export function isBefore(occurredAt: Date | null, than: Date | null, orEqual = false): boolean {
  if (occurredAt === null || than === null) return false;
  return orEqual ? occurredAt.getTime() <= than.getTime() : occurredAt.getTime() < than.getTime();
}
