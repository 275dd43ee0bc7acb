import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { checkSendPolicy, decideSendPolicy, SQL_MAIL_KIND, type MailKind } from '../../src/mail/send-policy.js';
import { useTestEnv } from '../helpers/env.js';
import { POLICY_TABLE } from './policy-table.js';

/**
 * reverify_may_send(email_id, kind), the policy the site calls for its own
 * mail, against every row of the policy table and against the TypeScript
 * policy on every combination of the facts it reads.
 */

const env = useTestEnv();
let serial = 0;

type OtherAddress = 'none' | 'complained' | 'stopped';

interface Case {
  isPrimary: boolean;
  verified: boolean;
  suppression: string | null;
  other: OtherAddress;
}

/** A user whose address is as `c` says; returns the address's id. */
async function addressFor(c: Case): Promise<string> {
  serial += 1;
  const user = await env.db.insertInto('users').values({ username: `policy-${serial}` }).returning('id').executeTakeFirstOrThrow();
  const email = `policy-${serial}@example.org`;
  const target = await env.db
    .insertInto('emails')
    .values({ user_id: user.id, email, is_primary: c.isPrimary, verified: c.verified })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (c.suppression !== null) {
    await sql`INSERT INTO suppressions (email, reason) VALUES (${email}, ${c.suppression})`.execute(env.db);
  }
  if (c.other !== 'none') {
    const otherEmail = `policy-${serial}-other@example.org`;
    await env.db
      .insertInto('emails')
      .values({ user_id: user.id, email: otherEmail, unverify_reason: c.other === 'complained' ? 'complaint' : null })
      .execute();
    if (c.other === 'stopped') await sql`INSERT INTO suppressions (email, reason) VALUES (${otherEmail}, 'recipient_request')`.execute(env.db);
  }
  return target.id;
}

async function maySend(emailId: string, kind: string): Promise<string> {
  const { rows } = await sql<{ reason: string | null }>`SELECT reverify_may_send(${emailId}::bigint, ${kind}) AS reason`.execute(env.db);
  return rows[0]!.reason ?? 'send';
}

describe('reverify_may_send', () => {
  // A row whose other address complained is checked twice: with a complaint and with a stop on that other address.
  const rows = POLICY_TABLE.flatMap(([kind, isPrimary, verified, suppression, expected, userComplained = false]) =>
    (userComplained ? (['complained', 'stopped'] as const) : (['none'] as const)).map(
      (other) => [kind, isPrimary, verified, suppression, other, expected] as const,
    ),
  );

  it.each(rows)('%s to primary=%s verified=%s suppressed=%s other address=%s → %s', async (kind, isPrimary, verified, suppression, other, expected) => {
    const emailId = await addressFor({ isPrimary, verified, suppression, other });
    expect(await maySend(emailId, SQL_MAIL_KIND[kind])).toBe(expected);
    const viaReverify = await checkSendPolicy(env.db, { emailId, kind });
    expect(viaReverify.allowed ? 'send' : viaReverify.reason).toBe(expected);
  });

  it('agrees with the TypeScript policy on every combination of kind, primary, verified, suppression and other addresses', async () => {
    const kinds: MailKind[] = ['campaign', 'user_request', 'notice'];
    const suppressions = [null, 'hard_bounce', 'soft_bounce', 'manual', 'complaint', 'recipient_request'];
    const others: OtherAddress[] = ['none', 'complained', 'stopped'];
    const disagreements: string[] = [];
    let compared = 0;
    for (const isPrimary of [true, false]) {
      for (const verified of [true, false]) {
        for (const suppression of suppressions) {
          for (const other of others) {
            const emailId = await addressFor({ isPrimary, verified, suppression, other });
            for (const kind of kinds) {
              const decision = decideSendPolicy({ kind, isPrimary, verified, suppression, userComplained: other !== 'none' });
              const expected = decision.allowed ? 'send' : decision.reason;
              const actual = await maySend(emailId, SQL_MAIL_KIND[kind]);
              compared += 1;
              if (actual !== expected) disagreements.push(`${kind} primary=${isPrimary} verified=${verified} suppression=${suppression} other=${other}: SQL ${actual}, TS ${expected}`);
            }
          }
        }
      }
    }
    expect(compared).toBe(2 * 2 * 6 * 3 * 3);
    expect(disagreements).toEqual([]);
  });

  it('answers address_gone for an address that does not exist, and refuses an unknown kind by name', async () => {
    expect(await maySend('987654321', 'other')).toBe('address_gone');
    const emailId = await addressFor({ isPrimary: true, verified: true, suppression: null, other: 'none' });
    await expect(maySend(emailId, 'newsletter')).rejects.toThrow(/unknown kind 'newsletter'.*verification_user_requested, verification_campaign or other/);
  });

  it('matches the address case-insensitively against the suppression list', async () => {
    serial += 1;
    const user = await env.db.insertInto('users').values({ username: `policy-case-${serial}` }).returning('id').executeTakeFirstOrThrow();
    const address = await env.db
      .insertInto('emails')
      .values({ user_id: user.id, email: `Mixed.Case-${serial}@Example.org`, is_primary: true, verified: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sql`INSERT INTO suppressions (email, reason) VALUES (${`mixed.case-${serial}@example.org`}, 'hard_bounce')`.execute(env.db);
    expect(await maySend(address.id, 'other')).toBe('suppressed_hard_bounce');
    expect(await maySend(address.id, 'verification_campaign')).toBe('send');
  });
});
