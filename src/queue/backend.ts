import type { DefaultJobOptions, Job, Queue, Worker, WorkerOptions } from 'bullmq';
import type { QueueName } from './names.js';

/** Where the queues live: Redis (the default, and Redis Cluster) or BullMQ's PostgreSQL backend. */
export type QueueBackendKind = 'redis' | 'postgres';

/** 'ok', or why the queue store did not answer. */
export type DependencyState = 'ok' | string;

/** What a job processor is given by BullMQ. */
export type Processor = (job: Job, token: string | undefined) => Promise<unknown>;

/**
 * The account's send pace, kept where every worker process sees it. One
 * call reserves `count` consecutive send times `intervalUs` apart, starting
 * at the later of the next free time and the store's own clock, and moves
 * the next free time on past them and `gapUs` more; `count` 0 only reads
 * the clock. Times are the store's clock in microseconds, so processes on
 * different machines agree.
 */
export interface PaceStore {
  reserve(key: string, intervalUs: number, count: number, gapUs: number): Promise<{ firstUs: number; nowUs: number }>;
  /** Forgets the pace kept under `key` (tests, and a queue rebuilt from nothing). */
  forget(key: string): Promise<void>;
}

/** Options a worker takes besides where its queue lives. */
export type WorkerSettings = Omit<WorkerOptions, 'connection' | 'prefix'>;

/**
 * Everything of reverify that depends on where the queues live. Queues,
 * workers, schedules and limiters are BullMQ's on either backend; the send
 * pace, the readiness check and the repair after a loss are reverify's own.
 * Nothing outside src/queue/ knows which backend runs.
 */
export interface QueueBackend {
  readonly kind: QueueBackendKind;
  /** Where the queues are, for messages: e.g. "Redis redis://127.0.0.1:6379/ under prefix {reverify}". */
  readonly location: string;
  /** Short name of the store in readiness checks: "redis" or "queue". */
  readonly checkName: string;
  readonly pace: PaceStore;
  /** A producer for the queue `name`. */
  newQueue(name: QueueName, defaultJobOptions: DefaultJobOptions): Queue;
  /** A worker on `name` with its own connection; `release` closes that connection after the worker is closed. */
  newWorker(name: QueueName, processor: Processor, settings: WorkerSettings): { worker: Worker; release(): Promise<void> };
  /** Whether the store answers now; never waits longer than `timeoutMs`. */
  check(timeoutMs: number): Promise<DependencyState>;
  /** False when the store is known to be away (a scrape then skips queue depths instead of waiting). */
  isConnected(): boolean;
  /**
   * Makes sure the store can hold queues: at start, and again (`again`)
   * after it lost them (a dropped schema: its tables and functions are
   * created again). Redis needs nothing. Throws a QueueBackendError when the
   * store cannot hold them (too old a server).
   */
  prepare(options?: { again?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** `url` without its user and password: where the queues are may be logged and printed, their secrets never. */
export function withoutCredentials(url: string): URL {
  const where = new URL(url);
  where.username = '';
  where.password = '';
  return where;
}

/** The queue store cannot hold reverify's queues (e.g. too old a PostgreSQL); the message says what to change. Exit code 2. */
export class QueueBackendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueBackendError';
  }
}
