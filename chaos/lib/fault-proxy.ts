import { Worker } from 'node:worker_threads';
import { busiestWindow, peakInWindow } from '../../src/pace/sliding-window.js';

/** Chance (0–1) of each fault per SendEmail request. */
export interface FaultRates {
  /** 429 TooManyRequestsException, without forwarding. */
  throttle: number;
  /** 500 InternalFailure, without forwarding. */
  serverError: number;
  /** The connection is reset before anything is forwarded. */
  reset: number;
  /** No answer for `timeoutHoldMs`, then the connection is dropped; nothing forwarded. */
  timeout: number;
}

export const NO_FAULTS: FaultRates = { throttle: 0, serverError: 0, reset: 0, timeout: 0 };

export type FaultKind = keyof FaultRates;

/** What the proxy's thread reports, in the order it happened. */
export type ProxyEvent =
  | { type: 'listening'; port: number }
  | { type: 'request' }
  | { type: 'injected'; kind: FaultKind }
  | { type: 'accepted'; at: number }
  | { type: 'synced'; id: number }
  | { type: 'stopped' };

/** What the harness asks of the proxy's thread. */
export type ProxyCommand = { type: 'sync'; id: number } | { type: 'stop' };

/**
 * An HTTP proxy between a worker's SES_ENDPOINT and the local SES that injures
 * a set share of requests before they reach SES (so an injured request never
 * delivers a message: any second copy in the store is the sender's doing).
 * It records when every forwarded request was accepted, to check the rate.
 *
 * The HTTP side runs on its own thread (fault-proxy-thread.ts). On the
 * harness's thread its timestamps were taken whenever the harness's event
 * loop came round to a request: while a scenario signed 1,200 SNS messages
 * or polled the database, the sends of that stretch were stamped together
 * and counted as a burst the worker never sent.
 */
export class FaultProxy {
  readonly injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, reset: 0, timeout: 0 };
  /**
   * Milliseconds since epoch at which each SendEmail that SES accepted
   * arrived: SES meters its rate as requests arrive, and the time its answer
   * takes to come back (the local SES slows as its store grows) is not the
   * sender's pacing. Current as of the last `settle()` (or `stop()`).
   */
  readonly accepted: number[] = [];
  /** Every request that arrived, injured or not. */
  requests = 0;
  private syncs = 0;
  private readonly waiting = new Map<number, () => void>();
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly thread: Worker,
    readonly endpoint: string,
  ) {
    thread.on('message', (event: ProxyEvent) => this.apply(event));
  }

  static async start(targetEndpoint: string, rates: FaultRates = NO_FAULTS, options: { timeoutHoldMs?: number } = {}): Promise<FaultProxy> {
    const thread = new Worker(new URL('./fault-proxy-thread.mjs', import.meta.url), {
      workerData: { target: targetEndpoint, rates, timeoutHoldMs: options.timeoutHoldMs ?? 15_000 },
    });
    const port = await new Promise<number>((resolve, reject) => {
      thread.once('error', reject);
      thread.on('message', (event: ProxyEvent) => {
        if (event.type === 'listening') resolve(event.port);
      });
    });
    return new FaultProxy(thread, `http://127.0.0.1:${port}`);
  }

  /** Resolves once every event the thread has reported so far is counted here. */
  async settle(): Promise<void> {
    const id = (this.syncs += 1);
    await new Promise<void>((resolve) => {
      this.waiting.set(id, resolve);
      this.thread.postMessage({ type: 'sync', id } satisfies ProxyCommand);
    });
  }

  private apply(event: ProxyEvent): void {
    switch (event.type) {
      case 'request':
        this.requests += 1;
        return;
      case 'injected':
        this.injected[event.kind] += 1;
        return;
      case 'accepted':
        this.accepted.push(event.at);
        return;
      case 'synced':
        this.waiting.get(event.id)?.();
        this.waiting.delete(event.id);
        return;
      default:
        return;
    }
  }

  get faultsInjected(): number {
    return Object.values(this.injected).reduce((sum, n) => sum + n, 0);
  }

  /** The most SendEmails SES accepted in any window of `windowMs` (sliding). */
  peakInWindow(windowMs = 1000): number {
    return peakInWindow(this.accepted, windowMs);
  }

  /**
   * Whether SES saw no more than `rate` messages a second: at most T × rate
   * arrivals in every sliding window of T = 1, 2, 5 and 10 s. Returns the
   * worst count / bound and the counts.
   */
  rateBound(rate: number): { worst: number; detail: string } {
    let worst = 0;
    const parts: string[] = [];
    for (const seconds of [1, 2, 5, 10]) {
      const peak = this.peakInWindow(seconds * 1000);
      const bound = Math.floor(rate * seconds);
      worst = Math.max(worst, peak / bound);
      parts.push(`${peak} in ${seconds} s (bound ${bound})`);
    }
    return { worst, detail: parts.join(', ') };
  }

  /**
   * Where the busiest one-second window lies, seconds after the first
   * acceptance, and the shortest gap between two arrivals inside it: tells
   * a burst (gaps of a few ms) from sends merely on the edge of their pace.
   */
  busiestSecond(): string {
    if (this.accepted.length === 0) return 'no sends';
    const window = busiestWindow(this.accepted, 1000);
    const inside = this.accepted.filter((at) => at >= window.first && at <= window.last).sort((a, b) => a - b);
    const gaps = inside.slice(1).map((at, i) => at - inside[i]!);
    const since = (window.first - Math.min(...this.accepted)) / 1000;
    const shortest = gaps.length > 0 ? `, shortest gap in it ${Math.min(...gaps)} ms` : '';
    return `busiest second: ${window.count} arrival(s) from ${since.toFixed(1)} s after the first${shortest}`;
  }

  /** Messages SES accepted in each wall-clock second, from the first to the last. */
  perSecond(): number[] {
    if (this.accepted.length === 0) return [];
    const first = Math.floor(Math.min(...this.accepted) / 1000);
    const counts: number[] = [];
    for (const at of this.accepted) {
      const index = Math.floor(at / 1000) - first;
      counts[index] = (counts[index] ?? 0) + 1;
    }
    return Array.from(counts, (n) => n ?? 0);
  }

  /** Stops taking requests (held ones are dropped) once every reported event is counted. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.settle();
      await new Promise<void>((resolve) => {
        this.thread.on('message', (event: ProxyEvent) => {
          if (event.type === 'stopped') resolve();
        });
        this.thread.postMessage({ type: 'stop' } satisfies ProxyCommand);
      });
      await this.thread.terminate();
    })();
    return this.stopped;
  }
}
