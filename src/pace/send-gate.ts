import type { App } from '../app/app.js';
import type { Config } from '../config.js';
import { GATE_ANSWER_TIMEOUT_MS, LATE_SEND_MS, PACE_MARGIN_MS, sendIntervalMs } from './pace.js';
import type { Logger } from '../logger.js';
import { QUEUE_NAMES } from '../queue/names.js';
import type { PaceStore } from '../queue/backend.js';

/** When each of a job's sends may leave. */
export interface SendSchedule {
  /** The k-th reserved time (performance clock, ms). */
  at(k: number): number;
  /** Resolves at the k-th reserved time, or `leadMs` before it. */
  waitFor(k: number, leadMs?: number): Promise<void>;
  /**
   * Called right before the k-th send leaves: if it is more than
   * LATE_SEND_MS past its time (a stalled event loop, a slow render), the
   * time is given up and a new one reserved and waited for, as often as
   * needed. A late send followed by others on time would crowd more than
   * the rate into one second. It may be called again for the same send (the
   * last check sits where the request goes on the wire): it then measures
   * against the time the send holds now.
   */
  confirm(k: number): Promise<void>;
}

/**
 * The account-wide send pace. BullMQ's limiter decides when a send job may
 * start, but not when its SendEmail calls leave: between the two lie a
 * claim statement, renders and a busy event loop, and the time they take
 * differs from job to job and from worker to worker, so sends of jobs let
 * out evenly can still bunch (measured: 31 in one second at 30/s with three
 * workers). The gate spaces the calls themselves: a job reserves one time
 * per row it carries and sends each row's message at its time.
 */
export class SendGate {
  private intervalUs: number;
  /** Sends that came too late for their time and took a new one. */
  lateSends = 0;
  /**
   * This process's clock minus the pace store's, in ms: the smallest "answer
   * arrived minus the store's time" seen. Reserved times are on the store's clock; mapping
   * them through this rather than through when each answer arrived keeps a
   * late answer (a busy event loop, a worker starting up) from moving a
   * job's times onto the next job's: measured 106 sends in one second at
   * 100/s after worker restarts, and 6 ms of drift in a loaded test run.
   */
  private offsetMs: number | undefined;
  /**
   * The largest "asked minus the store's time" seen: the offset is at least
   * this. offsetMs minus this is how late, at most, this process's sends may
   * leave against another process's for not knowing the store's clock better
   * (measured up to 17 ms on PostgreSQL under load).
   */
  private offsetFloorMs: number | undefined;

  constructor(
    private readonly pace: PaceStore,
    private readonly key: string,
    private currentIntervalMs: number,
    private readonly log?: Logger,
  ) {
    this.intervalUs = Math.max(1, Math.round(currentIntervalMs * 1000));
  }

  /** The time between two of the account's sends, in ms. */
  get intervalMs(): number {
    return this.currentIntervalMs;
  }

  /**
   * Spaces later reservations `intervalMs` apart: the account's rate changed
   * (GetAccount, src/ses-account/). Times already reserved keep their spacing.
   */
  setIntervalMs(intervalMs: number): void {
    this.currentIntervalMs = intervalMs;
    this.intervalUs = Math.max(1, Math.round(intervalMs * 1000));
  }

  /**
   * Reserves `count` consecutive send times. If the pace store does not answer in
   * time, the sends are spaced from now instead (the limiter already let
   * this job out; only the spacing across workers is lost meanwhile).
   */
  async reserve(count: number): Promise<SendSchedule> {
    const spacingMs = this.currentIntervalMs;
    const firstAt = (count > 0 ? await this.reservedStart(count) : undefined) ?? performance.now();
    // A send that came late trades its time for a new one (see confirm).
    const traded = new Map<number, number>();
    const at = (k: number) => traded.get(k) ?? firstAt + k * spacingMs;
    const waitFor = async (k: number, leadMs = 0) => {
      const waitMs = at(k) - leadMs - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    };
    return {
      at,
      waitFor,
      confirm: async (k) => {
        while (performance.now() - at(k) > LATE_SEND_MS) {
          this.lateSends += 1;
          const fresh = await this.reserve(1);
          traded.set(k, fresh.at(0));
          await waitFor(k);
        }
      },
    };
  }

