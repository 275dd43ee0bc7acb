import { sql, type RawBuilder } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import { temporaryAccountsTotal } from '../metrics.js';
import { revokeAccessAfterExpiry, type LateRevocations } from './expire-late.js';
import { runSweep, type SweepContext, type SweepOptions, type SweepOutcome } from './sweep-runner.js';
import { recordDryRunCounts } from './sweep-runs.js';
import { expiryCutoffSql, sweepWindow, type SweepWindow } from './sweep-window.js';

export interface ExpireOptions extends SweepOptions {
  /** Accounts per transaction; defaults to SWEEP_BATCH_SIZE. */
  batchSize?: number;
  /** Called after each committed batch (numbered from 1); a throw stops the run there, as a crash would. */
  afterBatch?: (batch: number) => void | Promise<void>;
}

export interface ExpireResult extends LateRevocations {
  /** Accounts expired by this run (would be expired, in a dry run). */
  expired: number;
  /** Sessions and tokens revoked as their accounts expired (not counting those of LateRevocations). */
  sessionsRevoked: number;
  tokensRevoked: number;
  batches: number;
  longestBatchMs: number;
}

/**
 * The expiry pass: every temporary account with `created_at + TTL ≤ as_of`
 * and no `expired_at`, however old, in keyset order over the partial index
 * `users_temporary_unexpired_idx`. Each batch is one short transaction that
 * sets `expired_at`, revokes every open session and API token of those users,
 * writes one audit row per account and advances the run's progress row. The
 * UPDATE repeats the whole condition, so an account changed meanwhile (made
 * permanent, expired by someone else) is left alone. A run that stops halfway
 * leaves its batches done; the next run finds only what is still unexpired.
 */
export async function expireTemporaryAccounts(db: Db, config: Config, options: ExpireOptions = {}): Promise<SweepOutcome<ExpireResult>> {
  const window = sweepWindow(config);
  const batchSize = options.batchSize ?? config.SWEEP_BATCH_SIZE;
  return runSweep(db, 'expire', options, async (ctx) => {
    // Accounts expired by earlier runs first: the batches below revoke what is
    // open on the accounts they expire in the same transaction, so running this
    // pass afterwards would only walk this run's accounts again, finding nothing
    // (at a million accounts, seconds of index probes for no row).
    const late = await revokeAccessAfterExpiry(ctx);
    if (!ctx.dryRun && late.sessionsRevokedAfterExpiry + late.tokensRevokedAfterExpiry > 0) {
      ctx.log?.warn({ ...late }, 'revoked sessions or API tokens opened on temporary accounts after they expired');
    }
    const expiry = ctx.dryRun ? await countDue(ctx, window) : await expireInBatches(ctx, window, batchSize, options);
    return { ...expiry, ...late };
  });
}

type ExpiryCounts = Omit<ExpireResult, keyof LateRevocations>;

/**
 * The batches commit without waiting for their WAL flush (synchronous_commit
 * off on the sweep's own connection, reset before it goes back to the pool):
 * a batch is one transaction (expiry, revocations, audit rows, progress), so a
 * server crash can only lose whole batches, which the next run finds still
 * unexpired and does again. The run's completion is committed synchronously,
 * which flushes every batch before it, so a run reported completed is durable.
 * One fsync per batch was a large share of the sweep's time.
 */
async function expireInBatches(ctx: SweepContext, window: SweepWindow, batchSize: number, options: ExpireOptions): Promise<ExpiryCounts> {
  await sql`SET synchronous_commit = off`.execute(ctx.conn);
  try {
    return await expireBatchesInTurn(ctx, window, batchSize, options);
  } finally {
    await sql`RESET synchronous_commit`.execute(ctx.conn).catch(() => undefined);
  }
}

