import { loadConfig } from '../../config.js';
import { createDb } from '../../db/connect.js';
import { PROFILES } from '../../seed/profiles.js';
import { seedDatabase } from '../../seed/seed.js';
import { instantFlag, intFlag, parseFlags, printResult, UsageError, type Command } from './command.js';

export const seedCommand: Command = {
  name: 'seed',
  summary: 'write synthetic users at realistic ratios (1M users in seconds)',
  help: `
Usage: reverify seed --users N [--profile pypi-2018] [--temp-accounts M] [--seed S] [--now ISO] [--json]

Adds N regular users shaped like the profile (verified and unverified
primaries, role holders, addresses with an unverify_reason, verified
secondary addresses, inactive users) and M temporary accounts created over
the last 400 days, each with sessions and API tokens. The same --seed and
--now give the same rows. Run "reverify migrate" first.

--json prints the counts of what was written.`,
  async run(argv) {
    const { values } = parseFlags('seed', argv, {
      users: { type: 'string' },
      profile: { type: 'string', default: 'pypi-2018' },
      'temp-accounts': { type: 'string' },
      seed: { type: 'string' },
      now: { type: 'string' },
    });
    const users = intFlag('users', values.users, { min: 0 });
    if (users === undefined) throw new UsageError('--users N is required: how many regular users to write');
    const profile = PROFILES[values.profile];
    if (!profile) throw new UsageError(`--profile must be one of: ${Object.keys(PROFILES).join(', ')}; got "${values.profile}"`);
    const temporaryAccounts = intFlag('temp-accounts', values['temp-accounts'], { min: 0 }) ?? 0;
    const seed = intFlag('seed', values.seed, { min: 0 }) ?? 1;
    if (seed > 2 ** 31) throw new UsageError('--seed must be below 2147483648');
    const now = instantFlag('now', values.now) ?? new Date();

    const config = loadConfig();
    const db = createDb(config.DATABASE_URL, { max: 1 });
    try {
      const started = Date.now();
      const counts = await seedDatabase(db, { users, temporaryAccounts, profile, seed, now });
      const seconds = (Date.now() - started) / 1000;
      printResult(values.json, counts, () =>
        [
          `Seeded ${counts.users} users (profile ${profile.name}, seed ${seed}) in ${seconds.toFixed(1)} s:`,
          ...Object.entries(counts).map(([key, value]) => `  ${key}: ${value}`),
        ].join('\n'),
      );
      return 0;
    } finally {
      await db.destroy();
    }
  },
};
