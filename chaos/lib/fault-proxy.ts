import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { busiestWindow, peakInWindow } from '../../bench/lib/sliding-window.js';

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

/**
 * An HTTP proxy between a worker's SES_ENDPOINT and the local SES that injures
 * a set share of requests before they reach SES (so an injured request never
 * delivers a message: any second copy in the store is the sender's doing).
 * It records when every forwarded request was accepted, to check the rate.
 */
export class FaultProxy {
  readonly injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, reset: 0, timeout: 0 };
  /**
   * Milliseconds since epoch at which each SendEmail that SES accepted
   * arrived: SES meters its rate as requests arrive, and the time its answer
   * takes to come back (the local SES slows as its store grows, and this
   * process is busy) is not the sender's pacing.
   */
  readonly accepted: number[] = [];
  /** Every request that arrived, injured or not. */
  requests = 0;
  rates: FaultRates;
  private readonly held = new Set<http.ServerResponse>();

  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
    private readonly target: URL,
    rates: FaultRates,
    private readonly timeoutHoldMs: number,
  ) {
    this.rates = rates;
  }

  static async start(targetEndpoint: string, rates: FaultRates = NO_FAULTS, options: { timeoutHoldMs?: number } = {}): Promise<FaultProxy> {
    const holder: { proxy?: FaultProxy } = {};
    const server = http.createServer((req, res) => holder.proxy?.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const proxy = new FaultProxy(server, `http://127.0.0.1:${port}`, new URL(targetEndpoint), rates, options.timeoutHoldMs ?? 15_000);
    holder.proxy = proxy;
    return proxy;
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

  private pick(): FaultKind | undefined {
    let roll = Math.random();
    for (const kind of Object.keys(this.rates) as FaultKind[]) {
      roll -= this.rates[kind];
      if (roll < 0) return kind;
    }
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const arrivedAt = Date.now();
      const body = Buffer.concat(chunks);
      const isSend = req.method === 'POST' && /outbound-emails/.test(req.url ?? '');
      if (isSend) this.requests += 1;
      const fault = isSend ? this.pick() : undefined;
      if (fault) this.injected[fault] += 1;
      switch (fault) {
        case 'throttle':
          return this.error(res, 429, 'TooManyRequestsException', 'Maximum sending rate exceeded.');
        case 'serverError':
          return this.error(res, 500, 'InternalFailure', 'injected internal failure');
        case 'reset':
          req.socket.destroy();
          return;
        case 'timeout': {
          this.held.add(res);
          setTimeout(() => {
            this.held.delete(res);
            req.socket.destroy();
          }, this.timeoutHoldMs).unref();
          return;
        }
        default:
          this.forward(req, res, body, isSend, arrivedAt);
      }
    });
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ message }));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, isSend: boolean, arrivedAt: number): void {
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.target.host },
      },
      (answer) => {
        if (isSend && answer.statusCode === 200) this.accepted.push(arrivedAt);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.socket?.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
