import {
  createPostgresBackend,
  runMigrations,
  withBackend,
  type BackendFactory,
  type DefaultJobOptions,
  type PostgresConnectionOptions,
  type PostgresQueueBackend as BullPostgresBackend,
  type Queue,
  type Worker,
} from 'bullmq';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { QueueBackendError, withoutCredentials, type DependencyState, type PaceStore, type Processor, type QueueBackend, type WorkerSettings } from './backend.js';
import type { QueueName } from './names.js';
import { withTimeout } from './timeout.js';

/** A memoised readiness, as BullMQ's PostgreSQL connection and backend keep it. */
interface ReadyMemo {
  readyPromise?: Promise<void>;
  waitUntilReady(): Promise<void>;
}

/**
 * Makes a failed readiness be tried again at the next use. BullMQ's
 * PostgreSQL backend remembers its first connection attempt, failure
 * included, and every later query awaits it: a Queue made while the
 * database was away (a server starting before PostgreSQL) would fail every
 * call until the process restarts, where an ioredis connection reconnects.
 */
function forgetFailedReadiness(target: ReadyMemo): void {
  const once = target.waitUntilReady.bind(target);
  target.waitUntilReady = () => {
    const attempt = once();
    // Set synchronously by the call above; a newer attempt is left alone.
    const memo = target.readyPromise;
    attempt.catch(() => {
      if (target.readyPromise === memo) target.readyPromise = undefined;
    });
    return attempt;
  };
}

const retryingPostgresBackend: BackendFactory<BullPostgresBackend, PostgresConnectionOptions> = (name, options, factoryOptions) => {
  const backend = createPostgresBackend(name, options, factoryOptions);
  forgetFailedReadiness(backend.connection as unknown as ReadyMemo);
  forgetFailedReadiness(backend as unknown as ReadyMemo);
  return backend;
};

const { Queue: PgQueue, Worker: PgWorker } = withBackend(retryingPostgresBackend);

/** The oldest PostgreSQL BullMQ's backend runs on (SKIP LOCKED, its PL/pgSQL). */
export const MINIMUM_QUEUE_POSTGRES = 13;

/**
 * The schema the queues of QUEUE_PREFIX live in: the prefix's letters and
 * digits, lowercased, after `bullmq_` ({reverify} → bullmq_reverify), so two
 * deployments with their own prefixes share a database without sharing jobs.
 */
export function queueSchemaName(prefix: string): string {
  const core = prefix.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return `bullmq_${core}`.slice(0, 63);
}

/** PostgreSQL error codes meaning "that table or schema is not there" (a queue schema that was dropped). */
const MISSING_RELATION = new Set(['42P01', '3F000', '42883']);

function isMissingRelation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && MISSING_RELATION.has(String((error as { code?: unknown }).code));
}

/**
 * The send pace as one row per key in the queue schema. The row lock
 * serialises reservations across workers; the clock is PostgreSQL's
 * clock_timestamp(), read after the lock is held.
 */
class PostgresPaceStore implements PaceStore {
  constructor(
    private readonly backend: PostgresQueueBackend,
    private readonly pool: pg.Pool,
    private readonly table: string,
  ) {}

  async reserve(key: string, intervalUs: number, count: number, gapUs: number): Promise<{ firstUs: number; nowUs: number }> {
    try {
      return await this.reserveOnce(key, intervalUs, count, gapUs);
    } catch (error) {
      if (!isMissingRelation(error)) throw error;
      // The queue schema was dropped (see QueueBackend.prepare): build it again, then reserve.
      await this.backend.prepare({ again: true });
      return this.reserveOnce(key, intervalUs, count, gapUs);
    }
  }

  private async reserveOnce(key: string, intervalUs: number, count: number, gapUs: number): Promise<{ firstUs: number; nowUs: number }> {
    // clock_timestamp() in the update runs once the row's lock is held, so it is never older than another worker's reservation.
    const clock = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`;
    const statement =
      count === 0
        ? `SELECT ${clock} AS first_us, ${clock} AS now_us`
        : `INSERT INTO ${this.table} AS pace (key, next_us) VALUES ($1, ${clock} + $2::bigint * $3::bigint + $4::bigint)
           ON CONFLICT (key) DO UPDATE SET next_us = GREATEST(pace.next_us, ${clock}) + $2::bigint * $3::bigint + $4::bigint
           RETURNING next_us - $2::bigint * $3::bigint - $4::bigint AS first_us, ${clock} AS now_us`;
    const { rows } = await this.pool.query<{ first_us: string; now_us: string }>(statement, count === 0 ? [] : [key, intervalUs, count, gapUs]);
    return { firstUs: Number(rows[0]!.first_us), nowUs: Number(rows[0]!.now_us) };
  }

  async forget(key: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table} WHERE key = $1`, [key]);
  }
}

