import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/db/coalesce.js';

/** A batch function that records its batches and answers after `release()`. */
function gated<T>(answer: (inputs: T[]) => unknown[] | Error) {
  const batches: T[][] = [];
  const gates: Array<() => void> = [];
  const run = async (inputs: T[]) => {
    batches.push(inputs);
    await new Promise<void>((resolve) => gates.push(resolve));
    const result = answer(inputs);
    if (result instanceof Error) throw result;
    return result;
  };
  return {
    batches,
    run,
    async release() {
      while (gates.length > 0) gates.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

describe('Coalescer', () => {
  it('runs a lone request at once and gathers those that arrive while a batch runs', async () => {
    const gate = gated<number>((inputs) => inputs.map((n) => n * 10));
    const coalescer = new Coalescer(gate.run, { maxBatch: 3, maxInFlight: 1 });
    const first = coalescer.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(gate.batches).toEqual([[1]]);

    const later = [2, 3, 4, 5].map((n) => coalescer.submit(n));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(gate.batches).toEqual([[1]]);
    await gate.release();
    expect(await first).toBe(10);
    // The four waiting went as batches of at most three, in arrival order.
    expect(gate.batches).toEqual([[1], [2, 3, 4]]);
    await gate.release();
    expect(gate.batches).toEqual([[1], [2, 3, 4], [5]]);
    await gate.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40, 50]);
  });

  it('requests made in one turn of the event loop share one batch', async () => {
    const gate = gated<string>((inputs) => inputs.map((s) => s.toUpperCase()));
    const coalescer = new Coalescer(gate.run, { maxBatch: 10, maxInFlight: 2 });
    const answers = Promise.all(['a', 'b', 'c'].map((s) => coalescer.submit(s)));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(gate.batches).toEqual([['a', 'b', 'c']]);
    await gate.release();
    expect(await answers).toEqual(['A', 'B', 'C']);
  });

  it('a failed batch is retried one request at a time, so one bad input fails only itself', async () => {
    const calls: number[][] = [];
    const coalescer = new Coalescer(
      async (inputs: number[]) => {
        calls.push(inputs);
        if (inputs.includes(13)) throw new Error('13 is refused');
        return inputs.map((n) => n + 1);
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const results = await Promise.allSettled([12, 13, 14].map((n) => coalescer.submit(n)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 13 },
      { status: 'rejected', reason: new Error('13 is refused') },
      { status: 'fulfilled', value: 15 },
    ]);
    expect(calls).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  it('a batch function that answers the wrong number of results is an error, not a silent mix-up', async () => {
    const coalescer = new Coalescer(async (inputs: number[]) => inputs.slice(1), { maxBatch: 10, maxInFlight: 1 });
    await expect(coalescer.submit(1)).rejects.toThrow('batch returned 0 results for 1 requests');
  });

  it('never runs more than maxInFlight batches at once', async () => {
    let running = 0;
    let most = 0;
    const coalescer = new Coalescer(
      async (inputs: number[]) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
        return inputs;
      },
      { maxBatch: 2, maxInFlight: 2 },
    );
    const submitted: Array<Promise<number>> = [];
    for (let i = 0; i < 40; i += 1) {
      submitted.push(coalescer.submit(i));
      if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await Promise.all(submitted)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(most).toBe(2);
  });
  it('submitAll sends a job’s requests in one batch and settles each on its own', async () => {
    // 13 cannot be stored: its batch fails, then each is tried alone.
    const gate = gated<number>((inputs) => (inputs.includes(13) ? new Error('unlucky row') : inputs.map((n) => n + 1)));
    const coalescer = new Coalescer(gate.run, { maxBatch: 64, maxInFlight: 2 });
    const settled = coalescer.submitAll([11, 12, 13, 14]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(gate.batches).toEqual([[11, 12, 13, 14]]);
    await gate.release();
    await gate.release();
    const results = await settled;
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason)))).toEqual([12, 13, 'Error: unlucky row', 15]);
    expect(gate.batches.slice(1).map((batch) => batch.length)).toEqual([1, 1, 1, 1]);
  });
});
