import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';
import type { QueueBackendKind } from '../../src/queue/backend.js';
import { queueSchemaName } from '../../src/queue/postgres-backend.js';

/**
 * Where the scenarios' queues live: CHAOS_QUEUE_BACKEND=redis (the default)
 * or postgres (BullMQ's PostgreSQL backend, in the scratch database, schema
 * queueSchemaName(queue prefix)). `npm run chaos -- --backend postgres …`
 * sets it for the run and for every reverify process the run starts.
 */
export function chaosQueueBackend(): QueueBackendKind {
  const kind = process.env.CHAOS_QUEUE_BACKEND ?? 'redis';
  if (kind !== 'redis' && kind !== 'postgres') throw new Error(`CHAOS_QUEUE_BACKEND must be redis or postgres, got "${kind}"`);
  return kind;
}

/** How a PostgreSQL queue store is lost: its schema dropped, or every table in it emptied (BullMQ's migration ledger kept). */
export type PostgresLoss = 'drop-schema' | 'truncate';

/**
 * Loses the PostgreSQL queue store of `prefix` in the scratch database: the
 * schema dropped with everything in it (tables, functions, the send pace),
 * or every table but BullMQ's migration ledger truncated (jobs, schedulers,
 * limiter, pace gone; the functions stay). Returns what was lost, for the
 * notes.
 */
export async function losePostgresQueueStore(db: Db, prefix: string, how: PostgresLoss): Promise<string> {
  const schema = queueSchemaName(prefix);
  const { rows: tables } = await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = ${schema} ORDER BY tablename`.execute(db);
  const jobs = tables.some((table) => table.name === 'job')
    ? Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(schema, 'job')}`.execute(db)).rows[0]!.n)
    : 0;
  if (how === 'drop-schema') {
    await retryingDeadlocks(() => sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db));
    return `schema ${schema} dropped (${tables.length} tables, ${jobs} jobs)`;
  }
  const emptied = tables.filter((table) => table.name !== 'migration');
  await retryingDeadlocks(() => sql`TRUNCATE ${sql.join(emptied.map((table) => sql.id(schema, table.name)))} CASCADE`.execute(db));
  return `${emptied.length} tables of schema ${schema} truncated (${jobs} jobs)`;
}

/** Runs `statement` again when PostgreSQL picks it as a deadlock's victim (the workers' statements lock the same tables). */
async function retryingDeadlocks(statement: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await statement();
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The job schedulers of the PostgreSQL queue store of `prefix`, as "queue/id" (none when its schema or table is gone). */
export async function listPostgresSchedulers(db: Db, prefix: string): Promise<string[]> {
  const schema = queueSchemaName(prefix);
  const { rows: present } = await sql<{ ok: boolean }>`SELECT to_regclass(${`"${schema}".scheduler`}) IS NOT NULL AS ok`.execute(db);
  if (!present[0]!.ok) return [];
  const { rows } = await sql<{ queue: string; id: string }>`SELECT queue, scheduler_id AS id FROM ${sql.id(schema, 'scheduler')}`.execute(db);
  return rows.map((row) => `${row.queue}/${row.id}`).sort();
}
