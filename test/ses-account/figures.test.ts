import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseQuotaReserve } from '../../src/config.js';
import { campaignQuotaLeft, effectiveSendRate, enforcementBlock, readAccountFigures, reservedMessages } from '../../src/ses-account/figures.js';

/** The pure rules of the SES account's limits: which answers are trusted, the rate, the quota left, the reserve setting. */
describe('SES account figures', () => {
  it('reads a GetAccount answer, and refuses missing or absurd figures naming each', () => {
    expect(readAccountFigures({ SendQuota: { MaxSendRate: 14, Max24HourSend: 50_000, SentLast24Hours: 120 }, EnforcementStatus: 'HEALTHY', SendingEnabled: true })).toEqual({
      figures: { maxSendRate: 14, max24HourSend: 50_000, sentLast24Hours: 120, enforcementStatus: 'HEALTHY', sendingEnabled: true },
    });
    // -1 is SES's "unlimited".
    expect(readAccountFigures({ SendQuota: { MaxSendRate: 14, Max24HourSend: -1, SentLast24Hours: 0 }, EnforcementStatus: 'HEALTHY' })).toMatchObject({ figures: { max24HourSend: Infinity } });
    expect(readAccountFigures({ SendQuota: { MaxSendRate: -1, Max24HourSend: 0, SentLast24Hours: -5 } })).toEqual({
      problems: [
        'SendQuota.MaxSendRate is -1, not a positive number',
        'SendQuota.Max24HourSend is 0, not a positive number',
        'SendQuota.SentLast24Hours is -5, not a number of at least 0',
        'EnforcementStatus is missing',
      ],
    });
    expect(readAccountFigures({})).toMatchObject({ problems: expect.arrayContaining(['SendQuota.MaxSendRate is missing, not a positive number']) });
  });

  it('clips the rate to the account’s, leaves the reserve and never goes below nothing', () => {
    expect(effectiveSendRate(50, { maxSendRate: 14 })).toBe(14);
    expect(effectiveSendRate(10, { maxSendRate: 14 })).toBe(10);
    expect(effectiveSendRate(10, null)).toBe(10);
    expect(reservedMessages({ share: 0.2 }, 50_001)).toBe(10_001);
    expect(reservedMessages({ messages: 500 }, 50_000)).toBe(500);
    expect(campaignQuotaLeft({ max24HourSend: 1000, sentLast24Hours: 300 }, { share: 0.2 }, 50)).toBe(450);
    expect(campaignQuotaLeft({ max24HourSend: 1000, sentLast24Hours: 900 }, { share: 0.2 }, 0)).toBe(0);
    expect(campaignQuotaLeft({ max24HourSend: Infinity, sentLast24Hours: 900 }, { share: 0.2 }, 0)).toBe(Infinity);
    expect(enforcementBlock('HEALTHY')).toBeNull();
    expect(enforcementBlock('SHUTDOWN')).toContain('SHUTDOWN');
  });

  it('takes SES_QUOTA_RESERVE as a share ("20%") or a number of messages, and names it when malformed', () => {
    expect(parseQuotaReserve('20%')).toEqual({ share: 0.2 });
    expect(parseQuotaReserve('0%')).toEqual({ share: 0 });
    expect(parseQuotaReserve('12.5 %')).toEqual({ share: 0.125 });
    expect(parseQuotaReserve('5000')).toEqual({ messages: 5000 });
    for (const bad of ['120%', '-5', 'lots', '0.2']) expect(parseQuotaReserve(bad)).toBeUndefined();
    const env = { DATABASE_URL: 'postgres://x@localhost/db' };
    expect(loadConfig(env).SES_QUOTA_RESERVE).toEqual({ share: 0.2 });
    expect(loadConfig(env).SES_SUPPRESSION_SYNC_CRON).toBe('30 4 * * *');
    const error = (() => {
      try {
        loadConfig({ ...env, SES_QUOTA_RESERVE: 'half', SES_SUPPRESSION_SYNC_CRON: 'daily' });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^SES_QUOTA_RESERVE must be a share of the 24-hour quota such as "20%"/),
      expect.stringMatching(/^SES_SUPPRESSION_SYNC_CRON must be a cron expression/),
    ]);
  });
});
