import type { LedgerEffect } from '../campaigns/ledger/ledger-events.js';
import type { UnverifyReason } from '../db/database.js';
import { SUPPRESSION_RANK, type SuppressionReason } from '../mail/suppressions.js';
import { bouncesInStretch, countAfterDelivery, isBefore, latestAppliedDelivery } from './bounce-count.js';

/**
 * What an SES event does to an email address. The machine is total: every
 * event kind has a rule, every rule applies in every address state, and the
 * result depends only on the address row, the earlier events of the same SES
 * message for the same address, and SOFT_BOUNCE_LIMIT. Nothing here throws.
 *
 * | event               | verified        | unverify_reason        | transient_bounces | suppressed        | after a Delivery of the same message | occurred before verified_at | ledger status |
 * | ------------------- | --------------- | ---------------------- | ----------------- | ----------------- | ------------------------------------ | --------------------------- | ------------- |
 * | hard_bounce         | false           | hard_bounce (rank)     | kept              | hard_bounce       | applies (late NDR)                   | stale: no effect            | bounced       |
 * | soft_bounce         | false if > limit| soft_bounce if > limit | +1 (†)            | soft_bounce if > limit | out_of_office: no effect        | stale: no effect            | — (bounce_type) |
 * | undetermined_bounce | as soft_bounce  | as soft_bounce         | +1 (†)            | as soft_bounce    | out_of_office: no effect             | stale: no effect            | — (bounce_type) |
 * | complaint           | false           | complaint (rank)       | kept              | complaint         | applies                              | applies (a complaint always stops mail) | complained |
 * | delivery            | kept (never set true) | kept (never cleared) | reset (‡)  | kept              | —                                    | stale: no effect            | delivered     |
 * | send                | kept            | kept                   | kept              | kept              | —                                    | —                           | — (sent_at)   |
 * | reject              | kept            | kept                   | kept              | kept              | —                                    | —                           | failed        |
 * | delivery_delay      | kept            | kept                   | kept              | kept              | —                                    | —                           | —             |
 * | unknown             | kept            | kept                   | kept              | kept              | —                                    | —                           | —             |
 *
 * - "> limit" means the count after this bounce exceeds SOFT_BOUNCE_LIMIT.
 * - Counting goes by SES's event times, not by arrival, so SNS's reordering
 *   does not change the count: (†) a transient bounce that happened before
 *   the latest delivery to the address is `superseded` and counts nothing,
 *   unless its stretch between two deliveries now holds more than the limit:
 *   in order, the address would have been unverified then, so it is now;
 *   (‡) the newest delivery sets the count to the transient bounces that
 *   happened after it (of messages not delivered), an older delivery arriving
 *   late only takes back its own message's bounces (out-of-office replies).
 *   A count reached before any event was recorded is dropped by a delivery.
 *   The one order-dependent step: once a count passed the limit the address
 *   keeps `soft_bounce`, even if a delivery that happened earlier arrives
 *   later and lowers the count (reasons are never cleared by events).
 * - Reason rank: complaint > manual > hard_bounce > soft_bounce. A reason is
 *   only ever replaced by a stronger one, so a late delivery or soft bounce
 *   never weakens or clears a hard bounce or complaint. The same rank governs
 *   the suppression row (src/mail/suppressions.ts).
 * - Undetermined bounces (SES could not tell) count as transient: repeated
 *   ones unverify, one alone does not.
 * - Soft-bounce unverification also suppresses, like every automatic
 *   unverification: verification mail the user asks for still goes out, and a
 *   confirmed verification lifts it.
 * - A second event of the same kind for the same message and address (SES
 *   reports it through both identity notifications and event publishing) is a
 *   `repeat` and counts nothing.
 * - "stale": the event happened before the address was last verified (its
 *   timestamp < verified_at). The user proved the mailbox works since, so an
 *   old bounce or delivery changes nothing. Complaints are the exception.
 * - Only a verification sets verified=true; this machine only ever sets false.
 */

export const ADDRESS_EVENT_KINDS = [
  'hard_bounce',
  'soft_bounce',
  'undetermined_bounce',
  'complaint',
  'delivery',
  'send',
  'reject',
  'delivery_delay',
  'unknown',
] as const;
export type AddressEventKind = (typeof ADDRESS_EVENT_KINDS)[number];

