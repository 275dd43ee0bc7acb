import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.js';
import { PROFILES } from '../../src/seed/profiles.js';
import { seedDatabase } from '../../src/seed/seed.js';
import { useTestEnv } from '../helpers/env.js';

const run = promisify(execFile);
const first = useTestEnv();
const second = useTestEnv();
const profile = PROFILES['pypi-2018']!;
const now = new Date('2026-01-15T12:00:00Z');

/** A digest of every row the seed writes, to compare two databases. */
async function digest(db: Db): Promise<Record<string, string>> {
  const tables = {
    users: 'SELECT id, username, is_temporary, is_active, created_at, expired_at FROM users ORDER BY id',
    emails: 'SELECT id, user_id, email, is_primary, verified, verified_at, unverify_reason, created_at FROM emails ORDER BY id',
    roles: 'SELECT user_id, project_name, role_name FROM roles ORDER BY user_id, project_name',
    sessions: 'SELECT user_id, created_at, expires_at, revoked_at FROM sessions ORDER BY user_id, created_at',
    api_tokens: 'SELECT user_id, name, created_at FROM api_tokens ORDER BY user_id, name',
  };
  const out: Record<string, string> = {};
  for (const [table, query] of Object.entries(tables)) {
    const result = await sql<{ md5: string }>`SELECT md5(string_agg(t::text, '|')) AS md5 FROM (${sql.raw(query)}) t`.execute(db);
    out[table] = result.rows[0]!.md5;
  }
  return out;
}

describe('seed', () => {
  it('writes the pypi-2018 ratios exactly', async () => {
    const users = 23_213; // a tenth of the 2018 population
    const counts = await seedDatabase(first.db, { users, temporaryAccounts: 500, profile, seed: 7, now });
    expect(counts.users).toBe(users);
    expect(counts.verifiedPrimaries).toBe(Math.round((users * 45_702) / 232_131));
    expect(counts.unverifiedPrimaries).toBe(users - counts.verifiedPrimaries);
    expect(counts.unverifiedRoleHolders).toBe(Math.round((users * 38_824) / 232_131));
    expect(counts.temporaryAccounts).toBe(500);
    // Every temporary account has sessions and tokens; the other shares land near their targets.
    expect(counts.sessions).toBeGreaterThanOrEqual(500);
    expect(counts.apiTokens).toBeGreaterThanOrEqual(500);
    expect(counts.withUnverifyReason / counts.unverifiedPrimaries).toBeCloseTo(profile.unverifyReasonShare, 2);
    expect(counts.verifiedSecondaries / users).toBeCloseTo(profile.verifiedSecondaryShare, 2);
    expect(counts.inactiveUsers / users).toBeCloseTo(profile.inactiveShare, 2);

    // The database agrees with what the seed reports.
    const check = await sql<{ unverified_role_holders: string; primaries: string; temp_span_days: string }>`
      SELECT
        (SELECT count(*) FROM users u JOIN emails e ON e.user_id = u.id AND e.is_primary
          WHERE NOT e.verified AND NOT u.is_temporary AND EXISTS (SELECT 1 FROM roles r WHERE r.user_id = u.id)) AS unverified_role_holders,
        (SELECT count(*) FROM emails WHERE is_primary) AS primaries,
        (SELECT extract(epoch FROM max(created_at) - min(created_at)) / 86400 FROM users WHERE is_temporary) AS temp_span_days`.execute(first.db);
    expect(Number(check.rows[0]!.unverified_role_holders)).toBe(counts.unverifiedRoleHolders);
    expect(Number(check.rows[0]!.primaries)).toBe(users);
    expect(Number(check.rows[0]!.temp_span_days)).toBeGreaterThan(380);
    expect(Number(check.rows[0]!.temp_span_days)).toBeLessThanOrEqual(400);
  });

  it('leaves every index the migrations made in place', async () => {
    const indexes = async (db: Db) =>
      (await sql<{ indexdef: string }>`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`.execute(db)).rows.map(
        (r) => r.indexdef,
      );
    expect(await indexes(first.db)).toEqual(await indexes(second.db)); // second is not seeded yet
    expect((await indexes(first.db)).join('\n')).toMatch(/emails_email_lower_key[\s\S]*lower\(email\)/);
  });

  it('gives the same rows for the same seed and now', async () => {
    await seedDatabase(second.db, { users: 23_213, temporaryAccounts: 500, profile, seed: 7, now });
    expect(await digest(second.db)).toEqual(await digest(first.db));
  });

  it('refuses to seed the same seed twice into one database', async () => {
    await expect(seedDatabase(first.db, { users: 10, temporaryAccounts: 0, profile, seed: 7, now })).rejects.toThrow(
      /already holds users seeded with --seed 7/,
    );
  });

  it('prints counts as JSON from the command line and rejects bad flags', async () => {
    const { stdout } = await run('node', ['bin/reverify.mjs', 'seed', '--users', '200', '--seed', '99', '--json'], { env: { ...process.env, ...first.env() } });
    expect(JSON.parse(stdout)).toMatchObject({ users: 200, verifiedPrimaries: Math.round((200 * 45_702) / 232_131) });

    const bad = await run('node', ['bin/reverify.mjs', 'seed', '--users', 'many'], { env: { ...process.env, ...first.env() } }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--users must be a whole number/);
    const unknown = await run('node', ['bin/reverify.mjs', 'seed', '--users', '5', '--profile', 'warehouse'], { env: { ...process.env, ...first.env() } }).catch((e) => e);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--profile must be one of: pypi-2018/);
  });
});
