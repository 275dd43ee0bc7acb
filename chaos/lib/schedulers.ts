import { Queue } from 'bullmq';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createRedis } from '../../src/queue/connection.js';
import { createQueueBackend } from '../../src/queue/create-backend.js';
import { QUEUE_NAMES, type QueueName } from '../../src/queue/names.js';

/** Which job schedulers exist in Redis under `prefix`, as "queue/id". */
export async function listSchedulers(redisUrl: string, prefix: string, cluster = false): Promise<string[]> {
  const connection = createRedis(redisUrl, { name: 'reverify-chaos', cluster });
  connection.on('error', () => undefined);
  const found: string[] = [];
  try {
    for (const name of Object.values(QUEUE_NAMES) as QueueName[]) {
      const queue = new Queue(name, { connection, prefix });
      try {
        for (const scheduler of await queue.getJobSchedulers()) found.push(`${name}/${scheduler.key}`);
      } finally {
        await queue.close();
      }
    }
  } finally {
    connection.disconnect();
  }
  return found.sort();
}

/** Adds one job to a queue, as its scheduler would, on the queue backend `env` names (QUEUE_BACKEND). */
export async function addJob(env: Record<string, string>, queueName: QueueName, jobName: string, data: unknown): Promise<void> {
  const config = loadConfig(env);
  const backend = createQueueBackend(config, createLogger({ level: 'warn', pretty: false }));
  const queue = backend.newQueue(queueName, {});
  try {
    await backend.prepare();
    await queue.add(jobName, data, { removeOnComplete: true });
  } finally {
    await queue.close();
    await backend.close();
  }
}
