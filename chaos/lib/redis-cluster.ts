import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { runReverify, sleep } from './processes.js';

export const CLUSTER_PORTS = [7101, 7102, 7103] as const;

export interface LocalRedisCluster {
  /** A seed node URL for REDIS_URL (with REDIS_CLUSTER=true). */
  readonly url: string;
  /** Which node holds each of `keys`' slots, as "key → port". */
  slotOwners(keys: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Three redis-server processes in cluster mode on loopback ports 7101–7103,
 * joined with `redis-cli --cluster create` (no replicas, no persistence).
 */
export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rv-chaos-cluster-'));
  const nodes: ChildProcess[] = [];
  const stop = async () => {
    for (const node of nodes) node.kill('SIGKILL');
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of CLUSTER_PORTS) {
      const busy = await run('redis-cli', ['-p', String(port), 'ping']);
      if (busy.output.includes('PONG')) throw new Error(`port ${port} already has a Redis: stop it (or the cluster a previous run left) first`);
      const node = spawn(
        'redis-server',
        ['--cluster-enabled', 'yes', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--maxmemory-policy', 'noeviction'],
        { stdio: 'ignore' },
      );
      nodes.push(node);
    }
    for (const port of CLUSTER_PORTS) {
      for (let i = 0; ; i += 1) {
        if ((await run('redis-cli', ['-p', String(port), 'ping'])).output.includes('PONG')) break;
        if (i > 50) throw new Error(`redis-server on port ${port} did not start`);
        await sleep(100);
      }
    }
    const created = await run('redis-cli', ['--cluster', 'create', ...CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.output.slice(-500)}`);
    for (let i = 0; ; i += 1) {
      const info = await run('redis-cli', ['-p', String(CLUSTER_PORTS[0]), 'cluster', 'info']);
      if (info.output.includes('cluster_state:ok')) break;
      if (i > 100) throw new Error(`the cluster did not become ok: ${info.output}`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${CLUSTER_PORTS[0]}`,
    async slotOwners(keys) {
      const cluster = new Cluster([{ host: '127.0.0.1', port: CLUSTER_PORTS[0] }]);
      try {
        const owners: string[] = [];
        for (const key of keys) {
          const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
          owners.push(`${key} → slot ${slot}`);
        }
        return owners;
      } finally {
        cluster.disconnect();
      }
    },
    stop,
  };
}

/** Keys of `prefix` on each node of the cluster: with one {hash tag} they must all sit on one node. */
export async function keysPerNode(prefix: string): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const port of CLUSTER_PORTS) {
    const result = await run('redis-cli', ['-p', String(port), '--scan', '--pattern', `${prefix}*`]);
    counts[port] = result.output.split('\n').filter((line) => line.trim()).length;
  }
  return counts;
}

export { runReverify };
