import { expireTemporaryAccounts } from '../../accounts/expire.js';
import { remindTemporaryAccounts } from '../../accounts/remind.js';
import { expireSummary, remindSummary } from '../../accounts/sweep-summary.js';
import { loadConfig } from '../../config.js';
import { createDb } from '../../db/connect.js';
import { createLogger } from '../../logger.js';
import { instantFlag, parseFlags, printResult, UsageError, type Command } from './command.js';

const KINDS = ['remind', 'expire'] as const;
type Kind = (typeof KINDS)[number];

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'remind or expire temporary accounts now (for system cron)',
  help: `
Usage: reverify sweep remind [--dry-run] [--now ISO] [--json]
       reverify sweep expire [--dry-run] [--now ISO] [--json]

remind  creates one "temp_account_expiry" notice for every temporary,
        unexpired account with created_at + TTL - REMINDER <= now <
        created_at + TTL that has none yet.
expire  expires every temporary account with created_at + TTL <= now (however
        old) and revokes its open sessions and API tokens, in batches of
        SWEEP_BATCH_SIZE accounts, one transaction each.

TTL is TEMP_ACCOUNT_TTL_DAYS and REMINDER is TEMP_ACCOUNT_REMINDER_DAYS, a day
being 86,400 seconds. Only one sweep of a kind runs at a time: a second one
says so, does nothing and exits 0. Every run is recorded in sweep_runs.

--dry-run   count what would be done; change no account, session, token or notice
--now ISO   compare against this instant (with a time zone, e.g.
            2026-01-31T03:00:00Z) instead of the database's clock
--json      print one JSON object:
              remind: {"reminded", "dryRun", "skipped", "runId", "asOf"}
              expire: {"expired", "sessionsRevoked", "tokensRevoked", "dryRun",
                       "skipped", "runId", "asOf", "sessionsRevokedAfterExpiry",
                       "tokensRevokedAfterExpiry", "batches", "longestBatchMs"}
            sessionsRevoked/tokensRevoked: revoked as their accounts expired;
            ...AfterExpiry: still open on accounts expired before (opened
            after their expiry), revoked by this run too
            ("message" too when skipped)

Exit status: 0 done or skipped because another sweep was running,
1 the sweep failed (batches already committed stay done; run it again),
2 bad flags or configuration.`,
  async run(argv) {
    const { values, positionals } = parseFlags('sweep', argv, { 'dry-run': { type: 'boolean' }, now: { type: 'string' } }, true);
    const kind = parseKind(positionals);
    const now = instantFlag('now', values.now);
    const dryRun = values['dry-run'] ?? false;

    const config = loadConfig();
    const log = createLogger({ level: config.LOG_LEVEL });
    // The sweep holds one connection for its lock and runs its batches on it.
    const db = createDb(config.DATABASE_URL, { max: 2, applicationName: `reverify-sweep-${kind}` });
    try {
      if (kind === 'remind') {
        const summary = remindSummary(await remindTemporaryAccounts(db, config, { now, dryRun, log }));
        printResult(values.json, summary, () =>
          summary.skipped
            ? (summary.message ?? 'skipped')
            : `${dryRun ? 'Would remind' : 'Reminded'} ${summary.reminded} temporary accounts as of ${summary.asOf} (run #${summary.runId}).`,
        );
      } else {
        const summary = expireSummary(await expireTemporaryAccounts(db, config, { now, dryRun, log }));
        printResult(values.json, summary, () =>
          summary.skipped
            ? (summary.message ?? 'skipped')
            : `${dryRun ? 'Would expire' : 'Expired'} ${summary.expired} temporary accounts as of ${summary.asOf}, ` +
              `revoking ${summary.sessionsRevoked} sessions and ${summary.tokensRevoked} API tokens ` +
              `(and ${summary.sessionsRevokedAfterExpiry} sessions and ${summary.tokensRevokedAfterExpiry} API tokens opened after an earlier expiry) ` +
              `(run #${summary.runId}, ${summary.batches} batches, longest ${summary.longestBatchMs} ms).`,
        );
      }
      return 0;
    } finally {
      await db.destroy();
    }
  },
};

function parseKind(positionals: string[]): Kind {
  const [kind, ...extra] = positionals;
  if (kind === undefined) throw new UsageError('say which sweep to run: "reverify sweep remind" or "reverify sweep expire"');
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown sweep "${kind}": use "reverify sweep remind" or "reverify sweep expire"`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra.join(' ')}"; run "reverify sweep --help"`);
  return kind as Kind;
}
