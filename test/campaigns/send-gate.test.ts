import { describe, expect, it } from 'vitest';
import { GATE_ANSWER_TIMEOUT_MS, LATE_SEND_MS, sendIntervalMs } from '../../src/pace/pace.js';
import { SendGate, sendGateFor, sendGateKey } from '../../src/pace/send-gate.js';
import type { PaceStore } from '../../src/queue/backend.js';
import { useTestEnv } from '../helpers/env.js';
import { peakInWindow } from '../../src/pace/sliding-window.js';

/**
 * The send gate spaces SendEmail calls across every worker process: these
 * tests reserve send times from two apps (two connections, as two processes
 * have) on the real queue store (Redis, or PostgreSQL on the postgres
 * project) and look at when the sends may leave.
 */
const env = useTestEnv();

const reserved: number[] = [];

/**
 * Reserves `count` send times and resolves with the moment (ms, performance
 * clock) each send would leave: as the send path does, each waits for its
 * time and then confirms it (a send woken too late by a busy machine trades
 * its time for a new one). The first reserved times go to `reserved`.
 */
async function sendTimes(gate: SendGate, count: number): Promise<number[]> {
  const schedule = await gate.reserve(count);
  for (let k = 0; k < count; k += 1) reserved.push(schedule.at(k));
  return Promise.all(
    Array.from({ length: count }, async (_, k) => {
      await schedule.waitFor(k);
      await schedule.confirm(k);
      return performance.now();
    }),
  );
}

