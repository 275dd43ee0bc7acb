import pg from 'pg';
import { queueSchemaName } from '../../src/queue/postgres-backend.js';
import { deleteQueueKeys, type TestEnv } from './env.js';

/**
 * What losing the whole queue store looks like to a test file: on Redis
 * every key under its prefix gone (a flush), on PostgreSQL the queue schema
 * dropped with every table, function and job in it.
 */
export async function loseQueueStore(env: TestEnv): Promise<void> {
  if (env.queueBackend === 'redis') {
    await deleteQueueKeys(env.redisUrl, env.queuePrefix);
    return;
  }
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    // A running worker's statements lock the same tables: PostgreSQL may pick the DROP as a deadlock's victim; drop again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${queueSchemaName(env.queuePrefix)}" CASCADE`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await client.end();
  }
}