async function expireBatchesInTurn(ctx: SweepContext, window: SweepWindow, batchSize: number, options: ExpireOptions): Promise<ExpiryCounts> {
  const totals: ExpiryCounts = { expired: 0, sessionsRevoked: 0, tokensRevoked: 0, batches: 0, longestBatchMs: 0 };
  let cursor: Cursor | null = null;
  for (;;) {
    const started = performance.now();
    const batch = await expireBatch(ctx, window, cursor, batchSize);
    if (batch.last === null || batch.last_created_at === null) break;
    const batchMs = performance.now() - started;
    cursor = { id: batch.last, createdAt: batch.last_created_at };
    totals.batches += 1;
    totals.expired += batch.expired;
    totals.sessionsRevoked += batch.sessions;
    totals.tokensRevoked += batch.tokens;
    totals.longestBatchMs = Math.max(totals.longestBatchMs, Math.round(batchMs));
    if (batch.expired > 0) temporaryAccountsTotal.inc({ action: 'expired' }, batch.expired);
    ctx.log?.debug({ batch: totals.batches, expired: batch.expired, cursor: cursor.id, ms: Math.round(batchMs) }, 'expiry batch committed');
    await options.afterBatch?.(totals.batches);
  }
  ctx.log?.info({ ...totals }, 'temporary accounts expired');
  return totals;
}

/** Keyset position: the last account of the previous batch. */
interface Cursor {
  id: string;
  /** Its created_at as exact UTC text (a JS Date would drop the microseconds). */
  createdAt: string;
}

interface BatchRow {
  /** Last user id of the batch (the keyset cursor), or null when nothing was left. */
  last: string | null;
  last_created_at: string | null;
  expired: number;
  sessions: number;
  tokens: number;
}

/**
 * One batch as one statement, hence one short transaction with a single
 * round trip: take the next `limit` due accounts after `cursor` in
 * (created_at, id) order — the order of the partial index
 * `users_temporary_unexpired_idx` — expire them, re-checking the whole
 * condition in the UPDATE (an account made permanent or expired meanwhile is
 * left alone), revoke their open sessions and tokens, write one audit row per
 * account and add the batch to the run's progress row.
 *
 * The audit rows have the shape `recordAudit` writes (actor `sweep`, action
 * `account.expired`, counts in `details`) but are built in SQL, so a
 * million-account catch-up ships nothing back and forth. The progress row's
 * `longest_batch_ms` is the statement's own duration as the database saw it.
 */
async function expireBatch(ctx: SweepContext, window: SweepWindow, cursor: Cursor | null, limit: number): Promise<BatchRow> {
  const cutoff = expiryCutoffSql(ctx.asOf, window);
  const { rows } = await sql<BatchRow>`
    WITH ${nextDueBatch(cutoff, cursor, limit)},
    ${expireAndRevoke(ctx.asOf, cutoff)},
    ${auditExpiries(ctx.runId)},
    ${batchTotals()},
    ${recordProgress(ctx.runId)}
    SELECT last, last_created_at, expired, sessions, tokens FROM totals`.execute(ctx.conn);
  const row = rows[0];
  if (!row) throw new Error('the expiry batch statement returned no row');
  return row;
}

/** CTE `batch`: the next `limit` due accounts after the cursor, in the index's (created_at, id) order. */
function nextDueBatch(cutoff: RawBuilder<Date>, cursor: Cursor | null, limit: number): RawBuilder<unknown> {
  const after = cursor === null ? sql`TRUE` : sql`(u.created_at, u.id) > (${cursor.createdAt}::timestamptz, ${cursor.id}::bigint)`;
  return sql`batch AS (
      SELECT u.id, u.created_at FROM users u
      WHERE u.is_temporary AND u.expired_at IS NULL AND u.created_at <= ${cutoff} AND ${after}
      ORDER BY u.created_at, u.id
      LIMIT ${limit}
    )`;
}

/**
 * CTEs `expired`, `revoked_sessions`, `revoked_tokens`, `counted`: expire the
 * batch (re-checking the whole condition), revoke the open sessions and
 * tokens of the accounts expired, and count them per account.
 */