export interface TransitionRule {
  /** The reason this event unverifies with, if any. */
  readonly unverify: UnverifyReason | null;
  /** Unverify only once transient_bounces (after this event) exceeds SOFT_BOUNCE_LIMIT. */
  readonly onlyOverSoftLimit: boolean;
  readonly transientBounces: 'increment' | 'reset' | 'keep';
  /** Whether the unverification also suppresses the address. */
  readonly suppress: boolean;
  /** A Delivery of the same message came first: the event is an auto-reply and counts nothing. */
  readonly outOfOfficeAfterDelivery: boolean;
  /** The event happened before the address was last verified: it counts nothing. */
  readonly staleBeforeVerification: boolean;
  /** Whether it touches the address at all (and so is locked, matched and remembered per message). */
  readonly touchesAddress: boolean;
  readonly ledger: LedgerEffect;
}

const NO_ADDRESS_EFFECT = {
  unverify: null,
  onlyOverSoftLimit: false,
  transientBounces: 'keep',
  suppress: false,
  outOfOfficeAfterDelivery: false,
  staleBeforeVerification: false,
  touchesAddress: false,
} as const;

const TRANSIENT = {
  unverify: 'soft_bounce',
  onlyOverSoftLimit: true,
  transientBounces: 'increment',
  suppress: true,
  outOfOfficeAfterDelivery: true,
  staleBeforeVerification: true,
  touchesAddress: true,
  // Records the bounce type on the ledger row (campaign show), not bounced_at: a transient bounce never pauses a campaign.
  ledger: 'transient_bounce',
} as const;

/** The transition table (see the table above; this is the one the code runs). */
export const TRANSITIONS: Readonly<Record<AddressEventKind, TransitionRule>> = {
  hard_bounce: {
    unverify: 'hard_bounce',
    onlyOverSoftLimit: false,
    transientBounces: 'keep',
    suppress: true,
    outOfOfficeAfterDelivery: false,
    staleBeforeVerification: true,
    touchesAddress: true,
    ledger: 'bounced',
  },
  soft_bounce: TRANSIENT,
  undetermined_bounce: TRANSIENT,
  complaint: {
    unverify: 'complaint',
    onlyOverSoftLimit: false,
    transientBounces: 'keep',
    suppress: true,
    outOfOfficeAfterDelivery: false,
    staleBeforeVerification: false,
    touchesAddress: true,
    ledger: 'complained',
  },
  delivery: {
    unverify: null,
    onlyOverSoftLimit: false,
    transientBounces: 'reset',
    suppress: false,
    outOfOfficeAfterDelivery: false,
    staleBeforeVerification: true,
    touchesAddress: true,
    ledger: 'delivered',
  },
  send: { ...NO_ADDRESS_EFFECT, ledger: 'sent' },
  reject: { ...NO_ADDRESS_EFFECT, ledger: 'failed' },
  delivery_delay: { ...NO_ADDRESS_EFFECT, ledger: null },
  unknown: { ...NO_ADDRESS_EFFECT, ledger: null },
};

/** Reason strength: a reason is only replaced by a stronger one. */
export const REASON_RANK: Readonly<Record<UnverifyReason, number>> = {
  soft_bounce: 1,
  hard_bounce: 2,
  manual: 3,
  complaint: 4,
};

export interface AddressState {
  readonly verified: boolean;
  readonly verifiedAt: Date | null;
  readonly reason: UnverifyReason | null;
  readonly transientBounces: number;
  /** The suppression in force (the model tracks it; the database keeps it in `suppressions`). */
  readonly suppression: SuppressionReason | null;
}

/**
 * What became of one event for one address. `superseded`: a transient bounce
 * that happened before the latest delivery to the address, which already
 * reset the count.
 */
export type AddressOutcome = 'applied' | 'repeat' | 'out_of_office' | 'superseded' | 'stale' | 'recorded';

/** One earlier event for the address, as remembered in ses_recipient_events. */
export interface HistoryEntry {
  readonly sesMessageId: string;
  readonly kind: AddressEventKind;
  readonly outcome: AddressOutcome;
  readonly occurredAt: Date | null;
}