/**
 * Queues on BullMQ's PostgreSQL backend, in the schema queueSchemaName()
 * gives QUEUE_PREFIX, in QUEUE_DATABASE_URL or else DATABASE_URL. Each
 * Queue and Worker has a small pool of its own (BullMQ builds it from the
 * connection settings, pinning the schema on every connection; a Worker
 * adds one LISTEN connection); the backend's own pool serves the send
 * pace, readiness and repairs.
 */
export class PostgresQueueBackend implements QueueBackend {
  readonly kind = 'postgres' as const;
  readonly checkName = 'queue';
  readonly location: string;
  readonly pace: PaceStore;
  readonly schema: string;
  private readonly url: string;
  private readonly pool: pg.Pool;
  private prepared: Promise<void> | undefined;

  constructor(
    config: Pick<Config, 'DATABASE_URL' | 'QUEUE_DATABASE_URL' | 'QUEUE_PREFIX'>,
    private readonly log: Logger,
  ) {
    this.url = config.QUEUE_DATABASE_URL ?? config.DATABASE_URL;
    this.schema = queueSchemaName(config.QUEUE_PREFIX);
    this.pool = new pg.Pool({ connectionString: this.url, max: 4, keepAlive: true, application_name: 'reverify-queue' });
    this.pool.on('error', (error) => log.debug({ err: error }, 'queue database connection error'));
    this.pace = new PostgresPaceStore(this, this.pool, `"${this.schema}".reverify_send_pace`);
    const where = withoutCredentials(this.url);
    this.location = `PostgreSQL ${where.host}${where.pathname} in schema ${this.schema} (queue prefix ${config.QUEUE_PREFIX})`;
  }

  /**
   * BullMQ's connection settings: the schema pinned; `migrate` too, for a
   * producer (a CLI command) that never calls prepare() (idempotent, under
   * BullMQ's advisory lock).
   */
  private connection(max: number) {
    return { connectionString: this.url, schema: this.schema, max, keepAlive: true, migrate: true };
  }

  newQueue(name: QueueName, defaultJobOptions: DefaultJobOptions): Queue {
    const queue = new PgQueue(name, { connection: this.connection(2), defaultJobOptions });
    queue.on('error', (error: Error) => this.log.debug({ err: error, queue: name }, 'queue database connection error'));
    return queue as unknown as Queue;
  }

  newWorker(name: QueueName, processor: Processor, settings: WorkerSettings): { worker: Worker; release(): Promise<void> } {
    // Jobs share a few connections: each holds one only for a statement, and a process must stay well inside max_connections.
    const poolSize = Math.min((settings.concurrency ?? 1) + 1, 6);
    const worker = new PgWorker(name, processor, { ...settings, connection: this.connection(poolSize) });
    return { worker: worker as unknown as Worker, release: async () => undefined };
  }

  /**
   * Checks the server version (BullMQ's backend needs PostgreSQL 13) and
   * creates the queue schema, its functions and the pace table when they are
   * missing: at start, and again after the schema was dropped (`again`).
   */
  prepare(options: { again?: boolean } = {}): Promise<void> {
    if (options.again || !this.prepared) {
      this.prepared = this.migrate();
      this.prepared.catch(() => {
        this.prepared = undefined;
      });
    }
    return this.prepared;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ version: string; num: string }>(
        `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
      );
      if (Number(rows[0]!.num) < MINIMUM_QUEUE_POSTGRES * 10_000) {
        throw new QueueBackendError(
          `QUEUE_BACKEND=postgres needs PostgreSQL ${MINIMUM_QUEUE_POSTGRES} or newer for its queues, but ${this.location} runs ${rows[0]!.version}. ` +
            'Upgrade that server, point QUEUE_DATABASE_URL at a newer one, or use QUEUE_BACKEND=redis.',
        );
      }
      await runMigrations(client, this.schema);
      await this.createPaceTable(client);
    } finally {
      client.release();
    }
  }

  /**
   * CREATE TABLE IF NOT EXISTS is not safe against itself: two processes
   * starting at the same instant on a fresh database (the worker and the
   * server of `reverify start`) both find no table, and the second CREATE
   * fails on the catalog's unique index. An advisory lock for the schema
   * makes the second wait and then find the table (BullMQ's own migrations
   * take theirs the same way).
   */
  private async createPaceTable(client: pg.PoolClient): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`reverify:pace-table:${this.schema}`]);
      await client.query(`CREATE TABLE IF NOT EXISTS "${this.schema}".reverify_send_pace (key text PRIMARY KEY, next_us bigint NOT NULL)`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Whether the queue database answers and holds the queue schema (created first, when this process has not yet). */
  async check(timeoutMs: number): Promise<DependencyState> {
    try {
      await withTimeout(this.prepare(), timeoutMs, 'queue database');
      const { rows } = await withTimeout(
        this.pool.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [this.schema]),
        timeoutMs,
        'queue database',
      );
      return rows[0]!.present ? 'ok' : `queue schema ${this.schema} is missing (the worker creates it again)`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** Not tracked on PostgreSQL: a scrape asks and times out (2 s) instead. */
  isConnected(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