function expireAndRevoke(asOf: Date, cutoff: RawBuilder<Date>): RawBuilder<unknown> {
  // `id = ANY(array)` rather than a join with `batch`: a join lets the planner
  // hash the batch against a sequential scan of users (it did, at 200,000
  // users: 0.5 s a batch); the array is always 1,000 primary-key probes.
  return sql`expired AS (
      UPDATE users u SET expired_at = ${asOf}
      WHERE u.id = ANY (ARRAY(SELECT b.id FROM batch b))
        AND u.is_temporary AND u.expired_at IS NULL AND u.created_at <= ${cutoff}
      RETURNING u.id
    ),
    revoked_sessions AS (
      UPDATE sessions s SET revoked_at = ${asOf}
      FROM expired e
      WHERE s.user_id = e.id AND s.revoked_at IS NULL
      RETURNING s.user_id
    ),
    revoked_tokens AS (
      UPDATE api_tokens t SET revoked_at = ${asOf}
      FROM expired e
      WHERE t.user_id = e.id AND t.revoked_at IS NULL
      RETURNING t.user_id
    ),
    counted AS (
      SELECT e.id, coalesce(rs.n, 0)::int AS sessions, coalesce(rt.n, 0)::int AS tokens
      FROM expired e
      LEFT JOIN (SELECT user_id, count(*) AS n FROM revoked_sessions GROUP BY user_id) rs ON rs.user_id = e.id
      LEFT JOIN (SELECT user_id, count(*) AS n FROM revoked_tokens GROUP BY user_id) rt ON rt.user_id = e.id
    )`;
}

/** CTE `audited`: one audit row per expired account, shaped as `recordAudit` writes it. */
function auditExpiries(runId: string): RawBuilder<unknown> {
  return sql`audited AS (
      INSERT INTO audit_log (actor, action, user_id, reason, details)
      SELECT 'sweep', 'account.expired', c.id, 'temporary_account_ttl',
             jsonb_build_object('runId', ${Number(runId)}::bigint, 'sessionsRevoked', c.sessions, 'tokensRevoked', c.tokens)
      FROM counted c
    )`;
}

/** CTEs `last_of_batch`, `totals`: the batch's new cursor (null when nothing was left) and its counts. */
function batchTotals(): RawBuilder<unknown> {
  return sql`last_of_batch AS (
      SELECT b.id, to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
      FROM batch b ORDER BY b.created_at DESC, b.id DESC LIMIT 1
    ),
    totals AS (
      SELECT
        (SELECT l.id FROM last_of_batch l) AS last,
        (SELECT l.created_at FROM last_of_batch l) AS last_created_at,
        count(*)::int AS expired,
        coalesce(sum(c.sessions), 0)::int AS sessions,
        coalesce(sum(c.tokens), 0)::int AS tokens
      FROM counted c
    )`;
}

/** CTE `progress`: adds the batch to the run's progress row; the longest batch is the statement's own duration. */
function recordProgress(runId: string): RawBuilder<unknown> {
  return sql`progress AS (
      UPDATE sweep_runs r SET
        processed = r.processed + t.expired,
        sessions_revoked = r.sessions_revoked + t.sessions,
        tokens_revoked = r.tokens_revoked + t.tokens,
        batches = r.batches + 1,
        cursor = t.last,
        longest_batch_ms = greatest(r.longest_batch_ms, (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int)
      FROM totals t
      WHERE r.id = ${runId}::bigint AND t.last IS NOT NULL
    )`;
}

async function countDue(ctx: SweepContext, window: SweepWindow): Promise<ExpiryCounts> {
  const { rows } = await sql<{ expired: string; sessions: string; tokens: string }>`
    WITH due AS (
      SELECT u.id FROM users u
      WHERE u.is_temporary AND u.expired_at IS NULL AND u.created_at <= ${expiryCutoffSql(ctx.asOf, window)}
    )
    SELECT
      (SELECT count(*) FROM due) AS expired,
      (SELECT count(*) FROM sessions s JOIN due ON s.user_id = due.id WHERE s.revoked_at IS NULL) AS sessions,
      (SELECT count(*) FROM api_tokens t JOIN due ON t.user_id = due.id WHERE t.revoked_at IS NULL) AS tokens`.execute(ctx.conn);
  const row = rows[0];
  const result: ExpiryCounts = {
    expired: Number(row?.expired ?? 0),
    sessionsRevoked: Number(row?.sessions ?? 0),
    tokensRevoked: Number(row?.tokens ?? 0),
    batches: 0,
    longestBatchMs: 0,
  };
  await recordDryRunCounts(ctx.conn, ctx.runId, {
    processed: result.expired,
    sessionsRevoked: result.sessionsRevoked,
    tokensRevoked: result.tokensRevoked,
  });
  return result;
}
