import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { Db } from '../db/connect.js';
import { withSecondaryIndexesRebuilt } from './bulk-indexes.js';
import type { SeedProfile } from './profiles.js';

export interface SeedOptions {
  users: number;
  temporaryAccounts: number;
  profile: SeedProfile;
  seed: number;
  /** The instant creation times are spread back from. */
  now: Date;
}

export interface SeedCounts {
  users: number;
  verifiedPrimaries: number;
  unverifiedPrimaries: number;
  unverifiedRoleHolders: number;
  withUnverifyReason: number;
  verifiedSecondaries: number;
  inactiveUsers: number;
  roles: number;
  temporaryAccounts: number;
  sessions: number;
  apiTokens: number;
}

/**
 * Writes a synthetic population at the profile's ratios with set-based SQL
 * (generate_series, one statement per table), so a million users take seconds.
 * Every choice comes from hashtextextended(i, seed): the same --seed and --now
 * give the same rows. Categories are assigned by rank in a seeded shuffle, so
 * the counts match the ratios exactly rather than approximately.
 */
export async function seedDatabase(db: Db, options: SeedOptions): Promise<SeedCounts> {
  const { users: n, temporaryAccounts: m, profile, seed, now } = options;
  const verified = Math.round(n * profile.verifiedShare);
  const unverifiedRole = Math.round(n * profile.unverifiedRoleHolderShare);
  const tag = `s${seed}`;

  return db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE users, emails, roles, sessions, api_tokens IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
    // Foreign-key checks are per-row triggers and dominate a million-row insert.
    // The rows below reference only rows written in the same statement order,
    // so when the role may (a superuser, as in dev and tests) they are skipped.
    await skipTriggersIfAllowed(trx);
    await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(trx);
    await sql`SET LOCAL work_mem = '64MB'`.execute(trx);
    const clash = await sql<{ n: string }>`
      SELECT count(*) AS n FROM users WHERE username IN (${`${tag}-user-000000001`}, ${`${tag}-temp-000000001`})`.execute(trx);
    if (Number(clash.rows[0]?.n ?? 0) > 0) {
      throw new Error(`this database already holds users seeded with --seed ${seed}; seed an empty database or pick another --seed`);
    }
    const base = await sql<{ users: string; emails: string }>`
      SELECT (SELECT coalesce(max(id), 0) FROM users) AS users, (SELECT coalesce(max(id), 0) FROM emails) AS emails`.execute(trx);
    const userBase = Number(base.rows[0]?.users ?? 0);
    const emailBase = Number(base.rows[0]?.emails ?? 0);

    // On a (nearly) empty database, rebuilding indexes after the load is far
    // cheaper than maintaining them; on a big one, adding to them is.
    const rebuild = userBase < n;
    const tables = ['users', 'emails', 'roles', 'sessions', 'api_tokens'];
    const writeRows = async () => {
      // rank = position of user i in a seeded shuffle; it decides the category.
      await sql`
        CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
        SELECT i,
               ${userBase}::bigint + i AS user_id,
               (row_number() OVER (ORDER BY hashtextextended(i::text, ${seed}), i) - 1) AS rank,
               (abs(hashtextextended(i::text, ${seed} + 1)) % 10000)::int AS h1,
               (abs(hashtextextended(i::text, ${seed} + 2)) % 10000)::int AS h2,
               (abs(hashtextextended(i::text, ${seed} + 3)) % 10000)::int AS h3
        FROM generate_series(1, ${n}::bigint) AS i`.execute(trx);

      await sql`
        INSERT INTO users (id, username, is_temporary, is_active, created_at)
        SELECT user_id, ${tag} || '-user-' || lpad(i::text, 9, '0'), false, h1 >= ${Math.round(profile.inactiveShare * 10000)},
               ${now}::timestamptz - make_interval(secs => (abs(hashtextextended(i::text, ${seed} + 4)) % (13 * 365 * 86400))::double precision)
        FROM seed_plan`.execute(trx);

      await sql`
        INSERT INTO emails (id, user_id, email, is_primary, verified, verified_at, unverify_reason, created_at)
        SELECT ${emailBase}::bigint + i, user_id, ${tag} || '-user-' || lpad(i::text, 9, '0') || '@example.' || (ARRAY['org', 'com', 'net'])[1 + h3 % 3],
               true,
               rank < ${verified},
               CASE WHEN rank < ${verified} THEN ${now}::timestamptz - make_interval(days => (h2 % 3000)::int) END,
               CASE WHEN rank >= ${verified} AND h2 < ${Math.round(profile.unverifyReasonShare * 10000)}
                    THEN (ARRAY['hard_bounce', 'hard_bounce', 'soft_bounce', 'complaint', 'manual'])[1 + h3 % 5] END,
               ${now}::timestamptz - make_interval(days => (h2 % 4000)::int)
        FROM seed_plan`.execute(trx);

      await sql`
        INSERT INTO emails (id, user_id, email, is_primary, verified, verified_at, created_at)
        SELECT ${emailBase + n}::bigint + i, user_id, ${tag} || '-user-' || lpad(i::text, 9, '0') || '-alt@example.com', false, true,
               ${now}::timestamptz - make_interval(days => (h1 % 1000)::int), ${now}::timestamptz - make_interval(days => (h1 % 2000)::int)
        FROM seed_plan
        WHERE h3 < ${Math.round(profile.verifiedSecondaryShare * 10000)}`.execute(trx);

      // Role holders: the whole unverified-role band of the shuffle, and a share of the verified.
      await sql`
        INSERT INTO roles (user_id, project_name, role_name)
        SELECT p.user_id, ${tag} || '-project-' || ((p.i * 7 + k) % greatest(${n}::bigint / 3, 1)),
               CASE WHEN k = 0 THEN 'Owner' ELSE 'Maintainer' END
        FROM seed_plan p, generate_series(0, p.h1 % 3) AS k
        WHERE (p.rank >= ${verified} AND p.rank < ${verified + unverifiedRole})
           OR (p.rank < ${verified} AND p.h2 < ${Math.round(profile.verifiedRoleHolderShare * 10000)})`.execute(trx);

      if (m > 0) {
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
    };
    if (rebuild) await withSecondaryIndexesRebuilt(trx, tables, writeRows);
    else await writeRows();

    await sql`SELECT setval(pg_get_serial_sequence('users', 'id'), greatest((SELECT max(id) FROM users), 1))`.execute(trx);
    await sql`SELECT setval(pg_get_serial_sequence('emails', 'id'), greatest((SELECT max(id) FROM emails), 1))`.execute(trx);

    const counts = await sql<Record<keyof SeedCounts, string>>`
      SELECT
        (SELECT count(*) FROM users u JOIN seed_plan p ON u.id = p.user_id) AS "users",
        (SELECT count(*) FROM seed_plan WHERE rank < ${verified}) AS "verifiedPrimaries",
        (SELECT count(*) FROM seed_plan WHERE rank >= ${verified}) AS "unverifiedPrimaries",
        (SELECT count(*) FROM seed_plan p WHERE p.rank >= ${verified}
           AND EXISTS (SELECT 1 FROM roles r WHERE r.user_id = p.user_id)) AS "unverifiedRoleHolders",
        (SELECT count(*) FROM emails e JOIN seed_plan p ON e.user_id = p.user_id
           WHERE e.is_primary AND e.unverify_reason IS NOT NULL) AS "withUnverifyReason",
        (SELECT count(*) FROM emails e JOIN seed_plan p ON e.user_id = p.user_id WHERE NOT e.is_primary) AS "verifiedSecondaries",
        (SELECT count(*) FROM users u JOIN seed_plan p ON u.id = p.user_id WHERE NOT u.is_active) AS "inactiveUsers",
        (SELECT count(*) FROM roles r JOIN seed_plan p ON r.user_id = p.user_id) AS "roles",
        ${m}::bigint AS "temporaryAccounts",
        (SELECT count(*) FROM sessions s WHERE s.user_id > ${userBase + n}) AS "sessions",
        (SELECT count(*) FROM api_tokens t WHERE t.user_id > ${userBase + n}) AS "apiTokens"`.execute(trx);
    const row = counts.rows[0];
    if (!row) throw new Error('seed counts query returned nothing');
    return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)])) as unknown as SeedCounts;
  });
}

async function skipTriggersIfAllowed(trx: Transaction<Database>): Promise<void> {
  const { rows } = await sql<{ superuser: boolean }>`SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`.execute(trx);
  if (rows[0]?.superuser) await sql`SET LOCAL session_replication_role = replica`.execute(trx);
}
