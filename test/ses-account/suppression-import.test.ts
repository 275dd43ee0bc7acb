import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suppressionsCommand } from '../../src/cli/commands/suppressions.js';
import { startSesAccountStandIn, type SesAccountStandIn } from '../../src/dev/ses-account-stand-in.js';
import { importSesSuppressions } from '../../src/ses-account/suppression-import.js';
import { insertPeople } from '../campaigns/helpers.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';
import { captureStdout } from '../helpers/stdout.js';

/**
 * `reverify suppressions import-ses`: SES's account-level suppression list,
 * read page by page from an SESv2-speaking stand-in, onto the suppressions
 * table of a real database.
 */
const env = useTestEnv();
let ses: SesAccountStandIn;
let open = true;

const listed = (EmailAddress: string, Reason: string, LastUpdateTime = new Date('2026-02-01T00:00:00Z')) => ({ EmailAddress, Reason, LastUpdateTime });

beforeAll(async () => {
  ses = await startSesAccountStandIn();
  track('SES account stand-in', () => open);
  await insertPeople(env.db, [
    { username: 'bounced', verified: true },
    { username: 'complainer', verified: true },
    { username: 'already', suppressed: 'hard_bounce', unverifyReason: 'hard_bounce' },
    { username: 'mixed-case', email: 'Mixed.Case@Example.com', verified: true },
    { username: 'verified-later', verified: true },
    { username: 'soft', suppressed: 'hard_bounce' },
  ]);
  // Verified after SES listed the address (2026-02-01): that bounce is stale.
  await env.db.updateTable('emails').set({ verified_at: new Date('2026-03-01T00:00:00Z') }).where('email', '=', 'verified-later@example.com').execute();
  ses.pageSize = 3;
  ses.suppressed = [
    listed('bounced@example.com', 'BOUNCE'),
    listed('complainer@example.com', 'COMPLAINT'),
    listed('already@example.com', 'BOUNCE'),
    listed('mixed.case@example.com', 'BOUNCE'),
    listed('nobody@example.com', 'BOUNCE'),
    listed('not an address', 'BOUNCE'),
    listed('bounced@example.com', 'BOUNCE'),
    listed('verified-later@example.com', 'BOUNCE'),
    listed('soft@example.com', 'COMPLAINT'),
    listed('complainer@example.com', 'SOMETHING_NEW'),
  ];
});
afterAll(async () => {
  await ses.stop();
  open = false;
});

/** What the import left of a user's address: verified state and suppression. */
async function state(username: string) {
  const { rows } = await sql<{ verified: boolean; unverifyReason: string | null; suppressed: string | null; sesReason: string | null }>`
    SELECT e.verified, e.unverify_reason AS "unverifyReason", s.reason AS suppressed, s.ses_reason AS "sesReason"
    FROM emails e JOIN users u ON u.id = e.user_id LEFT JOIN suppressions s ON s.email = lower(e.email)
    WHERE u.username = ${username}
  `.execute(env.db);
  return rows[0];
}

describe('suppressions import-ses', () => {
  it('--dry-run counts every page’s entries and changes nothing', async () => {
    const before = await env.db.selectFrom('suppressions').selectAll().orderBy('email').execute();
    const dry = env.app({ overrides: { SES_ENDPOINT: ses.endpoint } });
    const counted = await importSesSuppressions(dry, { dryRun: true });
    expect(counted).toEqual({
      seen: 10,
      added: 4,
      alreadySuppressed: 2,
      dryRun: true,
      unverified: 4,
      skipped: { malformed: 2, unknownAddress: 1, verifiedSince: 1 },
    });
    expect(ses.calls.listSuppressed).toBe(4);
    expect(await env.db.selectFrom('suppressions').selectAll().orderBy('email').execute()).toEqual(before);
    expect(await state('bounced')).toMatchObject({ verified: true, suppressed: null });
  });

  it('suppresses with SES’s reason, unverifies as the contract’s bounce and complaint rules say, and writes audit rows; --json gives the counts', async () => {
    Object.assign(process.env, env.env({ SES_ENDPOINT: ses.endpoint }));
    const { code, stdout } = await captureStdout(() => suppressionsCommand.run(['import-ses', '--json']));
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ seen: 10, added: 4, alreadySuppressed: 2, dryRun: false });

    expect(await state('bounced')).toEqual({ verified: false, unverifyReason: 'hard_bounce', suppressed: 'hard_bounce', sesReason: 'BOUNCE' });
    expect(await state('complainer')).toEqual({ verified: false, unverifyReason: 'complaint', suppressed: 'complaint', sesReason: 'COMPLAINT' });
    expect(await state('mixed-case')).toEqual({ verified: false, unverifyReason: 'hard_bounce', suppressed: 'hard_bounce', sesReason: 'BOUNCE' });
    // Already suppressed for the same reason: SES's word recorded, nothing else changes.
    expect(await state('already')).toEqual({ verified: false, unverifyReason: 'hard_bounce', suppressed: 'hard_bounce', sesReason: 'BOUNCE' });
    // A complaint outranks the hard bounce already there.
    expect(await state('soft')).toMatchObject({ unverifyReason: 'complaint', suppressed: 'complaint', sesReason: 'COMPLAINT' });
    // Verified after SES listed it: skipped, left verified and unsuppressed.
    expect(await state('verified-later')).toEqual({ verified: true, unverifyReason: null, suppressed: null, sesReason: null });
    expect(await env.db.selectFrom('suppressions').select('email').where('email', '=', 'nobody@example.com').execute()).toEqual([]);

    const audits = await env.db.selectFrom('audit_log').select(['action', 'reason', 'details']).where('actor', '=', 'ses-suppression-import').orderBy('id').execute();
    expect(audits).toHaveLength(4);
    expect(audits.map((audit) => (audit.details as { email: string }).email).sort()).toEqual(['bounced@example.com', 'complainer@example.com', 'mixed.case@example.com', 'soft@example.com']);
    expect(audits.find((audit) => (audit.details as { email: string }).email === 'complainer@example.com')).toMatchObject({
      action: 'email.unverified',
      reason: 'complaint',
      details: { sesReason: 'COMPLAINT', sesListedAt: '2026-02-01T00:00:00.000Z' },
    });
  });

  it('a second run adds nothing: everything it knows is already suppressed', async () => {
    const again = env.app({ overrides: { SES_ENDPOINT: ses.endpoint } });
    expect(await importSesSuppressions(again, { dryRun: false })).toMatchObject({ seen: 10, added: 0, alreadySuppressed: 6 });
    expect(await env.db.selectFrom('audit_log').select('id').where('actor', '=', 'ses-suppression-import').execute()).toHaveLength(4);
  });
});
