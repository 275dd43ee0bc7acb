import { beforeAll, describe, expect, it } from 'vitest';
import { useTestEnv } from '../helpers/env.js';
import { BOUNDED_RUNS, buildProperties, fuzz, replayRegressions, type AnyProperty } from './harness.js';
import type { PropertyName } from './properties.js';

/**
 * The bounded fuzz pass (`npm run chaos -- fuzz` is the long one): random and
 * mutated SNS messages and SES documents through the parsers, the signature
 * check and the whole webhook, and random event sequences through the state
 * machine. Kept counterexamples (regressions.json) are replayed first.
 */

const env = useTestEnv();
let properties: Record<PropertyName, AnyProperty>;

beforeAll(async () => {
  const app = env.app();
  properties = await buildProperties(app.db, (overrides) => env.config(overrides), app.clock);
});

describe.each(Object.keys(BOUNDED_RUNS) as PropertyName[])('fuzz: %s', (name) => {
  it('replays the kept counterexamples, then holds for fresh random input', async () => {
    expect(await replayRegressions(name, properties[name])).toEqual([]);
    const outcome = await fuzz(name, properties[name], BOUNDED_RUNS[name], false);
    expect(outcome.report ?? 'ok').toBe('ok');
    expect(outcome.runs).toBe(BOUNDED_RUNS[name]);
  }, 60_000);
});
