import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { DevInfo } from '../../src/dev/stack.js';
import { track } from './resources.js';

/** A `reverify dev` child process of a test. */
export interface DevProcess {
  readonly process: ChildProcess;
  /** The --json line, once it is ready. */
  readonly ready: Promise<DevInfo>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `text` (the human banner's last line, without --json). */
  printed(text: string): Promise<void>;
  /** Sends SIGINT (a Ctrl-C) and resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Starts `command args` (by default node bin/reverify.mjs dev --json …) with
 * nothing but the given environment, as a newcomer's shell would.
 */
export function startDevProcess(command: string, args: string[], env: Record<string, string>): DevProcess {
  const child = spawn(command, args, { env: { HOME: process.env.HOME ?? tmpdir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  track('reverify dev process', () => child.exitCode === null && child.signalCode === null);
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-20_000)));
  const ready = new Promise<DevInfo>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as DevInfo);
    });
    child.once('exit', (code) => reject(new Error(`reverify dev exited with ${code} before it was ready:\n${err}`)));
  });
  ready.catch(() => undefined);
  return {
    process: child,
    ready,
    stdout: () => out,
    stderr: () => err,
    printed: (text) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!out.includes(text)) return;
          child.stdout?.off('data', check);
          resolve();
        };
        child.stdout?.on('data', check);
        child.once('exit', (code) => reject(new Error(`reverify dev exited with ${code} before printing "${text}":\n${err}`)));
        check();
      }),
    interrupt() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}

/** Reads `read` every half second until `done` holds, or fails naming `what` with the last value seen. */
export async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    last = await read();
  }
  return last;
}

/** Stack-trace lines ("    at f (file:…)") and uncaught-error banners in a process's output. */
export function stackTraceLines(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /^\s+at .*:\d+:\d+\)?$/.test(line) || /^(TypeError|Error|ReferenceError|RangeError)\b/.test(line) || /Unhandled/.test(line));
}
