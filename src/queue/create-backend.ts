import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { QueueBackend } from './backend.js';
import { PostgresQueueBackend } from './postgres-backend.js';
import { RedisQueueBackend } from './redis-backend.js';

/** The queue backend QUEUE_BACKEND names; with `postgres`, REDIS_URL is not read. */
export function createQueueBackend(config: Config, log: Logger): QueueBackend {
  return config.QUEUE_BACKEND === 'postgres' ? new PostgresQueueBackend(config, log) : new RedisQueueBackend(config, log);
}
