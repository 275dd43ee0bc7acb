import { describe, expect, it } from 'vitest';
import { decideSendPolicy } from '../../src/mail/send-policy.js';
import { POLICY_TABLE } from '../mail/policy-table.js';

describe('send policy', () => {
  it.each(POLICY_TABLE)('%s to primary=%s verified=%s suppressed=%s → %s (other address complained: %s)', (kind, isPrimary, verified, suppression, expected, userComplained = false) => {
    const decision = decideSendPolicy({ kind, isPrimary, verified, suppression, userComplained });
    expect(decision.allowed ? 'send' : decision.reason).toBe(expected);
  });
});
