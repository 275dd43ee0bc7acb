import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestEnv } from '../helpers/env.js';
import { track } from '../helpers/resources.js';

const env = useTestEnv();
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
});

/** Spawns `reverify <command> --json` on port 0 and resolves with the port it prints once listening. */
function spawnServing(command: string) {
  const child = spawn(process.execPath, ['bin/reverify.mjs', command, '--json'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.env({ PORT: '0', ADMIN_PASSWORD: 'server-command-password', LOG_LEVEL: 'info' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  track(`reverify ${command} process`, () => child.exitCode === null && child.signalCode === null);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve((JSON.parse(stdout.split('\n')[0] ?? '') as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`reverify ${command} exited with ${code}:\n${stderr}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, port, exit, stderr: () => stderr };
}

describe.each(['server', 'start'])('reverify %s', (command) => {
  it('serves health, readiness and the guarded dashboard, and exits 0 on SIGTERM', async () => {
    const running = spawnServing(command);
    const base = `http://127.0.0.1:${await running.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    running.child.kill('SIGTERM');
    expect(await running.exit, running.stderr()).toBe(0);
    expect(running.stderr()).toMatch(/shutting down/);
  });
});
