import { once } from 'node:events';
import { Queue, Worker, type DefaultJobOptions } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { withoutCredentials, type DependencyState, type PaceStore, type Processor, type QueueBackend, type WorkerSettings } from './backend.js';
import { createRedis, type RedisConnection } from './connection.js';
import type { QueueName } from './names.js';
import { withTimeout } from './timeout.js';

/**
 * Reserves send times in one script, timed by Redis's own clock (see
 * PaceStore). Returns the first reserved time and Redis's clock (µs).
 */
const RESERVE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local gap = tonumber(ARGV[3])
local first = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local after = first + interval * count
if count > 0 then after = after + gap end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 60000)
return {first, now}
`;

/** The send pace in one Redis key beside the send queue's keys (same Cluster slot; obliterated with them). */
class RedisPaceStore implements PaceStore {
  constructor(private readonly redis: RedisConnection) {}

  async reserve(key: string, intervalUs: number, count: number, gapUs: number): Promise<{ firstUs: number; nowUs: number }> {
    const [firstUs, nowUs] = (await this.redis.eval(RESERVE_SCRIPT, 1, key, intervalUs, count, gapUs)) as [number, number];
    return { firstUs, nowUs };
  }

  async forget(key: string): Promise<void> {
    await this.redis.del(key);
  }
}

/** Queues on Redis (or a Redis Cluster) under QUEUE_PREFIX: one producer connection, one per worker. */
export class RedisQueueBackend implements QueueBackend {
  readonly kind = 'redis' as const;
  readonly checkName = 'redis';
  readonly location: string;
  readonly pace: PaceStore;
  /** The producer connection every Queue shares. */
  readonly redis: RedisConnection;

  constructor(
    private readonly config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER' | 'QUEUE_PREFIX'>,
    private readonly log: Logger,
  ) {
    this.redis = createRedis(config.REDIS_URL, { name: 'reverify-producer', cluster: config.REDIS_CLUSTER });
    // A Redis outage is reported by /readyz and the jobs that fail; it must not crash the process.
    this.redis.on('error', (error) => log.debug({ err: error }, 'redis connection error'));
    this.pace = new RedisPaceStore(this.redis);
    this.location = `Redis${config.REDIS_CLUSTER ? ' Cluster' : ''} ${withoutCredentials(config.REDIS_URL).toString()} under prefix ${config.QUEUE_PREFIX}`;
  }

  newQueue(name: QueueName, defaultJobOptions: DefaultJobOptions): Queue {
    return new Queue(name, { connection: this.redis, prefix: this.config.QUEUE_PREFIX, defaultJobOptions });
  }

  newWorker(name: QueueName, processor: Processor, settings: WorkerSettings): { worker: Worker; release(): Promise<void> } {
    const connection = createRedis(this.config.REDIS_URL, { name: `reverify-worker-${name}`, cluster: this.config.REDIS_CLUSTER });
    connection.on('error', (error) => this.log.debug({ err: error, queue: name }, 'redis connection error'));
    const worker = new Worker(name, processor, { ...settings, connection, prefix: this.config.QUEUE_PREFIX });
    const release = async () => {
      if (connection.status !== 'ready') connection.disconnect();
      else await connection.quit().catch(() => connection.disconnect());
    };
    return { worker, release };
  }

  /**
   * PING on the producer connection. A connection that is not ready yet (the
   * process just started, or Redis is away and it reconnects) is given the
   * probe's time to become ready, and the PING is sent only then: ioredis
   * would queue it until Redis comes back. Reporting "connecting" at once
   * answered 503 to a server's first probe whenever its connection took
   * longer than its listening did.
   */
  async check(timeoutMs: number): Promise<DependencyState> {
    const redis = this.redis;
    if (redis.status !== 'ready') {
      if (redis.status === 'end') return 'connection is end';
      const ready = await withTimeout(once(redis, 'ready'), timeoutMs, 'redis').then(
        () => true,
        () => false,
      );
      if (!ready) return `connection is ${redis.status}`;
    }
    try {
      const answer = await withTimeout(redis.ping(), timeoutMs, 'redis');
      return answer === 'PONG' ? 'ok' : `unexpected answer ${answer}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  isConnected(): boolean {
    return this.redis.status === 'ready';
  }

  async prepare(): Promise<void> {}

  async close(): Promise<void> {
    // QUIT on a connection that is not up would wait for it to come back.
    if (this.redis.status !== 'ready') this.redis.disconnect();
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
