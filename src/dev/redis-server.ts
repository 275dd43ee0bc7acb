import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { redisAnswers } from '../queue/connection.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export interface DevRedis {
  readonly url: string;
  /** How it was found, for the banner. */
  readonly source: string;
  stop(): Promise<void>;
}

/** The first `name` on PATH, or undefined. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The queue's Redis for `reverify dev`: a private `redis-server` from the PATH
 * (no persistence, data dir under `dataDir`, noeviction), else a Redis already
 * answering on 127.0.0.1:6379, else an error saying how to get one.
 */
export async function startDevRedis(options: { dataDir: string; log: Logger }): Promise<DevRedis> {
  const binary = findOnPath('redis-server');
  if (binary) return startRedisServer(binary, options);
  const fallback = 'redis://127.0.0.1:6379';
  if (await redisAnswers(fallback, 1000)) {
    options.log.warn(`no redis-server on the PATH: using the Redis already answering at ${fallback} (keys under the {reverify-dev} prefix)`);
    return { url: fallback, source: `existing Redis at ${fallback} (no redis-server on the PATH)`, stop: async () => undefined };
  }
  throw new Error(
    'reverify dev needs Redis for its queues: no redis-server was found on the PATH and nothing answers on 127.0.0.1:6379. ' +
      'Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a Redis you run.',
  );
}

async function startRedisServer(binary: string, options: { dataDir: string; log: Logger }): Promise<DevRedis> {
  await mkdir(options.dataDir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', options.dataDir, '--maxmemory-policy', 'noeviction'],
    // Its own process group: a Ctrl-C in the terminal is ours to handle, and we stop it last.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(`redis-server on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return redisAnswers(url, 1000);
    }, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`redis-server (${binary}) did not start:\n${output.trim()}`, { cause: error });
  }
  options.log.debug({ port, binary }, 'redis-server started');
  let stopping: Promise<void> | undefined;
  return {
    url,
    source: `redis-server from the PATH (${binary}), port ${port}`,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
}
