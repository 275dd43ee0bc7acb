import { describe, expect, it } from 'vitest';
import { ADDRESS_EVENT_KINDS, decide, strongerReason, TRANSITIONS, type AddressEventKind, type AddressState } from '../../src/ses-events/state-machine.js';

const LIMIT = 5;
const fresh: AddressState = { verified: false, verifiedAt: null, reason: null, transientBounces: 0, suppression: null };
const verified: AddressState = { ...fresh, verified: true, verifiedAt: new Date('2026-01-01T00:00:00Z') };
const now = new Date('2026-06-01T00:00:00Z');

function run(state: AddressState, ...kinds: AddressEventKind[]) {
  const seen = new Set<AddressEventKind>();
  const outcomes: string[] = [];
  for (const kind of kinds) {
    const decision = decide(state, { kind, occurredAt: now }, seen, LIMIT);
    outcomes.push(decision.outcome);
    state = decision.next;
    seen.add(kind);
  }
  return { state, outcomes };
}

describe('the SES event state machine', () => {
  it('has a rule for every event kind (it is total)', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ADDRESS_EVENT_KINDS].sort());
    for (const kind of ADDRESS_EVENT_KINDS) {
      for (const start of [fresh, verified, { ...verified, reason: 'complaint' as const, verified: false }]) {
        for (const earlier of ADDRESS_EVENT_KINDS) {
          expect(() => decide(start, { kind, occurredAt: null }, new Set([earlier]), LIMIT)).not.toThrow();
        }
      }
    }
  });

  it('a permanent bounce unverifies with hard_bounce and suppresses', () => {
    const decision = decide(verified, { kind: 'hard_bounce', occurredAt: now }, new Set(), LIMIT);
    expect(decision).toMatchObject({ outcome: 'applied', unverifiedWith: 'hard_bounce', suppressWith: 'hard_bounce' });
    expect(decision.next).toMatchObject({ verified: false, reason: 'hard_bounce', suppression: 'hard_bounce' });
  });

  it('transient bounces unverify only above the limit', () => {
    let state = verified;
    for (let i = 1; i <= LIMIT; i += 1) {
      const decision = decide(state, { kind: 'soft_bounce', occurredAt: now }, new Set(), LIMIT);
      expect(decision.unverifiedWith).toBeNull();
      state = decision.next;
    }
    expect(state).toMatchObject({ verified: true, transientBounces: LIMIT, reason: null });
    const over = decide(state, { kind: 'soft_bounce', occurredAt: now }, new Set(), LIMIT);
    expect(over).toMatchObject({ unverifiedWith: 'soft_bounce', suppressWith: 'soft_bounce' });
    expect(over.next).toMatchObject({ verified: false, reason: 'soft_bounce', transientBounces: LIMIT + 1 });
  });

  it('a transient bounce after a delivery of the same message is out of office', () => {
    expect(run({ ...fresh, transientBounces: 3 }, 'delivery', 'soft_bounce')).toEqual({
      state: { ...fresh, transientBounces: 0 },
      outcomes: ['applied', 'out_of_office'],
    });
    expect(run(fresh, 'delivery', 'undetermined_bounce').outcomes).toEqual(['applied', 'out_of_office']);
  });

  it('a delivery resets the count but never verifies or clears a reason', () => {
    expect(run({ ...fresh, transientBounces: 4 }, 'delivery').state.transientBounces).toBe(0);
    expect(run(verified, 'hard_bounce', 'delivery').state).toMatchObject({ verified: false, reason: 'hard_bounce', suppression: 'hard_bounce' });
  });

  it('a complaint before its delivery still unverifies', () => {
    expect(run(verified, 'complaint', 'delivery').state).toMatchObject({ verified: false, reason: 'complaint', suppression: 'complaint' });
  });

  it('the same event twice for one message counts once', () => {
    expect(run(fresh, 'soft_bounce', 'soft_bounce')).toEqual({ state: { ...fresh, transientBounces: 1 }, outcomes: ['applied', 'repeat'] });
  });

  it('reasons rank complaint > manual > hard_bounce > soft_bounce', () => {
    expect(strongerReason('soft_bounce', 'hard_bounce')).toBe('hard_bounce');
    expect(strongerReason('hard_bounce', 'soft_bounce')).toBe('hard_bounce');
    expect(strongerReason('complaint', 'hard_bounce')).toBe('complaint');
    expect(strongerReason('manual', 'hard_bounce')).toBe('manual');
    expect(strongerReason('manual', 'complaint')).toBe('complaint');
    expect(run({ ...fresh, transientBounces: LIMIT }, 'complaint').state.reason).toBe('complaint');
    const complained = run(verified, 'complaint').state;
    const later = decide(complained, { kind: 'hard_bounce', occurredAt: now }, new Set(), LIMIT);
    expect(later.next.reason).toBe('complaint');
    expect(later.unverifiedWith).toBeNull();
  });

  it('an event from before the last verification is stale, except a complaint', () => {
    const before = new Date('2025-12-31T00:00:00Z');
    for (const kind of ['hard_bounce', 'soft_bounce', 'undetermined_bounce', 'delivery'] as const) {
      expect(decide({ ...verified, transientBounces: 2 }, { kind, occurredAt: before }, new Set(), LIMIT)).toMatchObject({
        outcome: 'stale',
        next: { ...verified, transientBounces: 2 },
      });
    }
    expect(decide(verified, { kind: 'complaint', occurredAt: before }, new Set(), LIMIT).next.reason).toBe('complaint');
  });

  it('send, reject, delivery delay and unknown events change no address', () => {
    for (const kind of ['send', 'reject', 'delivery_delay', 'unknown'] as const) {
      expect(decide({ ...verified, transientBounces: 2 }, { kind, occurredAt: now }, new Set(), LIMIT)).toMatchObject({
        outcome: 'recorded',
        next: { ...verified, transientBounces: 2 },
        unverifiedWith: null,
      });
    }
  });

  it('asks for an audit row only when the address becomes unverified or its reason changes', () => {
    const bounced = run(fresh, 'hard_bounce').state;
    expect(decide(bounced, { kind: 'hard_bounce', occurredAt: now }, new Set(), LIMIT).unverifiedWith).toBeNull();
    expect(decide(fresh, { kind: 'hard_bounce', occurredAt: now }, new Set(), LIMIT).unverifiedWith).toBe('hard_bounce');
  });
});
