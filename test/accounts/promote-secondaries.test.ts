import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { promoteVerifiedSecondaries } from '../../src/accounts/promote-secondaries.js';
import { segmentBreakdown } from '../../src/campaigns/eligibility/segment.js';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';

const env = useTestEnv();
const now = new Date('2026-04-01T09:00:00Z');

interface AddressSpec {
  primary?: boolean;
  verifiedAt?: string | null;
  unverifyReason?: 'complaint' | 'hard_bounce';
  suppressed?: 'complaint' | 'recipient_request' | 'hard_bounce' | 'manual';
}

/** A user with `addresses` (name-0@…, name-1@…); returns the user id and address ids in order. */
async function person(name: string, addresses: AddressSpec[], user: { active?: boolean; temporary?: boolean; role?: boolean } = {}) {
  const { id } = await env.db
    .insertInto('users')
    .values({ username: name, is_active: user.active ?? true, is_temporary: user.temporary ?? false })
    .returning('id')
    .executeTakeFirstOrThrow();
  const ids: string[] = [];
  for (const [i, spec] of addresses.entries()) {
    const email = `${name}-${i}@example.org`;
    const row = await env.db
      .insertInto('emails')
      .values({
        user_id: id,
        email,
        is_primary: spec.primary ?? false,
        verified: Boolean(spec.verifiedAt),
        verified_at: spec.verifiedAt ? new Date(spec.verifiedAt) : null,
        unverify_reason: spec.unverifyReason ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(row.id);
    if (spec.suppressed) await sql`INSERT INTO suppressions (email, reason) VALUES (${email}, ${spec.suppressed})`.execute(env.db);
  }
  if (user.role) await env.db.insertInto('roles').values({ user_id: id, project_name: `${name}-project`, role_name: 'Owner' }).execute();
  return { userId: id, emailIds: ids };
}

async function primaryOf(userId: string): Promise<string[]> {
  const rows = await env.db.selectFrom('emails').select('id').where('user_id', '=', userId).where('is_primary', '=', true).execute();
  return rows.map((row) => row.id);
}

async function everything() {
  const emails = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM emails t ORDER BY id`.execute(env.db);
  const notices = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM account_notices t ORDER BY id`.execute(env.db);
  const audit = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM audit_log t ORDER BY id`.execute(env.db);
  return { emails: emails.rows, notices: notices.rows, audit: audit.rows };
}

async function clear() {
  await sql`TRUNCATE users, emails, roles, account_notices, audit_log, suppressions RESTART IDENTITY CASCADE`.execute(env.db);
}

describe('promote-verified-secondaries', () => {
  it('promotes the most recently verified secondary, keeps one primary, writes the audit and the notice, and skips every trap', async () => {
    await clear();
    const two = await person('two-secondaries', [{ primary: true }, { verifiedAt: '2024-01-01T00:00:00Z' }, { verifiedAt: '2025-06-01T00:00:00Z' }, { verifiedAt: null }]);
    const complainedElsewhere = await person('complaint-elsewhere', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }, { unverifyReason: 'complaint' }]);
    const stopped = await person('stopped', [{ primary: true, suppressed: 'recipient_request' }, { verifiedAt: '2025-01-01T00:00:00Z' }]);
    const complaintSuppressed = await person('complaint-suppressed', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z', suppressed: 'complaint' }]);
    const temporary = await person('temporary', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }], { temporary: true });
    const inactive = await person('inactive', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }], { active: false });
    // Not candidates at all: the only verified secondary is suppressed; the primary is verified; no secondary.
    const bouncedSecondary = await person('bounced-secondary', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z', suppressed: 'hard_bounce' }]);
    const verifiedPrimary = await person('verified-primary', [{ primary: true, verifiedAt: '2023-01-01T00:00:00Z' }, { verifiedAt: '2025-01-01T00:00:00Z' }]);

    const summary = await promoteVerifiedSecondaries(env.db, { dryRun: false, now });
    // complaint-suppressed is no candidate at all: its only verified secondary is on the suppression list.
    expect(summary).toEqual({ promoted: 1, skipped: { complained_or_stopped: 2, temporary: 1, inactive: 1 }, dryRun: false });

    expect(await primaryOf(two.userId)).toEqual([two.emailIds[2]]);
    for (const untouched of [complainedElsewhere, stopped, complaintSuppressed, temporary, inactive, bouncedSecondary, verifiedPrimary]) {
      expect(await primaryOf(untouched.userId)).toEqual([untouched.emailIds[0]]);
    }
    const notices = await env.db.selectFrom('account_notices').select(['user_id', 'kind', 'created_at', 'dismissed_at']).execute();
    expect(notices).toEqual([{ user_id: two.userId, kind: 'primary_email_promoted', created_at: now, dismissed_at: null }]);
    const audit = await env.db.selectFrom('audit_log').select(['action', 'user_id', 'email_id', 'details']).execute();
    expect(audit).toEqual([
      {
        action: 'email.primary_promoted',
        user_id: two.userId,
        email_id: two.emailIds[2],
        details: { previousPrimaryEmailId: two.emailIds[0], newPrimaryEmailId: two.emailIds[2] },
      },
    ]);
  });

  it('is idempotent: a second run promotes no one again and writes nothing', async () => {
    const before = await everything();
    const again = await promoteVerifiedSecondaries(env.db, { dryRun: false, now: new Date(now.getTime() + 60_000) });
    expect(again.promoted).toBe(0);
    expect(again.skipped).toEqual({ complained_or_stopped: 2, temporary: 1, inactive: 1 });
    expect(await everything()).toEqual(before);
  });

  it('with --dry-run counts the same people and changes nothing', async () => {
    await clear();
    for (let i = 0; i < 3; i += 1) await person(`dry-${i}`, [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }]);
    await person('dry-temp', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }], { temporary: true });
    const before = await everything();
    expect(await promoteVerifiedSecondaries(env.db, { dryRun: true, now })).toEqual({ promoted: 3, skipped: { temporary: 1 }, dryRun: true });
    expect(await everything()).toEqual(before);
    expect((await promoteVerifiedSecondaries(env.db, { dryRun: false, now })).promoted).toBe(3);
  });

  it('leaves a primary the site changes meanwhile as the site made it', async () => {
    await clear();
    const racing = await person('racing', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }, { verifiedAt: '2025-02-01T00:00:00Z' }]);
    // The site is changing the primary: it holds the user's address rows.
    const site = await env.db.connection().execute(async (connection) => {
      await sql`BEGIN`.execute(connection);
      await sql`SELECT id FROM emails WHERE user_id = ${racing.userId} FOR UPDATE`.execute(connection);
      const promoting = promoteVerifiedSecondaries(env.db, { dryRun: false, now });
      await waitForLockWait();
      // The site makes the older verified address the primary, then commits.
      await sql`UPDATE emails SET is_primary = false WHERE id = ${racing.emailIds[0]}`.execute(connection);
      await sql`UPDATE emails SET is_primary = true WHERE id = ${racing.emailIds[1]}`.execute(connection);
      await sql`COMMIT`.execute(connection);
      return promoting;
    });
    expect(site).toEqual({ promoted: 0, skipped: { changed_meanwhile: 1 }, dryRun: false });
    expect(await primaryOf(racing.userId)).toEqual([racing.emailIds[1]]);
    expect(await env.db.selectFrom('account_notices').selectAll().execute()).toEqual([]);
  });

  it('campaign preview counts the eligible who have a verified secondary, and they leave the segment once promoted', async () => {
    await clear();
    await person('promotable', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }], { role: true });
    await person('plain', [{ primary: true }], { role: true });
    expect(await segmentBreakdown(env.db, null)).toEqual({ eligible: 2, excluded: { has_verified_secondary: 1 } });
    await promoteVerifiedSecondaries(env.db, { dryRun: false, now });
    expect(await segmentBreakdown(env.db, null)).toEqual({ eligible: 1, excluded: { verified: 1 } });
  });

  it('runs from the command line with --dry-run --json', async () => {
    await clear();
    await person('cli', [{ primary: true }, { verifiedAt: '2025-01-01T00:00:00Z' }]);
    const dry = await reverify(['emails', 'promote-verified-secondaries', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ promoted: 1, skipped: {}, dryRun: true });
    const real = await reverify(['emails', 'promote-verified-secondaries', '--json']);
    expect(JSON.parse(real.stdout)).toEqual({ promoted: 1, skipped: {}, dryRun: false });
    const bad = await reverify(['emails', 'promote-everyone']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown action "promote-everyone"/);
    // Three cold starts of the CLI (tsx compiling the sources) on a loaded machine.
  }, 120_000);
});

async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(env.db);
    if (Number(rows[0]!.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the promotion never waited for the site’s lock');
}

function reverify(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/reverify.mjs', ...args], { env: { PATH: process.env.PATH ?? '', ...env.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    track(`reverify ${args.join(' ')}`, () => !exited);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      exited = true;
      resolve({ code, stdout, stderr });
    });
  });
}
