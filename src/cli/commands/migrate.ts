import { loadConfig } from '../../config.js';
import { createDb } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { parseFlags, printResult, type Command } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply database migrations (idempotent, safe to run concurrently)',
  help: `
Usage: reverify migrate [--json]

Applies every pending migration to DATABASE_URL. Running it again applies
nothing; two at once wait for each other.

--json prints {"applied": [names], "alreadyApplied": N}.`,
  async run(argv) {
    const { values } = parseFlags('migrate', argv, {});
    const config = loadConfig();
    const db = createDb(config.DATABASE_URL, { max: 1 });
    try {
      const outcome = await migrateToLatest(db);
      printResult(values.json, outcome, () =>
        outcome.applied.length === 0
          ? `Database is up to date (${outcome.alreadyApplied} migrations applied earlier).`
          : `Applied ${outcome.applied.length} migrations: ${outcome.applied.join(', ')}.`,
      );
      return 0;
    } finally {
      await db.destroy();
    }
  },
};
