import type { MailKind } from '../../src/mail/send-policy.js';

/**
 * The send policy's table: one row a case, read by the TypeScript policy's
 * test (test/campaigns/send-policy.test.ts) and by the SQL function's
 * (test/mail/may-send-function.test.ts), so both are held to the same rows.
 * expected: 'send' or the reason the message is refused.
 */
export type PolicyRow = [kind: MailKind, isPrimary: boolean, verified: boolean, suppression: string | null, expected: string, userComplained?: boolean];

export const POLICY_TABLE: readonly PolicyRow[] = [
  ['campaign', true, false, null, 'send'],
  ['campaign', true, true, null, 'send'],
  ['campaign', false, false, null, 'not_primary_address'],
  ['campaign', true, false, 'hard_bounce', 'send'],
  ['campaign', true, false, 'complaint', 'suppressed_complaint'],
  ['campaign', true, false, 'recipient_request', 'suppressed_recipient_request'],
  ['campaign', true, true, 'recipient_request', 'suppressed_recipient_request'],
  ['user_request', true, false, null, 'send'],
  ['user_request', true, false, 'complaint', 'send'],
  ['user_request', true, false, 'manual', 'send'],
  // The person who pressed stop may still ask for a link themselves.
  ['user_request', true, false, 'recipient_request', 'send'],
  ['user_request', false, true, null, 'not_primary_address'],
  ['notice', true, true, null, 'send'],
  ['notice', true, false, null, 'unverified_address'],
  ['notice', true, true, 'hard_bounce', 'suppressed_hard_bounce'],
  ['notice', true, true, 'soft_bounce', 'suppressed_soft_bounce'],
  ['notice', true, true, 'manual', 'suppressed_manual'],
  ['notice', true, true, 'complaint', 'suppressed_complaint'],
  ['notice', true, true, 'recipient_request', 'suppressed_recipient_request'],
  ['notice', false, true, null, 'not_primary_address'],
  // Another address of the same person complained or was stopped: only the verification they ask for goes out.
  ['campaign', true, false, null, 'user_complained', true],
  ['notice', true, true, null, 'user_complained', true],
  ['user_request', true, false, null, 'send', true],
];
