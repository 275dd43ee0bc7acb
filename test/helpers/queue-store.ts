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
    await client.query(`DROP SCHEMA IF EXISTS "${queueSchemaName(env.queuePrefix)}" CASCADE`);
  } finally {
    await client.end();
  }
}
