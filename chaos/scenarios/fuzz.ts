import { loadConfig } from '../../src/config.js';
import { BOUNDED_RUNS, buildProperties, fuzz, replayRegressions } from '../../test/fuzz/harness.js';
import type { PropertyName } from '../../test/fuzz/properties.js';
import { reverifyEnv } from '../lib/env.js';
import { createScratch } from '../lib/scratch.js';
import type { Scenario } from '../lib/types.js';

/**
 * `npm run chaos -- fuzz`: the long property-based fuzz run, the same
 * properties as test/fuzz/fuzz.test.ts with many more cases (×100, ×10 with
 * --short). A counterexample's seed and path are added to
 * test/fuzz/regressions.json, so every later `npm test` replays it.
 */
export const fuzzScenario: Scenario = {
  name: 'fuzz',
  title: 'property-based fuzzing of the SNS parser, signature check, webhook and SES state machine',
  async run(ctx) {
    const factor = ctx.short ? 10 : 100;
    const scratch = await createScratch('fuzz');
    const notes: string[] = [];
    let cases = 0;
    let failures = 0;
    try {
      const properties = await buildProperties(scratch.db, (overrides) => loadConfig(reverifyEnv(scratch, { LOG_LEVEL: 'silent', ...overrides })), () => new Date());
      for (const name of Object.keys(BOUNDED_RUNS) as PropertyName[]) {
        const replayed = await replayRegressions(name, properties[name]);
        for (const report of replayed) notes.push(`${name}: a kept counterexample fails again: ${report.split('\n')[0]}`);
        const outcome = await fuzz(name, properties[name], BOUNDED_RUNS[name] * factor, true);
        cases += outcome.runs;
        failures += replayed.length + (outcome.failed ? 1 : 0);
        ctx.log(`${name}: ${outcome.runs} cases, ${outcome.failed ? 'FAILED' : 'held'}`);
        if (outcome.failed) notes.push(`${name}: seed ${outcome.seed} path ${outcome.path} kept in test/fuzz/regressions.json: ${outcome.report?.split('\n')[0]}`);
      }
      return {
        faults: `${cases} generated or mutated inputs over 5 properties`,
        messages: cases,
        lost: null,
        doubled: null,
        http5xx: null,
        peakMemoryMb: null,
        pass: failures === 0,
        ran: true,
        notes,
      };
    } finally {
      await scratch.drop();
    }
  },
};
