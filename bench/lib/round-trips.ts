import { Pipeline, Redis } from 'ioredis';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../../src/db/connect.js';

/**
 * Counts, for one sending round, what this process asks of PostgreSQL and
 * Redis: statements sent by every pg client (by their text's opening words),
 * the database's committed transactions (pg_stat_database), and the Redis
 * commands BullMQ and the pace code send (by name, EVALSHA = one Lua script)
 * with the round trips they make (a pipeline is one). pg_stat_statements is
 * not loaded on the shared server (no shared_preload_libraries), so the
 * statements are counted at the client, which is exact for this process.
 * Measurement only: the wrappers sit on the prototypes for the round and are
 * removed after it.
 */

export interface RoundTrips {
  statements: number;
  statementsByText: Map<string, number>;
  transactions: number;
  redisCommands: number;
  redisRoundTrips: number;
  redisByCommand: Map<string, number>;
  /** WAL records that touch this database's relations (pg_walinspect), by resource manager/record type. */
  walRecords: number;
  walBytes: number;
  walFpi: number;
  walByType: Map<string, number>;
}

type QueryFn = (...args: unknown[]) => unknown;
type SendCommandFn = (command: { name: string }, stream?: unknown, node?: unknown) => unknown;
type ExecFn = (...args: unknown[]) => unknown;

export async function watchRoundTrips(db: Db): Promise<{ stop(): Promise<RoundTrips> }> {
  const counts: RoundTrips = {
    statements: 0,
    statementsByText: new Map(),
    transactions: 0,
    redisCommands: 0,
    redisRoundTrips: 0,
    redisByCommand: new Map(),
    walRecords: 0,
    walBytes: 0,
    walFpi: 0,
    walByType: new Map(),
  };
  await sql`CREATE EXTENSION IF NOT EXISTS pg_walinspect`.execute(db);
  // Read a second's WAL at a time: the shared server writes so much WAL that a
  // round's first segment is recycled before the round ends.
  let walFrom = await currentLsn(db);
  let walReading = Promise.resolve();
  const readWal = () => {
    walReading = walReading.catch(() => undefined).then(async () => {
      const to = await currentLsn(db);
      await countWal(db, walFrom, to, counts);
      walFrom = to;
    });
    return walReading;
  };
  let walError: unknown;
  const walTimer = setInterval(() => void readWal().catch((error: unknown) => (walError ??= error)), 1000);
  const clientProto = pg.Client.prototype as unknown as { query: QueryFn };
  const redisProto = Redis.prototype as unknown as { sendCommand: SendCommandFn };
  const pipelineProto = Pipeline.prototype as unknown as { exec: ExecFn };
  const originalQuery = clientProto.query;
  const originalSend = redisProto.sendCommand;
  const originalExec = pipelineProto.exec;
  clientProto.query = function (this: unknown, ...args: unknown[]) {
    counts.statements += 1;
    bump(counts.statementsByText, statementKey(args[0]));
    return originalQuery.apply(this, args);
  };
  redisProto.sendCommand = function (this: unknown, command, stream, node) {
    counts.redisCommands += 1;
    // A command written on its own is a round trip; a pipeline's commands come with its stream.
    if (stream === undefined) counts.redisRoundTrips += 1;
    bump(counts.redisByCommand, command.name);
    return originalSend.call(this, command, stream, node);
  };
  pipelineProto.exec = function (this: unknown, ...args: unknown[]) {
    counts.redisRoundTrips += 1;
    return originalExec.apply(this, args);
  };
  const startTransactions = await committed(db);
  return {
    async stop() {
      clientProto.query = originalQuery;
      redisProto.sendCommand = originalSend;
      pipelineProto.exec = originalExec;
      // Backends report their counts to the statistics at most once a second.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // Minus the one this read commits itself.
      counts.transactions = (await committed(db)) - startTransactions - 1;
      clearInterval(walTimer);
      await readWal().catch((error: unknown) => (walError ??= error));
      if (walError !== undefined) console.error(`[bench] campaign: WAL of the round not fully read (the counts are too low): ${String(walError)}`);
      return counts;
    },
  };
}

/** Per message, as "12.1 statements (…), 4.0 transactions; Redis 9.2 commands in 6.1 round trips (…)". */
export function describeRoundTrips(trips: RoundTrips, messages: number, top = 8): string {
  const per = (n: number) => (n / messages).toFixed(2);
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, n]) => `${per(n)} × ${key}`)
      .join('; ');
  return (
    `PostgreSQL ${per(trips.statements)} statements a message (${ranked(trips.statementsByText)}), ${per(trips.transactions)} transactions committed a message; ` +
    `Redis ${per(trips.redisCommands)} commands in ${per(trips.redisRoundTrips)} round trips a message (${ranked(trips.redisByCommand)}); ` +
    `this database's WAL ${per(trips.walRecords)} records, ${Math.round(trips.walBytes / messages)} bytes, ${per(trips.walFpi)} full-page images a message (${ranked(trips.walByType)})`
  );
}

async function currentLsn(db: Db): Promise<string> {
  const { rows } = await sql<{ lsn: string }>`SELECT pg_current_wal_flush_lsn()::text AS lsn`.execute(db);
  return rows[0]!.lsn;
}

/**
 * The WAL records of the round that change a page of this database: pg_stat_wal
 * counts the whole server's, and on this shared machine other engineers'
 * tests write far more than the round does. Commit records name no page and
 * are left out (the transactions count stands for them).
 */
async function countWal(db: Db, start: string, end: string, counts: RoundTrips): Promise<void> {
  const { rows } = await sql<{ kind: string; n: string; bytes: string; fpi: string }>`
    SELECT resource_manager || '/' || record_type AS kind, count(*)::text AS n,
           sum(record_length)::text AS bytes, count(*) FILTER (WHERE fpi_length > 0)::text AS fpi
    FROM pg_get_wal_records_info(${start}::pg_lsn, ${end}::pg_lsn)
    WHERE block_ref LIKE '%/' || (SELECT oid FROM pg_database WHERE datname = current_database())::text || '/%'
    GROUP BY 1`.execute(db);
  for (const row of rows) {
    counts.walRecords += Number(row.n);
    counts.walBytes += Number(row.bytes);
    counts.walFpi += Number(row.fpi);
    counts.walByType.set(row.kind, (counts.walByType.get(row.kind) ?? 0) + Number(row.n));
  }
}

async function committed(db: Db): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT pg_stat_clear_snapshot(), xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

function statementKey(query: unknown): string {
  const text = typeof query === 'string' ? query : typeof query === 'object' && query !== null && 'text' in query ? String(query.text) : '?';
  // The opening words name the statement well enough: "update campaign_recipients set status", "with claimed as (".
  return `"${text.replace(/\s+/g, ' ').trim().slice(0, 60)}"`;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
