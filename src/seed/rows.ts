import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { SeedProfile } from './profiles.js';

/** What one seed run writes and where its ids start; every step reads it. */
export interface SeedPlan {
  /** Regular users to write. */
  users: number;
  /** Temporary accounts to write. */
  temporaryAccounts: number;
  profile: SeedProfile;
  seed: number;
  now: Date;
  /** Prefix of every seeded username: `s<seed>`. */
  tag: string;
  /** Users whose primary address is verified: the first ranks of the shuffle. */
  verified: number;
  /** Unverified users holding a role: the ranks right after the verified. */
  unverifiedRole: number;
  /** Highest users.id before the run; seeded ids follow it. */
  userBase: number;
  /** Highest emails.id before the run. */
  emailBase: number;
}

/** A profile share as a threshold on the 0..9999 hashes of the plan. */
function perTenThousand(share: number): number {
  return Math.round(share * 10000);
}

/**
 * Writes every seeded row, table by table, each with one set-based statement.
 * Leaves the temp table seed_plan (dropped at commit) for the counts.
 */
export async function writeRows(trx: Transaction<Database>, plan: SeedPlan): Promise<void> {
  await planUsers(trx, plan);
  await insertUsers(trx, plan);
  await insertPrimaryEmails(trx, plan);
  await insertSecondaryEmails(trx, plan);
  await insertRoles(trx, plan);
  if (plan.temporaryAccounts > 0) await writeTemporaryAccounts(trx, plan);
}

/** seed_plan: one row per user with its id, its rank in a seeded shuffle (which decides its category) and three seeded hashes. */
async function planUsers(trx: Transaction<Database>, { users: n, seed, userBase }: SeedPlan): Promise<void> {
  await sql`
    CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
    SELECT i,
           ${userBase}::bigint + i AS user_id,
           (row_number() OVER (ORDER BY hashtextextended(i::text, ${seed}), i) - 1) AS rank,
           (abs(hashtextextended(i::text, ${seed} + 1)) % 10000)::int AS h1,
           (abs(hashtextextended(i::text, ${seed} + 2)) % 10000)::int AS h2,
           (abs(hashtextextended(i::text, ${seed} + 3)) % 10000)::int AS h3
    FROM generate_series(1, ${n}::bigint) AS i`.execute(trx);
}

async function insertUsers(trx: Transaction<Database>, { tag, profile, now, seed }: SeedPlan): Promise<void> {
  await sql`
    INSERT INTO users (id, username, is_temporary, is_active, created_at)
    SELECT user_id, ${tag} || '-user-' || lpad(i::text, 9, '0'), false, h1 >= ${perTenThousand(profile.inactiveShare)},
           ${now}::timestamptz - make_interval(secs => (abs(hashtextextended(i::text, ${seed} + 4)) % (13 * 365 * 86400))::double precision)
    FROM seed_plan`.execute(trx);
}

async function insertPrimaryEmails(trx: Transaction<Database>, { tag, profile, now, verified, emailBase }: SeedPlan): Promise<void> {
  await sql`
    INSERT INTO emails (id, user_id, email, is_primary, verified, verified_at, unverify_reason, created_at)
    SELECT ${emailBase}::bigint + i, user_id, ${tag} || '-user-' || lpad(i::text, 9, '0') || '@example.' || (ARRAY['org', 'com', 'net'])[1 + h3 % 3],
           true,
           rank < ${verified},
           CASE WHEN rank < ${verified} THEN ${now}::timestamptz - make_interval(days => (h2 % 3000)::int) END,
           CASE WHEN rank >= ${verified} AND h2 < ${perTenThousand(profile.unverifyReasonShare)}
                THEN (ARRAY['hard_bounce', 'hard_bounce', 'soft_bounce', 'complaint', 'manual'])[1 + h3 % 5] END,
           ${now}::timestamptz - make_interval(days => (h2 % 4000)::int)
    FROM seed_plan`.execute(trx);
}

async function insertSecondaryEmails(trx: Transaction<Database>, { users: n, tag, profile, now, emailBase }: SeedPlan): Promise<void> {
  await sql`
    INSERT INTO emails (id, user_id, email, is_primary, verified, verified_at, created_at)
    SELECT ${emailBase + n}::bigint + i, user_id, ${tag} || '-user-' || lpad(i::text, 9, '0') || '-alt@example.com', false, true,
           ${now}::timestamptz - make_interval(days => (h1 % 1000)::int), ${now}::timestamptz - make_interval(days => (h1 % 2000)::int)
    FROM seed_plan
    WHERE h3 < ${perTenThousand(profile.verifiedSecondaryShare)}`.execute(trx);
}

/** Role holders: the whole unverified-role band of the shuffle, and a share of the verified. */
async function insertRoles(trx: Transaction<Database>, { users: n, tag, profile, verified, unverifiedRole }: SeedPlan): Promise<void> {
  await sql`
    INSERT INTO roles (user_id, project_name, role_name)
    SELECT p.user_id, ${tag} || '-project-' || ((p.i * 7 + k) % greatest(${n}::bigint / 3, 1)),
           CASE WHEN k = 0 THEN 'Owner' ELSE 'Maintainer' END
    FROM seed_plan p, generate_series(0, p.h1 % 3) AS k
    WHERE (p.rank >= ${verified} AND p.rank < ${verified + unverifiedRole})
       OR (p.rank < ${verified} AND p.h2 < ${perTenThousand(profile.verifiedRoleHolderShare)})`.execute(trx);
}

/** Temporary accounts created over the last 400 days, each with sessions and API tokens; their ids follow the regular users'. */
async function writeTemporaryAccounts(trx: Transaction<Database>, plan: SeedPlan): Promise<void> {
  const { users: n, temporaryAccounts: m, tag, seed, now, userBase } = plan;
  await sql`
    CREATE TEMP TABLE seed_temp ON COMMIT DROP AS
    SELECT j, ${userBase + n}::bigint + j AS user_id,
           ${now}::timestamptz - make_interval(secs => (abs(hashtextextended(j::text, ${seed} + 5)) % (400 * 86400))::double precision) AS created_at,
           (abs(hashtextextended(j::text, ${seed} + 6)) % 100)::int AS h
    FROM generate_series(1, ${m}::bigint) AS j`.execute(trx);
  await sql`
    INSERT INTO users (id, username, is_temporary, created_at)
    SELECT user_id, ${tag} || '-temp-' || lpad(j::text, 9, '0'), true, created_at FROM seed_temp`.execute(trx);
  await sql`
    INSERT INTO sessions (user_id, created_at, expires_at, revoked_at)
    SELECT t.user_id, t.created_at + make_interval(days => k), t.created_at + make_interval(days => k + 30),
           CASE WHEN t.h < 10 AND k = 1 THEN t.created_at + make_interval(days => k + 1) END
    FROM seed_temp t, generate_series(1, 1 + t.h % 3) AS k`.execute(trx);
  await sql`
    INSERT INTO api_tokens (user_id, name, created_at)
    SELECT t.user_id, 'token-' || k, t.created_at + make_interval(days => k)
    FROM seed_temp t, generate_series(1, 1 + t.h % 2) AS k`.execute(trx);
}