  /** The first reserved time on this process's clock, or undefined when the pace store did not answer (then: from now). */
  private async reservedStart(count: number): Promise<number | undefined> {
    // A process's first answers are often slow ones (it is starting up):
    // a few reads of the store's clock first (count 0 reserves nothing).
    if (this.offsetMs === undefined) {
      for (let i = 0; i < 3; i += 1) if ((await this.runScript(0, 0)) === undefined) return undefined;
    }
    const firstUs = await this.runScript(count, this.trailingGapUs());
    return firstUs === undefined ? undefined : firstUs / 1000 + this.offsetMs!;
  }

  /**
   * Time to leave free after this reservation's sends. Each send may leave
   * LATE_SEND_MS past its time, and later still by as much as this process
   * does not know the store's clock: when the two together pass what the
   * spacing leaves (PACE_MARGIN_MS), the next process's sends are pushed
   * back by the difference, so they cannot crowd a sliding second. 0 unless
   * the store's answers are slow (then: a little of the quota for the rate).
   */
  private trailingGapUs(): number {
    const uncertaintyMs = this.offsetMs! - this.offsetFloorMs!;
    return Math.max(0, Math.round((uncertaintyMs + LATE_SEND_MS - PACE_MARGIN_MS) * 1000));
  }

  /** Reserves `count` times (then `gapUs` free); learns the clock offset from the answer; returns the first reserved time (µs, the store's clock). */
  private async runScript(count: number, gapUs: number): Promise<number | undefined> {
    const asked = performance.now();
    const answer = await this.answered(this.pace.reserve(this.key, this.intervalUs, count, gapUs));
    if (answer === undefined) return undefined;
    this.observe(asked, performance.now(), answer.nowUs);
    return answer.firstUs;
  }

  /**
   * The store read its clock (`storeNowUs`) between `asked` and `answered`, so
   * the offset lies between `asked - store` and `answered - store`. The
   * tightest bounds seen are kept; bounds that the new answer contradicts
   * (a clock stepped) are replaced by its own.
   */
  private observe(asked: number, answered: number, storeNowUs: number): void {
    const storeNowMs = storeNowUs / 1000;
    const upper = answered - storeNowMs;
    const lower = asked - storeNowMs;
    if (this.offsetMs === undefined || lower > this.offsetMs || upper < this.offsetFloorMs!) {
      this.offsetMs = upper;
      this.offsetFloorMs = lower;
      return;
    }
    this.offsetMs = Math.min(this.offsetMs, upper);
    this.offsetFloorMs = Math.max(this.offsetFloorMs!, lower);
  }

  /** The answer, or undefined (and a warning) when the pace store fails or stays silent for GATE_ANSWER_TIMEOUT_MS. */
  private async answered<T>(request: Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const answer = request.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    const silence = new Promise<{ timedOut: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), GATE_ANSWER_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([answer, silence]);
      if ('value' in outcome) return outcome.value;
      const why = 'error' in outcome ? { err: outcome.error } : { timeoutMs: GATE_ANSWER_TIMEOUT_MS };
      this.log?.warn(why, 'the send gate did not answer; pacing this job from now');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The key of the account's send pace: on Redis inside the send queue's keys, so it shares their slot and goes when they are obliterated. */
export function sendGateKey(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `${config.QUEUE_PREFIX}:${QUEUE_NAMES.send}:pace`;
}

const gatesByApp = new WeakMap<App, SendGate>();

/** The send gate of a running app, created on first use. */
export function sendGateFor(app: App): SendGate {
  let gate = gatesByApp.get(app);
  if (!gate) {
    gate = new SendGate(app.queueBackend.pace, sendGateKey(app.config), sendIntervalMs(app.config), app.log);
    gatesByApp.set(app, gate);
  }
  return gate;
}
