import { describe, expect, it } from 'vitest';
import {
  MAX_CLAIMED_ROWS,
  MAX_SEND_BATCH,
  SEND_PACE_SLACK,
  SEND_SLOTS,
  sendBatchSize,
  sendIntervalMs,
  sendJobConcurrency,
  sendLimiter,
  sendWindowMs,
} from '../../src/pace/pace.js';

/** Messages a second the limiter lets through at most: one job of `sendBatchSize` rows per window. */
function messagesPerSecond(rate: number): number {
  const { max, duration } = sendLimiter({ SES_MAX_SEND_RATE: rate });
  return (max * sendBatchSize({ SES_MAX_SEND_RATE: rate }) * 1000) / duration;
}

describe('sendLimiter', () => {
  it.each([0.5, 1, 14, 19, 49, 50, 75, 130, 200, 799, 1000, 1600])('never lets more than %s messages a second through on average', (rate) => {
    expect(messagesPerSecond(rate)).toBeLessThanOrEqual(rate);
    // ...and stays within 5% of the quota, so a campaign is not slowed for nothing.
    expect(messagesPerSecond(rate)).toBeGreaterThanOrEqual(rate * 0.95);
  });

  it('above 1,600 a second the whole-millisecond windows cost more of the quota, never exceeding it', () => {
    expect(messagesPerSecond(5000)).toBeLessThanOrEqual(5000);
    expect(messagesPerSecond(5000)).toBeGreaterThanOrEqual(5000 * 0.8);
  });

  it('releases one job per window', () => {
    for (const rate of [1, 14, 49, 50, 100, 200, 1000]) expect(sendLimiter({ SES_MAX_SEND_RATE: rate }).max).toBe(1);
  });

  it('lets jobs out at the pace the send gate lets their rows out (to the millisecond), up to 400 a second', () => {
    // BullMQ's ~1 ms between windows then keeps jobs a little slower than the
    // gate: claimed rows rarely wait behind another job's (and are lost as
    // unknown outcomes if the process dies), and the quota is not left unused.
    for (const rate of [1, 14, 19, 20, 49, 50, 75, 100, 160, 200, 400]) {
      const config = { SES_MAX_SEND_RATE: rate };
      expect(Math.abs(sendWindowMs(config) - sendBatchSize(config) * sendIntervalMs(config))).toBeLessThanOrEqual(0.5);
    }
  });
});

describe('sendIntervalMs', () => {
  it('spaces sends 3% wider than the rate, so a send up to 30 ms late cannot push a sliding second over it', () => {
    expect(SEND_PACE_SLACK).toBe(1.03);
    expect(sendIntervalMs({ SES_MAX_SEND_RATE: 50 })).toBeCloseTo(20.6, 10);
    expect(sendIntervalMs({ SES_MAX_SEND_RATE: 14 })).toBeCloseTo(1030 / 14, 10);
    // rate + 1 sends span `rate` intervals: 30 ms more than a second, room for 30 ms of lateness.
    for (const rate of [14, 50, 1000]) expect(rate * sendIntervalMs({ SES_MAX_SEND_RATE: rate }) - 1000).toBeCloseTo(30, 6);
  });
});

describe('sendBatchSize', () => {
  it('sends one row per job below 20 a second, then as many rows as fit a 100 ms window, at most 16', () => {
    expect([1, 14, 19, 20, 50, 99, 160, 800, 10_000].map((rate) => sendBatchSize({ SES_MAX_SEND_RATE: rate }))).toEqual([1, 1, 1, 2, 5, 9, 16, 16, 16]);
    expect(MAX_SEND_BATCH).toBe(16);
  });

  it('keeps every job within 80–110 ms from 10 to 160 a second (one message’s interval below that)', () => {
    for (const rate of [10, 20, 33, 50, 75, 100, 160]) {
      const { duration } = sendLimiter({ SES_MAX_SEND_RATE: rate });
      expect(duration).toBeGreaterThanOrEqual(80);
      expect(duration).toBeLessThanOrEqual(110);
    }
    expect(sendLimiter({ SES_MAX_SEND_RATE: 1 }).duration).toBe(1030);
  });

  it('runs enough jobs at once to keep SEND_SLOTS sends in flight', () => {
    for (const rate of [14, 50, 100, 400, 800, 10_000]) {
      const concurrency = sendJobConcurrency({ SES_MAX_SEND_RATE: rate });
      expect(concurrency * sendBatchSize({ SES_MAX_SEND_RATE: rate })).toBeGreaterThanOrEqual(SEND_SLOTS);
    }
    expect(sendJobConcurrency({ SES_MAX_SEND_RATE: 14 })).toBe(SEND_SLOTS);
  });

  it('never holds more than 80 rows in one process, whatever the rate', () => {
    expect(MAX_CLAIMED_ROWS).toBe(80);
    for (let rate = 1; rate <= 200; rate += 1) {
      const config = { SES_MAX_SEND_RATE: rate };
      expect(sendJobConcurrency(config) * sendBatchSize(config)).toBeLessThanOrEqual(MAX_CLAIMED_ROWS);
    }
    // 15 rows a job: five jobs, not six; 16 rows: five.
    expect(sendJobConcurrency({ SES_MAX_SEND_RATE: 150 })).toBe(5);
    expect(sendJobConcurrency({ SES_MAX_SEND_RATE: 10_000 })).toBe(5);
  });
});
