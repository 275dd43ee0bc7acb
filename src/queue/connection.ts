import { Cluster, Redis } from 'ioredis';

/** A connection BullMQ can use: one Redis server, or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/**
 * Opens an ioredis connection for BullMQ. `maxRetriesPerRequest: null` is what
 * BullMQ requires of worker connections: a blocked command must wait through a
 * Redis restart instead of failing the job. With `cluster`, the URL names one
 * seed node and the rest are discovered; the {hash tag} in QUEUE_PREFIX keeps
 * each queue's keys on one slot, which BullMQ's multi-key scripts need.
 */
export function createRedis(
  url: string,
  options: { name?: string; lazyConnect?: boolean; cluster?: boolean } = {},
): RedisConnection {
  const redisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: options.name,
    lazyConnect: options.lazyConnect ?? false,
  };
  if (!options.cluster) return new Redis(url, redisOptions);
  const parsed = new URL(url);
  return new Cluster([{ host: parsed.hostname, port: Number(parsed.port || 6379) }], {
    lazyConnect: redisOptions.lazyConnect,
    enableReadyCheck: true,
    redisOptions: {
      ...redisOptions,
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      tls: parsed.protocol === 'rediss:' ? {} : undefined,
    },
  });
}

/** Whether a Redis answers PING at `url` within `timeoutMs`; never retries, never throws. */
export async function redisAnswers(url: string, timeoutMs = 3000): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
