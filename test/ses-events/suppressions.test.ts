import { describe, expect, it } from 'vitest';
import { isSuppressed, liftSuppression, suppressAddress } from '../../src/mail/suppressions.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();

describe('the suppression list', () => {
  it('answers case-insensitively, keeps the stronger reason, and lifts', async () => {
    expect(await isSuppressed(env.db, 'Someone@Example.NET')).toBeNull();
    expect(await suppressAddress(env.db, 'Someone@Example.NET', 'soft_bounce', null)).toBe('soft_bounce');
    expect(await isSuppressed(env.db, 'someone@example.net')).toEqual({ reason: 'soft_bounce' });
    expect(await suppressAddress(env.db, 'someone@example.net', 'complaint', null)).toBe('complaint');
    expect(await suppressAddress(env.db, 'SOMEONE@example.net', 'hard_bounce', null)).toBe('complaint');
    expect(await isSuppressed(env.db, 'SOMEONE@EXAMPLE.NET')).toEqual({ reason: 'complaint' });
    expect(await liftSuppression(env.db, 'Someone@example.net')).toBe(true);
    expect(await isSuppressed(env.db, 'someone@example.net')).toBeNull();
    expect(await liftSuppression(env.db, 'someone@example.net')).toBe(false);
  });

  it('lets an operator decision (manual) stand against bounces but not against a complaint', async () => {
    await suppressAddress(env.db, 'op@example.net', 'manual', null);
    expect(await suppressAddress(env.db, 'op@example.net', 'hard_bounce', null)).toBe('manual');
    expect(await suppressAddress(env.db, 'op@example.net', 'complaint', null)).toBe('complaint');
  });
});
