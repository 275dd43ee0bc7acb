import type { Config } from '../config.js';
import { QUEUE_NAMES } from '../queue/names.js';

/**
 * The send pace, in one place. How the figures fit together:
 *
 * 1. The account's rate is SES_MAX_SEND_RATE messages a second, shared by
 *    every worker process. Sends are spaced `sendIntervalMs` apart: 3%
 *    wider than 1/rate (SEND_PACE_SLACK), so a send that leaves a little
 *    late never puts more than the rate into a sliding second.
 * 2. A send job carries `sendBatchSize` ledger rows: as many as the rate
 *    allows in one SEND_WINDOW_MS (100 ms) window, 1 to MAX_SEND_BATCH (16).
 *    A campaign tick enqueues jobs of that size; a job made under a higher
 *    rate is split again when it runs (jobs/send-email.ts).
 * 3. The send queue's limiter lets one job start per `sendWindowMs` (the
 *    time its rows take at the interval), across all workers: jobs start
 *    at the account's pace (`sendLimiter`).
 * 4. The send gate (send-gate.ts) then gives each row its own send time
 *    from a pace shared through the queue store; a row is claimed
 *    CLAIM_LEAD_MS before its time, and a send more than LATE_SEND_MS past
 *    its time trades it for a new one. A process whose store answers are too
 *    slow to know the store's clock within PACE_MARGIN_MS leaves a gap after
 *    its times. A store that does not answer within GATE_ANSWER_TIMEOUT_MS
 *    leaves the job paced from now.
 * 5. One process has at most SEND_SLOTS SendEmail calls in flight
 *    (send-slots.ts), runs `sendJobConcurrency` send jobs at once and holds
 *    at most MAX_CLAIMED_ROWS claimed rows (what a killed process can leave
 *    as unknown outcomes).
 * 6. When SES says 429, the whole send queue waits THROTTLE_BACKOFF_MS.
 *
 * With the limiter off (a benchmark measuring the send path at full speed)
 * only 2 and 5 apply.
 */

type Rate = Pick<Config, 'SES_MAX_SEND_RATE'>;

/**
 * Every send is spaced 3% wider than 1 / SES_MAX_SEND_RATE. A sliding second
 * then holds at most the rate even when some sends leave up to 30 ms later
 * than their time and others on time (a busy event loop, a garbage
 * collection, the first render compiling its template: measured up to 11 ms
 * at 50/s), and a campaign still goes at about 97% of the quota.
 */
export const SEND_PACE_SLACK = 1.03;

/**
 * What the slack leaves over a sliding second: `rate` intervals span 1030 ms,
 * so a send may leave up to 30 ms later than its time, against a later send
 * on time, before the second holds one send too many.
 */
export const PACE_MARGIN_MS = 1000 * (SEND_PACE_SLACK - 1);

/** The time between two of the account's sends, in milliseconds. */
export function sendIntervalMs(config: Rate): number {
  return (1000 * SEND_PACE_SLACK) / config.SES_MAX_SEND_RATE;
}

/** Most ledger rows one send job carries. (32 measured no faster than 16.) */
export const MAX_SEND_BATCH = 16;

/**
 * The limiter's window for one job's rows. A window this long (or the time
 * one message takes, if longer) makes the ~1 ms BullMQ takes to let the
 * next job out after a window ends cost about 1% of the quota, and every
 * job spans about 100 ms whatever the rate, so a pause stops sending within
 * a fraction of a second.
 */
export const SEND_WINDOW_MS = 100;

/**
 * Rows one send job carries: as many as the account may send in one window,
 * 1 to MAX_SEND_BATCH (one below 20 a second, 5 at 50, 16 from 160 on).
 * BullMQ's per-job cost and the ledger's two statements are shared by the
 * job's rows.
 */
export function sendBatchSize(config: Rate): number {
  return Math.min(MAX_SEND_BATCH, Math.max(1, Math.floor((config.SES_MAX_SEND_RATE * SEND_WINDOW_MS) / 1000)));
}

/**
 * The limiter's window: the time the gate takes to let one job's rows out,
 * to the nearest millisecond, and never shorter than the rows take at the
 * rate itself (the limiter alone keeps the quota on average). With the
 * ~1 ms between windows, jobs start a little slower than the gate sends,
 * so a job's claimed rows rarely wait behind another job's.
 */
export function sendWindowMs(config: Rate): number {
  const rows = sendBatchSize(config);
  return Math.max(Math.ceil((1000 * rows) / config.SES_MAX_SEND_RATE), Math.round(rows * sendIntervalMs(config)));
}

/**
 * One job started per window, account-wide (the limiter lives in the queue
 * store). With `max` > 1, or one 1-second window, bursts fall inside one
 * sliding second (measured: 99 sends in a second at 50/s).
 */
export function sendLimiter(config: Rate): { max: number; duration: number } {
  return { max: 1, duration: sendWindowMs(config) };
}

/** SendEmail calls one process has in flight at most, across all its send jobs. */
export const SEND_SLOTS = 16;

/**
 * Most ledger rows one process's running send jobs hold at once. With the
 * gate a row is claimed only CLAIM_LEAD_MS before its time, so far fewer
 * are `sending` at any moment; at full speed a job claims all its rows at once.
 */
export const MAX_CLAIMED_ROWS = 80;

/**
 * Send jobs one process runs at once: enough for SEND_SLOTS calls in
 * flight, plus four jobs more when jobs carry several rows, so the slots
 * stay busy while other jobs claim or record (with two more, jobs fell into
 * step and left the main thread idle) — never more rows than MAX_CLAIMED_ROWS.
 */
export function sendJobConcurrency(config: Rate): number {
  const batch = sendBatchSize(config);
  if (batch === 1) return SEND_SLOTS;
  return Math.min(Math.ceil(SEND_SLOTS / batch) + 4, Math.floor(MAX_CLAIMED_ROWS / batch));
}

/** How long before its send time a row is claimed: more than a claim statement takes, so the send is not late. */
export const CLAIM_LEAD_MS = 25;

/**
 * A send this much past its time gives the time up and takes a new one:
 * well inside the PACE_MARGIN_MS the spacing leaves. The last check is made where
 * the signed request goes on the wire, so only the network comes after it.
 */
export const LATE_SEND_MS = 10;

/**
 * How long a job waits for the gate's answer before pacing its sends from
 * now: its rows are claimed, and a job held up by a queue store outage
 * would be taken for a crashed one (its rows failed as unknown outcomes).
 */
export const GATE_ANSWER_TIMEOUT_MS = 1_000;

/** How long the whole send queue waits after SES says 429. */
export const THROTTLE_BACKOFF_MS = 1_000;

/**
 * What the send queue's workers need from the pace: their concurrency and,
 * unless a benchmark runs at full speed (`limited` false), the limiter.
 */
export function sendQueuePace(config: Rate, { limited = true } = {}) {
  return {
    concurrency: { [QUEUE_NAMES.send]: sendJobConcurrency(config) },
    limiters: limited ? { [QUEUE_NAMES.send]: sendLimiter(config) } : {},
  };
}
