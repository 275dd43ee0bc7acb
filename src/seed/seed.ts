import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { Db } from '../db/connect.js';
import { withSecondaryIndexesRebuilt } from './bulk-indexes.js';
import type { SeedProfile } from './profiles.js';
import { writeRows, type SeedPlan } from './rows.js';

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
  return db.transaction().execute(async (trx) => {
    await prepareBulkLoad(trx);
    await refuseSeedTwice(trx, options.seed);
    const plan = await planSeed(trx, options);
    // On a (nearly) empty database, rebuilding indexes after the load is far
    // cheaper than maintaining them; on a big one, adding to them is.
    if (plan.userBase < plan.users) await withSecondaryIndexesRebuilt(trx, SEEDED_TABLES, () => writeRows(trx, plan));
    else await writeRows(trx, plan);
    await advanceIdSequences(trx);
    return countSeeded(trx, plan);
  });
}

const SEEDED_TABLES = ['users', 'emails', 'roles', 'sessions', 'api_tokens'];

/** Locks the seeded tables and sets the transaction up for a bulk insert. */
async function prepareBulkLoad(trx: Transaction<Database>): Promise<void> {
  await sql`LOCK TABLE users, emails, roles, sessions, api_tokens IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
  // Foreign-key checks are per-row triggers and dominate a million-row insert.
  // The rows below reference only rows written in the same statement order,
  // so when the role may (a superuser, as in dev and tests) they are skipped.
  await skipTriggersIfAllowed(trx);
  await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(trx);
  await sql`SET LOCAL work_mem = '64MB'`.execute(trx);
}

async function skipTriggersIfAllowed(trx: Transaction<Database>): Promise<void> {
  const { rows } = await sql<{ superuser: boolean }>`SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`.execute(trx);
  if (rows[0]?.superuser) await sql`SET LOCAL session_replication_role = replica`.execute(trx);
}

/** Usernames carry the seed, so a second run with the same --seed would collide. */
async function refuseSeedTwice(trx: Transaction<Database>, seed: number): Promise<void> {
  const tag = `s${seed}`;
  const clash = await sql<{ n: string }>`
    SELECT count(*) AS n FROM users WHERE username IN (${`${tag}-user-000000001`}, ${`${tag}-temp-000000001`})`.execute(trx);
  if (Number(clash.rows[0]?.n ?? 0) > 0) {
    throw new Error(`this database already holds users seeded with --seed ${seed}; seed an empty database or pick another --seed`);
  }
}

/** The category sizes from the profile, and the ids the seeded rows follow. */
async function planSeed(trx: Transaction<Database>, options: SeedOptions): Promise<SeedPlan> {
  const { users: n, profile, seed } = options;
  const base = await sql<{ users: string; emails: string }>`
    SELECT (SELECT coalesce(max(id), 0) FROM users) AS users, (SELECT coalesce(max(id), 0) FROM emails) AS emails`.execute(trx);
  return {
    ...options,
    tag: `s${seed}`,
    verified: Math.round(n * profile.verifiedShare),
    unverifiedRole: Math.round(n * profile.unverifiedRoleHolderShare),
    userBase: Number(base.rows[0]?.users ?? 0),
    emailBase: Number(base.rows[0]?.emails ?? 0),
  };
}

/** The rows were written with explicit ids; later inserts must start past them. */
async function advanceIdSequences(trx: Transaction<Database>): Promise<void> {
  await sql`SELECT setval(pg_get_serial_sequence('users', 'id'), greatest((SELECT max(id) FROM users), 1))`.execute(trx);
  await sql`SELECT setval(pg_get_serial_sequence('emails', 'id'), greatest((SELECT max(id) FROM emails), 1))`.execute(trx);
}

/** Counts what this run wrote, read back from the tables (seed_plan names this run's users). */
async function countSeeded(trx: Transaction<Database>, { users: n, temporaryAccounts: m, verified, userBase }: SeedPlan): Promise<SeedCounts> {
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
}
