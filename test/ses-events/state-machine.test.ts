import { describe, expect, it } from 'vitest';
import {
  ADDRESS_EVENT_KINDS,
  decide,
  strongerReason,
  TRANSITIONS,
  type AddressEventKind,
  type AddressState,
  type HistoryEntry,
} from '../../src/ses-events/state-machine.js';

const LIMIT = 5;
const fresh: AddressState = { verified: false, verifiedAt: null, reason: null, transientBounces: 0, suppression: null };
const verified: AddressState = { ...fresh, verified: true, verifiedAt: new Date('2026-01-01T00:00:00Z') };
const base = Date.parse('2026-06-01T00:00:00Z');
/** Minute `n` after the base time. */
const minute = (n: number) => new Date(base + n * 60_000);

type Step = [kind: AddressEventKind, message: string, at: number];

/** Applies steps in the order given (arrival order), each with its own message and event time. */
function run(state: AddressState, ...steps: Step[]) {
  const history: HistoryEntry[] = [];
  const outcomes: string[] = [];
  for (const [kind, message, at] of steps) {
    const decision = decide(state, { kind, sesMessageId: message, occurredAt: minute(at) }, history, LIMIT);
    outcomes.push(decision.outcome);
    state = decision.next;
    if (decision.outcome !== 'repeat') history.push({ sesMessageId: message, kind, outcome: decision.outcome, occurredAt: minute(at) });
  }
  return { state, outcomes };
}

