import { describe, expect, it } from 'vitest';
import { MAX_SEND_BATCH, sendBatchSize } from '../../src/campaigns/enqueue.js';
import { SEND_SLOTS } from '../../src/campaigns/send-slots.js';
import { sendJobConcurrency, sendLimiter } from '../../src/queue/worker.js';

/** Messages a second the limiter lets through at most: one job of `sendBatchSize` rows per window. */
function messagesPerSecond(rate: number): number {
  const { max, duration } = sendLimiter({ SES_MAX_SEND_RATE: rate });
  return (max * sendBatchSize({ SES_MAX_SEND_RATE: rate }) * 1000) / duration;
}

describe('sendLimiter', () => {
  it.each([0.5, 1, 14, 50, 75, 130, 200, 799, 1000, 1600])('never lets more than %s messages a second through on average', (rate) => {
    expect(messagesPerSecond(rate)).toBeLessThanOrEqual(rate);
    // ...and stays within 5% of the quota, so a campaign is not slowed for nothing.
    expect(messagesPerSecond(rate)).toBeGreaterThanOrEqual(rate * 0.95);
  });

  it('above 1,600 a second the whole-millisecond windows cost more of the quota, never exceeding it', () => {
    expect(messagesPerSecond(5000)).toBeLessThanOrEqual(5000);
    expect(messagesPerSecond(5000)).toBeGreaterThanOrEqual(5000 * 0.8);
  });

  it('releases one job per window, so no sliding second holds more jobs than the quota has windows', () => {
    for (const rate of [1, 14, 49, 50, 100, 200, 1000]) expect(sendLimiter({ SES_MAX_SEND_RATE: rate }).max).toBe(1);
  });
});

describe('sendBatchSize', () => {
  it('sends one row per job up to 50 a second, then as many rows as fit a 20 ms window, at most 16', () => {
    expect([1, 14, 50, 99, 100, 400, 800, 10_000].map((rate) => sendBatchSize({ SES_MAX_SEND_RATE: rate }))).toEqual([1, 1, 1, 1, 2, 8, 16, 16]);
    expect(MAX_SEND_BATCH).toBe(16);
  });

  it('keeps every job within 10–40 ms up to 800 a second', () => {
    for (const rate of [60, 100, 333, 800]) {
      const { duration } = sendLimiter({ SES_MAX_SEND_RATE: rate });
      expect(duration).toBeGreaterThanOrEqual(10);
      expect(duration).toBeLessThan(41);
    }
  });

  it('runs enough jobs at once to keep SEND_SLOTS sends in flight', () => {
    for (const rate of [14, 50, 100, 400, 800, 10_000]) {
      const concurrency = sendJobConcurrency({ SES_MAX_SEND_RATE: rate });
      expect(concurrency * sendBatchSize({ SES_MAX_SEND_RATE: rate })).toBeGreaterThanOrEqual(SEND_SLOTS);
    }
    expect(sendJobConcurrency({ SES_MAX_SEND_RATE: 14 })).toBe(SEND_SLOTS);
  });
});
