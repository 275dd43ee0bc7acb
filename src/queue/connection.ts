import { Redis } from 'ioredis';

/**
 * Opens an ioredis connection for BullMQ. `maxRetriesPerRequest: null` is what
 * BullMQ requires of worker connections: a blocked command must wait through a
 * Redis restart instead of failing the job.
 */
export function createRedis(url: string, options: { name?: string; lazyConnect?: boolean } = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: options.name,
    lazyConnect: options.lazyConnect ?? false,
  });
}
