import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/reverify.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Resident memory of `pid` in MB from /proc (0 once it is gone). */
export function residentMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return match?.[1] ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `reverify <args>` to the end with `env`; resolves with its exit code and output. */
export function runReverify(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  // JSON logs on stderr, never pino-pretty: the suite reads them.
  env.CI = '1';
  return env;
}

/**
 * A long-running `reverify worker|server|start` the suite can kill and start
 * again. Its log lines (pino JSON on stderr) are kept for `waitForLog`; its
 * memory is sampled every half second while it lives.
 */
export class ReverifyProcess {
  private child: ChildProcess | undefined;
  private lines: string[] = [];
  private sampler: NodeJS.Timeout | undefined;
  /** Highest resident memory seen over every incarnation, MB. */
  peakMb = 0;
  starts = 0;
  kills = 0;
  /** Unexpected exits (not caused by kill()/stop()). */
  crashes: Array<{ code: number | null; signal: string | null; tail: string }> = [];
  private expectingExit = false;

  constructor(
    readonly label: string,
    readonly command: string[],
    readonly env: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once a log line matches `ready` (default: "worker ready" / "server listening"). */
  async start(ready: RegExp = /"msg":"(worker ready|server listening)"/, timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.label} is already running`);
    this.lines = [];
    this.expectingExit = false;
    const child = spawn(process.execPath, [BIN, ...this.command], {
      cwd: ROOT,
      env: { ...baseEnv(), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
      if (this.lines.length > 20_000) this.lines.splice(0, 10_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', (code, signal) => {
      if (this.sampler) clearInterval(this.sampler);
      this.sample(child.pid);
      if (!this.expectingExit) this.crashes.push({ code, signal, tail: this.lines.slice(-40).join('\n') });
    });
    this.sampler = setInterval(() => this.sample(child.pid), 500);
    this.sampler.unref();
    await this.waitForLog(ready, timeoutMs);
  }

  private sample(pid: number | undefined): void {
    this.peakMb = Math.max(this.peakMb, residentMb(pid), residentMb(pid, 'VmHWM'));
  }

  /** Resolves when a log line (since the last start) matches `pattern`; rejects when the process dies first. */
  async waitForLog(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((line) => pattern.test(line));
      if (hit) return hit;
      if (!this.running) throw new Error(`${this.label} exited before logging ${pattern}:\n${this.lines.slice(-10).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${this.label} did not log ${pattern} within ${timeoutMs} ms:\n${this.lines.slice(-10).join('\n')}`);
      await sleep(100);
    }
  }

  /** Log lines since the last start that match `pattern`. */
  logLines(pattern?: RegExp): string[] {
    return pattern ? this.lines.filter((line) => pattern.test(line)) : [...this.lines];
  }

  /** SIGKILL: no shutdown, no cleanup, exactly like a machine losing power. */
  async kill(): Promise<void> {
    if (!this.running || !this.child) return;
    this.expectingExit = true;
    this.kills += 1;
    const exited = new Promise((resolve) => this.child?.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM and wait (graceful shutdown); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running || !this.child) return;
    this.expectingExit = true;
    const child = this.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { waitFor } from '../../src/dev/wait.js';
