import { MessageRejected, SendingPausedException, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { budgetTargetByNow, countTicks, projectedDays, projectedFinish, tickAllowance, utcDay } from '../../src/campaigns/budget.js';
import { reputationBreach } from '../../src/campaigns/reputation.js';
import { canTransition } from '../../src/campaigns/state.js';
import { classifySesError } from '../../src/mail/ses-client.js';

describe('daily budget', () => {
  it('counts cron ticks in a range, both ends included', () => {
    expect(countTicks('0 */6 * * *', new Date('2026-03-01T00:00:00Z'), new Date('2026-03-01T23:59:59.999Z'))).toBe(4);
    expect(countTicks('0 */6 * * *', new Date('2026-03-01T00:00:00Z'), new Date('2026-03-01T06:00:00Z'))).toBe(2);
    expect(countTicks('* * * * *', new Date('2026-03-01T23:00:00Z'), new Date('2026-03-01T23:59:59Z'))).toBe(60);
  });

  it('counts the same ticks as walking the cron instant by instant, for every kind of schedule and range', () => {
    // The walk is the definition; countTicks computes it from the cron's fields.
    const walked = (schedule: string, from: Date, to: Date) => {
      const cron = CronExpressionParser.parse(schedule, { currentDate: new Date(from.getTime() - 1), tz: 'UTC' });
      let ticks = 0;
      while (cron.next().getTime() <= to.getTime()) ticks += 1;
      return ticks;
    };
    const schedules = ['*/2 * * * * *', '15,45 */7 * * * *', '* * * * *', '*/5 9-17 * * 1-5', '0 * * * *', '30 0 1 * *', '0 12 * * 0', '0 6 13 * 5', '0 0 L * *', '0 9 * * 1#2'];
    // Ranges inside one day (whole, from the middle, the very ends) and across days and a month end.
    const ranges = [
      ['2026-03-02T00:00:00Z', '2026-03-02T23:59:59.999Z'],
      ['2026-03-02T10:17:23.456Z', '2026-03-02T23:59:59.999Z'],
      ['2026-03-02T10:17:23.456Z', '2026-03-02T10:17:23.456Z'],
      ['2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z'],
      ['2026-03-02T23:59:58.001Z', '2026-03-03T00:00:01Z'],
      ['2026-02-27T13:00:00Z', '2026-03-02T12:00:00.5Z'],
      ['2026-03-13T05:59:59.999Z', '2026-03-13T06:00:00Z'],
      ['2026-03-09T00:00:00Z', '2026-03-09T23:59:59.999Z'],
    ].map(([from, to]) => [new Date(from!), new Date(to!)] as const);
    for (const schedule of schedules) {
      for (const [from, to] of ranges) {
        expect([schedule, from.toISOString(), countTicks(schedule, from, to)]).toEqual([schedule, from.toISOString(), walked(schedule, from, to)]);
      }
    }
  });

  it('counts the 43,200 ticks of a two-second schedule’s day and the 86,400 of an every-second one', () => {
    const day = [new Date('2026-03-02T00:00:00Z'), new Date('2026-03-02T23:59:59.999Z')] as const;
    expect(countTicks('*/2 * * * * *', ...day)).toBe(43_200);
    expect(countTicks('* * * * * *', ...day)).toBe(86_400);
  });

  it('targets the share of the day’s budget whose ticks have come, so a repeated or late tick spends nothing extra', () => {
    const startsAt = new Date('2026-02-01T00:00:00Z');
    const at = (iso: string) => budgetTargetByNow('0 */6 * * *', 5, startsAt, new Date(iso));
    expect([at('2026-03-01T00:00:01Z'), at('2026-03-01T00:00:09Z'), at('2026-03-01T06:00:01Z'), at('2026-03-01T12:00:01Z'), at('2026-03-01T18:00:01Z')]).toEqual([2, 2, 3, 4, 5]);
    expect(budgetTargetByNow('0 * * * *', 200, startsAt, new Date('2026-03-01T23:00:00Z'))).toBe(200);
    expect(budgetTargetByNow('0 * * * *', 200, startsAt, new Date('2026-03-01T00:00:00Z'))).toBe(9);
    // Starting mid-day off the cron: the start tick plus the 13 hourly ticks left share the day.
    expect(budgetTargetByNow('0 * * * *', 140, new Date('2026-03-01T10:30:00Z'), new Date('2026-03-01T10:30:00Z'))).toBe(10);
    expect(tickAllowance(5, 4)).toBe(1);
    expect(tickAllowance(5, 7)).toBe(0);
  });

  it('projects 195 days for 38,824 people at 200 a day', () => {
    expect(projectedDays(38_824, 200)).toBe(195);
    expect(projectedFinish(38_824, 200, new Date('2026-01-01T08:00:00Z'))).toBe('2026-07-14');
    expect(projectedFinish(0, 200, new Date('2026-01-01T08:00:00Z'))).toBeNull();
    expect(utcDay(new Date('2026-01-01T23:59:59.999Z'))).toBe('2026-01-01');
  });
});

describe('campaign states', () => {
  it.each([
    ['draft', 'scheduled', true],
    ['scheduled', 'running', true],
    ['running', 'paused', true],
    ['paused', 'running', true],
    ['running', 'completed', true],
    ['paused', 'cancelled', true],
    ['completed', 'running', false],
    ['cancelled', 'running', false],
    ['draft', 'running', false],
    ['paused', 'completed', false],
  ] as const)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });
});

describe('reputation guard thresholds', () => {
  const config = { REPUTATION_MIN_SAMPLE: 200, REPUTATION_MAX_BOUNCE_RATE: 0.05, REPUTATION_MAX_COMPLAINT_RATE: 0.001 };
  it('waits for the minimum sample, then pauses above either rate and says why with the figures', () => {
    expect(reputationBreach({ sent: 199, bounced: 100, complained: 100 }, config)).toBeNull();
    expect(reputationBreach({ sent: 200, bounced: 10, complained: 0 }, config)).toBeNull();
    expect(reputationBreach({ sent: 200, bounced: 11, complained: 0 }, config)).toBe(
      'bounce rate 5.5% (11 of 200 sent) is above REPUTATION_MAX_BOUNCE_RATE 5%',
    );
    expect(reputationBreach({ sent: 1000, bounced: 0, complained: 1 }, config)).toBeNull();
    expect(reputationBreach({ sent: 1000, bounced: 0, complained: 2 }, config)).toBe(
      'complaint rate 0.2% (2 of 1000 sent) is above REPUTATION_MAX_COMPLAINT_RATE 0.1%',
    );
  });
});

describe('SES error classes', () => {
  it('sorts errors into throttled, rejected, account_paused and transient', () => {
    const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode }, message: 'x' });
    expect(classifySesError(new TooManyRequestsException(meta(429)))).toBe('throttled');
    expect(classifySesError(new MessageRejected(meta(400)))).toBe('rejected');
    expect(classifySesError(new SendingPausedException(meta(400)))).toBe('account_paused');
    expect(classifySesError(Object.assign(new Error('boom'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } }))).toBe('transient');
    expect(classifySesError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
  });
});
