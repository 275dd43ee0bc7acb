import { execFileSync } from 'node:child_process';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDb } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { redisAnswers } from '../src/queue/connection.js';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, templateDatabaseName, withDatabase } from './helpers/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    redisUrl: string;
    templateDatabase: string;
    /** Which queue backend this project's files run on (vitest.config.ts). */
    queueBackend: 'redis' | 'postgres';
  }
}

/**
 * Finds PostgreSQL and Redis (the URLs given, the local services, or
 * containers when neither answers and Docker runs), then builds the migrated
 * template database that each test file copies.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<unknown>> = [];
  let adminUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  let redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

  if (!(await postgresAnswers(adminUrl))) {
    if (process.env.DATABASE_URL !== undefined || !dockerRuns()) {
      throw new Error(
        `PostgreSQL does not answer at ${redact(adminUrl)}. Start it, or set DATABASE_URL to a server where this user may CREATE DATABASE` +
          (process.env.DATABASE_URL === undefined ? ' (no Docker engine is running, so testcontainers cannot start one).' : '.'),
      );
    }
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15-alpine').start();
    stops.push(() => container.stop());
    adminUrl = container.getConnectionUri();
  }
  if (!(await redisAnswers(redisUrl))) {
    if (process.env.REDIS_URL !== undefined || !dockerRuns()) {
      throw new Error(`Redis does not answer at ${redact(redisUrl)}. Start it, or set REDIS_URL.`);
    }
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    stops.push(() => container.stop());
    redisUrl = container.getConnectionUrl();
  }

  // Named per run, so several runs (developers, CI) never collide; vitest 5 sets up once for both
  // projects (name ""), and a runner that set each project up apart would get a template each.
  const template = templateDatabaseName(process.pid, project.name || 'all');
  await buildTemplate(adminUrl, template);
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('templateDatabase', template);

  return async () => {
    await dropDatabases(adminUrl, `${template}%`);
    for (const stop of stops.reverse()) await stop();
  };
}

async function buildTemplate(adminUrl: string, template: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  const db = createDb(withDatabase(adminUrl, template), { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

/** Drops the template and any test database a crashed file left behind (kept ones are not). */
async function dropDatabases(adminUrl: string, pattern: string): Promise<void> {
  if (process.env.KEEP_TEST_DATABASES === '1') return;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [pattern]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function dockerRuns(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