describe('the SES event state machine', () => {
  it('has a rule for every event kind (it is total)', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ADDRESS_EVENT_KINDS].sort());
    for (const kind of ADDRESS_EVENT_KINDS) {
      for (const start of [fresh, verified, { ...verified, reason: 'complaint' as const, verified: false }]) {
        for (const earlier of ADDRESS_EVENT_KINDS) {
          for (const occurredAt of [null, minute(0)]) {
            const history = [{ sesMessageId: 'm', kind: earlier, outcome: 'applied' as const, occurredAt }];
            expect(() => decide(start, { kind, sesMessageId: 'm', occurredAt }, history, LIMIT)).not.toThrow();
            expect(() => decide(start, { kind, sesMessageId: null, occurredAt }, history, LIMIT)).not.toThrow();
          }
        }
      }
    }
  });

  it('a permanent bounce unverifies with hard_bounce and suppresses', () => {
    const decision = decide(verified, { kind: 'hard_bounce', sesMessageId: 'm', occurredAt: minute(0) }, [], LIMIT);
    expect(decision).toMatchObject({ outcome: 'applied', unverifiedWith: 'hard_bounce', suppressWith: 'hard_bounce' });
    expect(decision.next).toMatchObject({ verified: false, reason: 'hard_bounce', suppression: 'hard_bounce' });
  });

  it('transient bounces unverify only above the limit', () => {
    const bounces: Step[] = Array.from({ length: LIMIT }, (_, i) => ['soft_bounce', `m${i}`, i]);
    const atLimit = run(verified, ...bounces);
    expect(atLimit.state).toMatchObject({ verified: true, transientBounces: LIMIT, reason: null, suppression: null });
    const over = run(verified, ...bounces, ['undetermined_bounce', 'last', LIMIT]);
    expect(over.state).toMatchObject({ verified: false, reason: 'soft_bounce', transientBounces: LIMIT + 1, suppression: 'soft_bounce' });
  });

  it('a transient bounce after a delivery of the same message is out of office, in either arrival order', () => {
    expect(run({ ...fresh, transientBounces: 3 }, ['delivery', 'm', 0], ['soft_bounce', 'm', 1])).toEqual({
      state: { ...fresh, transientBounces: 0 },
      outcomes: ['applied', 'out_of_office'],
    });
    expect(run(fresh, ['soft_bounce', 'm', 1], ['delivery', 'm', 0]).state.transientBounces).toBe(0);
    expect(run(fresh, ['delivery', 'm', 0], ['undetermined_bounce', 'm', 1]).outcomes).toEqual(['applied', 'out_of_office']);
  });

  it('a delivery resets the count to the bounces that happened after it, whatever the arrival order', () => {
    const steps: Step[] = [
      ['soft_bounce', 'a', 1],
      ['soft_bounce', 'b', 2],
      ['delivery', 'c', 3],
      ['soft_bounce', 'd', 4],
      ['delivery', 'e', 5],
      ['soft_bounce', 'f', 6],
      ['soft_bounce', 'g', 7],
    ];
    // Every rotation and the reverse order end with the two bounces after the last delivery.
    const orders = [steps, [...steps].reverse(), ...steps.map((_, i) => [...steps.slice(i), ...steps.slice(0, i)])];
    for (const order of orders) expect(run({ ...fresh, transientBounces: 2 }, ...order).state.transientBounces).toBe(2);
  });

  it('a bounce from before the latest delivery is superseded', () => {
    expect(run(fresh, ['delivery', 'a', 5], ['soft_bounce', 'b', 4]).outcomes).toEqual(['applied', 'superseded']);
  });

  it('more bounces than the limit before a delivery unverify in whatever order they and the delivery arrive', () => {
    // In order: the sixth bounce unverifies, the delivery after them resets the count and keeps the reason.
    const steps: Step[] = [1, 2, 3, 4, 5, 6].map((n): Step => ['soft_bounce', `b${n}`, n]);
    steps.push(['delivery', 'd', 10]);
    const orders = [steps, [...steps].reverse(), ...steps.map((_, i) => [...steps.slice(i), ...steps.slice(0, i)])];
    for (const order of orders) {
      expect(run(verified, ...order).state, order.map(([, message]) => message).join(' ')).toEqual({
        ...verified,
        verified: false,
        reason: 'soft_bounce',
        transientBounces: 0,
        suppression: 'soft_bounce',
      });
    }
  });

  it('as many bounces as the limit before a delivery, or more spread over two stretches, leave the address alone', () => {
    const atLimit: Step[] = [...[1, 2, 3, 4, 5].map((n): Step => ['soft_bounce', `b${n}`, n]), ['delivery', 'd', 10]];
    expect(run(verified, ...[...atLimit].reverse()).state).toEqual(verified);
    // Three, a delivery, three more (the delivery arriving first): no stretch holds six.
    const split: Step[] = [['delivery', 'd', 4], ...[1, 2, 3, 5, 6, 7].map((n): Step => ['undetermined_bounce', `b${n}`, n])];
    expect(run(verified, ...split).state).toEqual({ ...verified, transientBounces: 3 });
    // A delivered message's bounce is an out-of-office reply and never counts toward a stretch.
    const outOfOffice: Step[] = [['delivery', 'late', 10], ['delivery', 'b1', 0], ...[1, 2, 3, 4, 5, 6].map((n): Step => ['soft_bounce', `b${n}`, n])];
    expect(run(verified, ...outOfOffice).state).toEqual(verified);
  });

  it('a late, older delivery takes back only its own message’s bounce', () => {
    const result = run(fresh, ['delivery', 'a', 1], ['soft_bounce', 'b', 3], ['soft_bounce', 'c', 4], ['delivery', 'b', 2]);
    expect(result.state.transientBounces).toBe(1);
  });

  it('a delivery never verifies or clears a reason', () => {
    expect(run(verified, ['hard_bounce', 'm', 0], ['delivery', 'm', 1]).state).toMatchObject({ verified: false, reason: 'hard_bounce', suppression: 'hard_bounce' });
  });

  it('a complaint before its delivery still unverifies', () => {
    expect(run(verified, ['complaint', 'm', 1], ['delivery', 'm', 0]).state).toMatchObject({ verified: false, reason: 'complaint', suppression: 'complaint' });
  });

  it('the same event twice for one message counts once', () => {
    expect(run(fresh, ['soft_bounce', 'm', 0], ['soft_bounce', 'm', 0])).toEqual({ state: { ...fresh, transientBounces: 1 }, outcomes: ['applied', 'repeat'] });
  });

  it('reasons rank complaint > manual > hard_bounce > soft_bounce', () => {
    expect(strongerReason('soft_bounce', 'hard_bounce')).toBe('hard_bounce');
    expect(strongerReason('hard_bounce', 'soft_bounce')).toBe('hard_bounce');
    expect(strongerReason('complaint', 'hard_bounce')).toBe('complaint');
    expect(strongerReason('manual', 'hard_bounce')).toBe('manual');
    expect(strongerReason('manual', 'complaint')).toBe('complaint');
    const later = run(verified, ['complaint', 'a', 0], ['hard_bounce', 'b', 1]);
    expect(later.state.reason).toBe('complaint');
  });

  it('an event from before the last verification is stale, except a complaint', () => {
    const before = new Date('2025-12-31T00:00:00Z');
    for (const kind of ['hard_bounce', 'soft_bounce', 'undetermined_bounce', 'delivery'] as const) {
      expect(decide({ ...verified, transientBounces: 2 }, { kind, sesMessageId: 'm', occurredAt: before }, [], LIMIT)).toMatchObject({
        outcome: 'stale',
        next: { ...verified, transientBounces: 2 },
      });
    }
    expect(decide(verified, { kind: 'complaint', sesMessageId: 'm', occurredAt: before }, [], LIMIT).next.reason).toBe('complaint');
  });

  it('send, reject, delivery delay and unknown events change no address', () => {
    for (const kind of ['send', 'reject', 'delivery_delay', 'unknown'] as const) {
      expect(decide({ ...verified, transientBounces: 2 }, { kind, sesMessageId: 'm', occurredAt: minute(0) }, [], LIMIT)).toMatchObject({
        outcome: 'recorded',
        next: { ...verified, transientBounces: 2 },
        unverifiedWith: null,
      });
    }
  });

  it('asks for an audit row only when the address becomes unverified or its reason changes', () => {
    const bounced = run(fresh, ['hard_bounce', 'a', 0]).state;
    expect(decide(bounced, { kind: 'hard_bounce', sesMessageId: 'b', occurredAt: minute(1) }, [], LIMIT).unverifiedWith).toBeNull();
    expect(decide(fresh, { kind: 'hard_bounce', sesMessageId: 'b', occurredAt: minute(1) }, [], LIMIT).unverifiedWith).toBe('hard_bounce');
  });
});
