/**
 * The most events in any window of `windowMs` that starts at an event
 * (times in ms, any order): how the benchmarks, the chaos scenarios and the
 * rate tests judge "no one-second window exceeds the rate".
 */
export function peakInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
