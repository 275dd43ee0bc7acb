import { describe, expect, it } from 'vitest';
import { sendLimiter } from '../../src/queue/worker.js';

describe('sendLimiter', () => {
  it.each([0.5, 1, 14, 50, 200, 1000])('never lets more than %s messages a second through on average', (rate) => {
    const { max, duration } = sendLimiter({ SES_MAX_SEND_RATE: rate });
    expect((max * 1000) / duration).toBeLessThanOrEqual(rate);
    // ...and stays within 2% of the quota, so a campaign is not slowed for nothing.
    expect((max * 1000) / duration).toBeGreaterThanOrEqual(rate * 0.98);
  });

  it('releases one message per window, so no sliding second exceeds the quota', () => {
    for (const rate of [1, 14, 49, 50, 100, 200]) expect(sendLimiter({ SES_MAX_SEND_RATE: rate }).max).toBe(1);
  });
});
