import { describe, expect, it } from 'vitest';
import { decideSendPolicy, type MailKind } from '../../src/mail/send-policy.js';

type Row = [kind: MailKind, isPrimary: boolean, verified: boolean, suppression: string | null, expected: string, userComplained?: boolean];

// expected: 'send' or the reason it is refused.
const table: Row[] = [
  ['campaign', true, false, null, 'send'],
  ['campaign', true, true, null, 'send'],
  ['campaign', false, false, null, 'not_primary_address'],
  ['campaign', true, false, 'hard_bounce', 'send'],
  ['campaign', true, false, 'complaint', 'suppressed_complaint'],
  ['user_request', true, false, null, 'send'],
  ['user_request', true, false, 'complaint', 'send'],
  ['user_request', true, false, 'manual', 'send'],
  ['user_request', false, true, null, 'not_primary_address'],
  ['notice', true, true, null, 'send'],
  ['notice', true, false, null, 'unverified_address'],
  ['notice', true, true, 'hard_bounce', 'suppressed_hard_bounce'],
  ['notice', true, true, 'soft_bounce', 'suppressed_soft_bounce'],
  ['notice', true, true, 'complaint', 'suppressed_complaint'],
  ['notice', false, true, null, 'not_primary_address'],
  // Another address of the same person complained: only the verification they ask for goes out.
  ['campaign', true, false, null, 'user_complained', true],
  ['notice', true, true, null, 'user_complained', true],
  ['user_request', true, false, null, 'send', true],
];

describe('send policy', () => {
  it.each(table)('%s to primary=%s verified=%s suppressed=%s → %s (other address complained: %s)', (kind, isPrimary, verified, suppression, expected, userComplained = false) => {
    const decision = decideSendPolicy({ kind, isPrimary, verified, suppression, userComplained });
    expect(decision.allowed ? 'send' : decision.reason).toBe(expected);
  });
});
