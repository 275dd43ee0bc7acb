import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';

const valid = { DATABASE_URL: 'postgres://reverify:s3cret@db.internal:5432/reverify', MAIL_FROM: 'Site <noreply@example.org>' };

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: '{reverify}',
      SNS_MAX_AGE_SECONDS: 3600,
      SOFT_BOUNCE_LIMIT: 5,
      VERIFY_TOKEN_TTL_HOURS: 168,
      TEMP_ACCOUNT_TTL_DAYS: 365,
      TEMP_ACCOUNT_REMINDER_DAYS: 10,
      SWEEP_CRON: '0 3 * * *',
      SNS_TOPIC_ARNS: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names a malformed DATABASE_URL and a missing MAIL_FROM in one message', () => {
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: 'mysql://nope' }, ['MAIL_FROM']);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/DATABASE_URL must be a URL starting with postgres:\/\//);
    expect(message).toMatch(/MAIL_FROM is missing/);
    expect((error as ConfigError).problems).toHaveLength(2);
  });

  it('reports every malformed number, cron and ARN at once', () => {
    expect(() =>
      loadConfig({
        ...valid,
        SES_MAX_SEND_RATE: 'fast',
        SWEEP_CRON: 'every night',
        SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-events,not-an-arn',
        QUEUE_PREFIX: 'reverify',
        PORT: '99999',
      }),
    ).toThrowError(/SES_MAX_SEND_RATE[\s\S]*QUEUE_PREFIX[\s\S]*SNS_TOPIC_ARNS[\s\S]*SWEEP_CRON[\s\S]*PORT|SES_MAX_SEND_RATE/);
    try {
      loadConfig({ ...valid, SES_MAX_SEND_RATE: 'fast', SWEEP_CRON: 'every night', SNS_TOPIC_ARNS: 'x', QUEUE_PREFIX: 'q', PORT: '99999' });
    } catch (error) {
      const names = (error as ConfigError).problems.map((p) => p.split(' ')[0]).sort();
      expect(names).toEqual(['PORT', 'QUEUE_PREFIX', 'SES_MAX_SEND_RATE', 'SNS_TOPIC_ARNS', 'SWEEP_CRON']);
    }
  });

  it('takes QUEUE_BACKEND redis (the default) or postgres, and names the choices otherwise', () => {
    expect(loadConfig(valid).QUEUE_BACKEND).toBe('redis');
    expect(loadConfig({ ...valid, QUEUE_BACKEND: 'postgres' }).QUEUE_BACKEND).toBe('postgres');
    expect(() => loadConfig({ ...valid, QUEUE_BACKEND: 'sqs' })).toThrowError(/QUEUE_BACKEND must be redis or postgres/);
    expect(() => loadConfig({ ...valid, QUEUE_DATABASE_URL: 'redis://x' })).toThrowError(/QUEUE_DATABASE_URL must be a URL starting with postgres:\/\//);
  });

  it('refuses a reminder period as long as the TTL', () => {
    expect(() => loadConfig({ ...valid, TEMP_ACCOUNT_TTL_DAYS: '10', TEMP_ACCOUNT_REMINDER_DAYS: '10' })).toThrowError(
      /TEMP_ACCOUNT_REMINDER_DAYS must be smaller than TEMP_ACCOUNT_TTL_DAYS/,
    );
  });

  it('never echoes secret values in its errors or its loggable form', () => {
    try {
      loadConfig({ DATABASE_URL: 'postgres://u:hunter2@x/db', ADMIN_PASSWORD: 'hunter2', PORT: 'hunter2' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    const safe = JSON.stringify(
      describeConfig(loadConfig({ ...valid, ADMIN_PASSWORD: 'hunter2', REDIS_URL: 'redis://:hunter2@r:6379', QUEUE_DATABASE_URL: 'postgres://q:hunter2@q/queues' })),
    );
    expect(safe).not.toContain('hunter2');
    expect(safe).not.toContain('s3cret');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...valid, PORT: '' }).PORT).toBe(3000);
  });
});
