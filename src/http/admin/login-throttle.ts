/**
 * Failed logins are throttled per client address: after `limit` wrong
 * credentials within `windowMs`, that address is answered 429 (without
 * checking what it sends) until the window since its first counted failure
 * has passed. A correct login does not reset the count: a guesser who also
 * knows the password gains nothing from it. Kept in memory: each server
 * process throttles on its own, and a restart forgets, which only helps a
 * guesser who can restart the server.
 */

export interface LoginThrottleOptions {
  limit: number;
  windowMs: number;
  /** Addresses tracked at most; the oldest are forgotten first (a flood cannot grow memory). */
  maxAddresses?: number;
}

interface Failures {
  since: number;
  count: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly options: LoginThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds `address` must wait before trying again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const entry = this.current(address);
    if (!entry || entry.count < this.options.limit) return 0;
    return Math.max(1, Math.ceil((entry.since + this.options.windowMs - this.now()) / 1000));
  }

  /** Counts one failed login from `address`. */
  recordFailure(address: string): void {
    const entry = this.current(address) ?? { since: this.now(), count: 0 };
    entry.count += 1;
    this.failures.delete(address);
    this.failures.set(address, entry);
    const max = this.options.maxAddresses ?? 10_000;
    while (this.failures.size > max) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
  }

  private current(address: string): Failures | undefined {
    const entry = this.failures.get(address);
    if (entry && entry.since + this.options.windowMs <= this.now()) {
      this.failures.delete(address);
      return undefined;
    }
    return entry;
  }
}
