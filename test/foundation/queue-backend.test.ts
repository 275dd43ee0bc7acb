import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/config.js';
import { QUEUE_NAMES } from '../../src/queue/names.js';
import { PostgresQueueBackend, queueSchemaName } from '../../src/queue/postgres-backend.js';
import { createLogger } from '../../src/logger.js';
import { useTestEnv } from '../helpers/env.js';
import { withDatabase } from '../helpers/services.js';

const env = useTestEnv();

describe('queue backend', () => {
  it('is the one QUEUE_BACKEND names, and says where the queues live', () => {
    const app = env.app();
    expect(app.queueBackend.kind).toBe(env.queueBackend);
    expect(app.queueBackend.location).toContain(env.queueBackend === 'redis' ? `under prefix ${env.queuePrefix}` : `schema ${queueSchemaName(env.queuePrefix)}`);
    expect(app.queueBackend.location).not.toContain('@');
  });

  it('a queue made while its store is away works once the store is there (no restart)', async () => {
    // On PostgreSQL: a database that does not exist yet. On Redis: the same, for symmetry (ioredis reconnects by itself).
    const database = `${env.databaseUrl.split('/').pop()}_late`;
    const lateUrl = withDatabase(env.databaseUrl, database);
    const config = loadConfig({ ...env.env(), DATABASE_URL: lateUrl });
    const app = createApp(config);
    const admin = new pg.Client({ connectionString: env.databaseUrl });
    await admin.connect();
    try {
      const queue = app.queues.get(QUEUE_NAMES.maintenance);
      if (env.queueBackend === 'postgres') await expect(queue.getJobCounts()).rejects.toThrow(/does not exist/);
      await admin.query(`CREATE DATABASE ${database}`);
      await queue.add('reconcile', {}, { jobId: 'late-1' });
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    } finally {
      await app.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('on PostgreSQL, processes starting together on a fresh database all create or find the queue schema', async () => {
    // The worker and the server of `reverify start`, or several workers, come up at the same instant.
    const log = createLogger({ level: 'silent' });
    for (let round = 0; round < 4; round += 1) {
      const prefix = `${env.queuePrefix.slice(0, -1)}-fresh${round}}`;
      const backends = Array.from({ length: 4 }, () => new PostgresQueueBackend({ ...env.config(), QUEUE_PREFIX: prefix }, log));
      try {
        const prepared = await Promise.allSettled(backends.map((backend) => backend.prepare()));
        expect(prepared.filter((result) => result.status === 'rejected')).toEqual([]);
        expect(await backends[0]!.check(5_000)).toBe('ok');
      } finally {
        await Promise.all(backends.map((backend) => backend.close()));
      }
    }
  });

  it('on PostgreSQL, keeps the queues in a schema of their own named after QUEUE_PREFIX', () => {
    expect(queueSchemaName('{reverify}')).toBe('bullmq_reverify');
    expect(queueSchemaName('{reverify-dev}')).toBe('bullmq_reverify_dev');
    expect(queueSchemaName('a{B.c}')).toBe('bullmq_a_b_c');
  });
});
