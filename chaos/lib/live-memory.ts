import type { ReverifyProcess } from './processes.js';

/** Node's flag that opens the inspector on a free local port; a process started with it can be asked for its live memory. */
export const INSPECT_FLAG = '--inspect=127.0.0.1:0';

/** What a process holds once garbage is collected, in MB (`process.memoryUsage()` right after a full collection). */
export interface LiveMemory {
  heapUsedMb: number;
  externalMb: number;
  rssMb: number;
}

/** The inspector's address a process started with INSPECT_FLAG printed ("Debugger listening on ws://…"); read it soon after the start. */
export async function inspectorUrl(server: ReverifyProcess): Promise<string> {
  const line = await server.waitForLog(/Debugger listening on ws:\/\//, 5_000);
  return /(ws:\/\/\S+)/.exec(line)![1]!;
}

/**
 * Collects all garbage in the process behind `url` (the inspector's
 * HeapProfiler.collectGarbage) and reads its memory then. Resident memory
 * alone counts garbage V8 has not collected yet: under a burst of large
 * bodies the heap grows to make room and RSS stays up, leak or no leak.
 */
export async function liveMemory(url: string): Promise<LiveMemory> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`could not reach the inspector at ${url}`));
  });
  const pending = new Map<number, (message: { result?: unknown; error?: { message: string } }) => void>();
  // A process that dies mid-question fails the question rather than leaving it unanswered.
  socket.onclose = () => {
    for (const answer of pending.values()) answer({ error: { message: `the inspector at ${url} closed` } });
    pending.clear();
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  };
  let lastId = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = (lastId += 1);
      pending.set(id, (message) => (message.error ? reject(new Error(`${method}: ${message.error.message}`)) : resolve(message.result)));
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const evaluated = (await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as {
      result: { value: string };
    };
    const usage = JSON.parse(evaluated.result.value) as { heapUsed: number; external: number; rss: number };
    const mb = (bytes: number) => bytes / 1_048_576;
    return { heapUsedMb: mb(usage.heapUsed), externalMb: mb(usage.external), rssMb: mb(usage.rss) };
  } finally {
    socket.close();
  }
}