export interface Decision {
  readonly outcome: AddressOutcome;
  readonly next: AddressState;
  /** Set when the address became unverified or its reason changed: write the audit row with it. */
  readonly unverifiedWith: UnverifyReason | null;
  /** Set when the address must be (or stay) suppressed with this reason. */
  readonly suppressWith: SuppressionReason | null;
}

export interface EventFacts {
  readonly kind: AddressEventKind;
  /** The SES message the event is about; null when SES did not say. */
  readonly sesMessageId: string | null;
  /** When SES says it happened (bounce/complaint/delivery timestamp); null when unknown. */
  readonly occurredAt: Date | null;
}

/** The stronger of two reasons (null is weakest). */
export function strongerReason<R extends UnverifyReason>(current: R | null, incoming: R): R {
  if (current === null) return incoming;
  return REASON_RANK[incoming] > REASON_RANK[current] ? incoming : current;
}

/** The suppression in force after `incoming`: the stronger (a stop the recipient asked for outranks bounces). */
function strongerSuppression(current: SuppressionReason | null, incoming: SuppressionReason): SuppressionReason {
  if (current === null) return incoming;
  return SUPPRESSION_RANK[incoming] > SUPPRESSION_RANK[current] ? incoming : current;
}

/**
 * Applies one event to one address, given the address's earlier events
 * (`history`). Transient bounces are counted by event time, not arrival:
 * the count is the number of transient bounces after the latest delivery
 * (bounces of a message that was delivered are out-of-office replies and never
 * count). So deliveries and bounces of different messages give the same count
 * in whatever order SNS delivers them (the counting is in bounce-count.ts).
 */
export function decide(state: AddressState, event: EventFacts, history: readonly HistoryEntry[], softBounceLimit: number): Decision {
  const rule = TRANSITIONS[event.kind];
  const unchanged = (outcome: AddressOutcome): Decision => ({ outcome, next: state, unverifiedWith: null, suppressWith: null });
  if (!rule.touchesAddress) return unchanged('recorded');
  const sameMessage = event.sesMessageId === null ? [] : history.filter((entry) => entry.sesMessageId === event.sesMessageId);
  if (sameMessage.some((entry) => entry.kind === event.kind)) return unchanged('repeat');
  if (rule.outOfOfficeAfterDelivery && sameMessage.some((entry) => entry.kind === 'delivery')) return unchanged('out_of_office');
  if (rule.staleBeforeVerification && isBefore(event.occurredAt, state.verifiedAt)) return unchanged('stale');

  const latestDelivery = latestAppliedDelivery(history);
  let transientBounces = state.transientBounces;
  let overLimitBeforeDelivery = false;
  if (rule.transientBounces === 'increment') {
    if (latestDelivery !== null && isBefore(event.occurredAt, latestDelivery, true)) {
      // A later delivery already reset the count, so this bounce adds nothing
      // to it. Had it arrived in order it would have counted between its two
      // deliveries; when that stretch now holds more than the limit, the
      // address would have been unverified then and kept the reason.
      if (bouncesInStretch(state, event, history) <= softBounceLimit) return unchanged('superseded');
      overLimitBeforeDelivery = true;
    } else {
      transientBounces += 1;
    }
  }
  if (rule.transientBounces === 'reset') transientBounces = countAfterDelivery(state, event, history, latestDelivery);

  const unverifies = rule.unverify !== null && (!rule.onlyOverSoftLimit || transientBounces > softBounceLimit || overLimitBeforeDelivery);
  if (!unverifies || rule.unverify === null) {
    return { outcome: 'applied', next: { ...state, transientBounces }, unverifiedWith: null, suppressWith: null };
  }
  const reason = strongerReason(state.reason, rule.unverify);
  const suppressWith = rule.suppress ? rule.unverify : null;
  const next: AddressState = {
    ...state,
    verified: false,
    reason,
    transientBounces,
    suppression: suppressWith === null ? state.suppression : strongerSuppression(state.suppression, suppressWith),
  };
  const changed = state.verified || state.reason !== reason;
  return { outcome: 'applied', next, unverifiedWith: changed ? reason : null, suppressWith };
}
