import { readFileSync } from 'node:fs';

/**
 * How this process's main thread spent a stretch of wall time, as fractions:
 * on a core, runnable but waiting for one, asleep (nothing to do). On a
 * small machine a contender loses time to the processes it wakes (a database
 * backend, a Redis, the SES stand-in) as well as to its own work, and only
 * the scheduler sees the difference.
 */
export interface MainThreadShare {
  running: number;
  waiting: number;
  asleep: number;
}

/** Starts watching; `stop` returns the share since, or undefined where Linux's /proc/self/task/<pid>/schedstat is not there. */
export function watchMainThread(): { stop(): MainThreadShare | undefined } {
  const start = readSchedstat();
  const started = performance.now();
  return {
    stop() {
      const end = readSchedstat();
      if (!start || !end) return undefined;
      const wallNs = (performance.now() - started) * 1e6;
      const running = (end.runNs - start.runNs) / wallNs;
      const waiting = (end.waitNs - start.waitNs) / wallNs;
      return { running, waiting, asleep: Math.max(0, 1 - running - waiting) };
    },
  };
}

/** Averages shares and prints them as "running/waiting/asleep %". */
export function describeShares(shares: ReadonlyArray<MainThreadShare | undefined>): string {
  const known = shares.filter((share): share is MainThreadShare => share !== undefined);
  if (known.length === 0) return 'not measured';
  const mean = (pick: (share: MainThreadShare) => number) => ((100 * known.reduce((sum, share) => sum + pick(share), 0)) / known.length).toFixed(0);
  return `${mean((s) => s.running)}/${mean((s) => s.waiting)}/${mean((s) => s.asleep)}%`;
}

function readSchedstat(): { runNs: number; waitNs: number } | undefined {
  try {
    const [runNs, waitNs] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return runNs === undefined || waitNs === undefined ? undefined : { runNs, waitNs };
  } catch {
    return undefined;
  }
}
