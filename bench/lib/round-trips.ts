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
}

type QueryFn = (...args: unknown[]) => unknown;
type SendCommandFn = (command: { name: string }, stream?: unknown, node?: unknown) => unknown;
type ExecFn = (...args: unknown[]) => unknown;

export async function watchRoundTrips(db: Db): Promise<{ stop(): Promise<RoundTrips> }> {
  const counts: RoundTrips = { statements: 0, statementsByText: new Map(), transactions: 0, redisCommands: 0, redisRoundTrips: 0, redisByCommand: new Map() };
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
    `Redis ${per(trips.redisCommands)} commands in ${per(trips.redisRoundTrips)} round trips a message (${ranked(trips.redisByCommand)})`
  );
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
