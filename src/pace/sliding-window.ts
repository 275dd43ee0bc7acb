/**
 * The most events in any window of `windowMs` that starts at an event
 * (times in ms, any order): how the benchmarks, the chaos scenarios and the
 * rate tests judge "no one-second window exceeds the rate".
 */
export function peakInWindow(times: readonly number[], windowMs = 1000): number {
  return busiestWindow(times, windowMs).count;
}

/** The busiest window of `windowMs` (see peakInWindow): its count, and the times of its first and last events. */
export function busiestWindow(times: readonly number[], windowMs = 1000): { count: number; first: number; last: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let busiest = { count: 0, first: Number.NaN, last: Number.NaN };
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1;
    if (end - start + 1 > busiest.count) busiest = { count: end - start + 1, first: sorted[start]!, last: sorted[end]! };
  }
  return busiest;
}
