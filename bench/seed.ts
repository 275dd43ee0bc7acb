import { PROFILES } from '../src/seed/profiles.js';
import { seedDatabase } from '../src/seed/seed.js';
import { createScratchDatabase } from './lib/scratch.js';
import type { BenchResult } from './types.js';

/** `reverify seed --users 1000000` against the limit of one minute. */
export async function run(): Promise<BenchResult[]> {
  const scratch = await createScratchDatabase('rv_bench_seed');
  try {
    const started = performance.now();
    const counts = await seedDatabase(scratch.db, {
      users: 1_000_000,
      temporaryAccounts: 50_000,
      profile: PROFILES['pypi-2018']!,
      seed: 1,
      now: new Date(),
    });
    const seconds = (performance.now() - started) / 1000;
    return [
      {
        name: 'seed 1,000,000 users + 50,000 temporary accounts (pypi-2018)',
        figure: `${seconds.toFixed(1)} s`,
        limit: '60 s ("well under a minute")',
        ratio: seconds / 60,
        pass: seconds < 60,
        notes: `wrote ${counts.users} users, ${counts.roles} roles, ${counts.sessions} sessions, ${counts.apiTokens} API tokens`,
      },
    ];
  } finally {
    await scratch.drop();
  }
}