describe('send gate', () => {
  it('spaces the sends of two processes reserving at once: no sliding second holds more than the rate', async () => {
    const first = env.app({ overrides: { SES_MAX_SEND_RATE: '20' } });
    const second = env.app({ overrides: { SES_MAX_SEND_RATE: '20' } });
    try {
      // As a worker does before it takes jobs (on PostgreSQL: the queue schema and the pace table).
      await Promise.all([first.queueBackend.prepare(), second.queueBackend.prepare()]);
      reserved.length = 0;
      const started = performance.now();
      // 48 sends at 20 a second, reserved by two processes in jobs of 4 and 3 rows, all at once.
      const times = (
        await Promise.all([
          ...Array.from({ length: 6 }, () => sendTimes(sendGateFor(first), 4)),
          ...Array.from({ length: 8 }, () => sendTimes(sendGateFor(second), 3)),
        ])
      ).flat();
      expect(times).toHaveLength(48);
      expect(peakInWindow(times)).toBeLessThanOrEqual(20);
      // The reserved times interleave the two processes' jobs, one interval
      // apart. A job's times are anchored where the store's answer arrives, so a
      // late answer (both cores busy: 6 ms seen in a full test run) moves them
      // closer to the next job's; uncoordinated processes would collide.
      const interval = sendIntervalMs(first.config);
      expect(interval).toBeCloseTo(51.5, 5);
      const sorted = [...reserved].sort((a, b) => a - b);
      const gaps = sorted.slice(1).map((at, i) => at - sorted[i]!).sort((a, b) => a - b);
      expect(gaps[0]).toBeGreaterThan(interval / 2);
      expect(gaps[Math.floor(gaps.length / 2)]).toBeCloseTo(interval, 0);
      // 48 sends at one per 51.5 ms: the last leaves 47 intervals after the first.
      expect(Math.max(...times) - started).toBeGreaterThanOrEqual(47 * interval - 5);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('makes a job wait behind the sends another process reserved before it', async () => {
    const first = env.app({ overrides: { SES_MAX_SEND_RATE: '50' } });
    const second = env.app({ overrides: { SES_MAX_SEND_RATE: '50' } });
    try {
      await Promise.all([first.queueBackend.prepare(), second.queueBackend.prepare()]);
      await first.queueBackend.pace.forget(sendGateKey(first.config));
      const reservedAt = performance.now();
      // The first process's job holds its ten times before the second asks
      // (a fixed pause is not enough: each process first reads the store's
      // clock three times, and under load the second finished first).
      await sendGateFor(first).reserve(10);
      const [later] = await sendTimes(sendGateFor(second), 1);
      // Ten sends at 20.6 ms each come first.
      expect(later! - reservedAt).toBeGreaterThanOrEqual(10 * 20.6 - 5);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('gives up the time of a send that comes too late and waits for a new one behind every reserved time', async () => {
    const app = env.app({ overrides: { SES_MAX_SEND_RATE: '50' } });
    try {
      await app.queueBackend.prepare();
      const gate = sendGateFor(app);
      const schedule = await gate.reserve(3);
      // The first send leaves at its time (on a loaded machine its timer may
      // wake late and trade too: counted from here on).
      await schedule.waitFor(0);
      await schedule.confirm(0);
      const before = gate.lateSends;
      // The second is held up (a stalled event loop) well past its time.
      await schedule.waitFor(1);
      const stalled = performance.now();
      while (performance.now() - stalled < 3 * LATE_SEND_MS) {
        // busy: nothing else runs
      }
      await schedule.confirm(1);
      const sentAt = performance.now();
      // Once; again when the new time's answer itself came late (a loaded machine, a slow statement).
      expect(gate.lateSends - before).toBeGreaterThanOrEqual(1);
      const traded = gate.lateSends;
      // Its new time comes after the third send's, one interval on.
      expect(sentAt).toBeGreaterThanOrEqual(schedule.at(2) + gate.intervalMs - 2);
      // Checked again where the request leaves (sendMessage's beforeWire):
      // measured against the time it holds now, so it is not late again.
      expect(schedule.at(1)).toBeGreaterThan(schedule.at(2));
      await schedule.confirm(1);
      expect(gate.lateSends).toBe(traded);
    } finally {
      await app.close();
    }
  });

  it('keeps a job whose answer came late on the times the store gave it, not shifted onto the next job’s', async () => {
    const app = env.app({ overrides: { SES_MAX_SEND_RATE: '50' } });
    try {
      await app.queueBackend.prepare();
      // The answer to the first reservation of rows reaches the process 40 ms
      // after the store ran it (an event loop busy starting a worker).
      const real = app.queueBackend.pace;
      let delayNext = true;
      const slowOnce: PaceStore = {
        reserve: async (key, intervalUs, count, gapUs) => {
          const answer = await real.reserve(key, intervalUs, count, gapUs);
          if (count > 0 && delayNext) {
            delayNext = false;
            await new Promise((resolve) => setTimeout(resolve, 40));
          }
          return answer;
        },
        forget: (key) => real.forget(key),
      };
      const gate = new SendGate(slowOnce, sendGateKey(app.config), sendIntervalMs(app.config));
      // Ten rows (206 ms of sends): the next job reserves while they are still ahead, even on a loaded machine.
      const late = await gate.reserve(10);
      const next = await gate.reserve(3);
      // Reserved back to back in the store: the late job's last time stays one interval before the next job's first.
      expect(next.at(0) - late.at(9)).toBeGreaterThan(gate.intervalMs - 1);
      expect(next.at(0) - late.at(9)).toBeLessThan(gate.intervalMs + 5);
    } finally {
      await app.close();
    }
  });

  it('keeps the rate across two processes when one hears the store’s answers 40–80 ms late (it cannot know the store’s clock better)', async () => {
    const first = env.app({ overrides: { SES_MAX_SEND_RATE: '10' } });
    const second = env.app({ overrides: { SES_MAX_SEND_RATE: '10' } });
    try {
      await Promise.all([first.queueBackend.prepare(), second.queueBackend.prepare()]);
      const real = second.queueBackend.pace;
      // Every answer reaches the slow process 40-80 ms after the store read its clock (a loaded machine, a distant store).
      const slowAnswers: PaceStore = {
        reserve: async (...args) => {
          const answer = await real.reserve(...args);
          await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 40));
          return answer;
        },
        forget: (key) => real.forget(key),
      };
      const key = sendGateKey(first.config);
      const fast = new SendGate(first.queueBackend.pace, key, sendIntervalMs(first.config));
      const slow = new SendGate(slowAnswers, key, sendIntervalMs(first.config));
      // Both have sent before (they have read the store's clock). Then one-row
      // jobs (a low rate) start in both, one after the other, faster than
      // they may send: the store's times go to the two in turn, all taken.
      await Promise.all([sendTimes(fast, 1), sendTimes(slow, 1)]);
      const jobs: Array<Promise<number[]>> = [];
      for (let round = 0; round < 12; round += 1) {
        jobs.push(sendTimes(fast, 1), sendTimes(slow, 1));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const times = (await Promise.all(jobs)).flat();
      expect(times).toHaveLength(24);
      expect(peakInWindow(times)).toBeLessThanOrEqual(10);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('the pace store leaves the asked gap after a reservation, and a clock read (count 0) moves nothing', async () => {
    const app = env.app();
    await app.queueBackend.prepare();
    const { pace } = app.queueBackend;
    const key = `${sendGateKey(app.config)}-gap`;
    await pace.forget(key);
    const first = await pace.reserve(key, 1_000, 3, 50_000);
    await pace.reserve(key, 1_000, 0, 900_000);
    const next = await pace.reserve(key, 1_000, 1, 0);
    // Three times 1 ms apart, then 50 ms left free; the read in between ignored its gap.
    expect(next.firstUs - first.firstUs).toBe(3 * 1_000 + 50_000);
    await pace.forget(key);
  });

  it('paces a job from now, and says so, when the queue store does not answer', async () => {
    // A store that is not there: Redis commands wait for a connection that
    // never comes (the gate stops waiting after GATE_ANSWER_TIMEOUT_MS); a
    // PostgreSQL connection is refused at once.
    const app = env.app({ overrides: { REDIS_URL: 'redis://127.0.0.1:1', QUEUE_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/absent' } });
    const warnings: string[] = [];
    const log = { warn: (_fields: unknown, message: string) => warnings.push(message) } as never;
    const gate = new SendGate(app.queueBackend.pace, 'gate-test', 10, log);
    try {
      const started = performance.now();
      const times = await sendTimes(gate, 3);
      const answered = times[0]! - started;
      expect(answered).toBeLessThan(GATE_ANSWER_TIMEOUT_MS + 500);
      expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(2 * 10 - 2);
      // Once, or again for a send that woke late and asked for a new time.
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(new Set(warnings)).toEqual(new Set(['the send gate did not answer; pacing this job from now']));
    } finally {
      await app.close();
    }
  });
});
