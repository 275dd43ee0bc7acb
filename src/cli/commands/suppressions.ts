import { createApp } from '../../app/app.js';
import { loadConfig } from '../../config.js';
import { importSesSuppressions, type ImportResult } from '../../ses-account/suppression-import.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

export const suppressionsCommand: Command = {
  name: 'suppressions',
  summary: 'import SES’s account-level suppression list',
  help: `
Usage: reverify suppressions import-ses [--dry-run] [--json]

Reads SES's account-level suppression list (ListSuppressedDestinations, every
page) and records each address of the database as suppressed with the reason
SES gives: BOUNCE as hard_bounce, COMPLAINT as complaint (SES's own reason and
date are kept beside it), with an audit row. As the contract's rule for a
permanent bounce or a complaint says, the address becomes unverified (a
stronger reason already there stays); a BOUNCE SES listed before the address
was last verified is skipped (verifiedSince), as the webhook skips a bounce
older than the verification. An entry that is malformed or names no address
of the database is counted as seen and skipped. Nothing is ever removed.
The worker also runs this on SES_SUPPRESSION_SYNC_CRON (default 30 4 * * *, UTC).

--dry-run   count what the import would do and change nothing.

--json prints {"seen", "added", "alreadySuppressed", "dryRun", "unverified",
"skipped": {"malformed", "unknownAddress", "verifiedSince"}}.
Needs ses:ListSuppressedDestinations (SES_ENDPOINT for a local SES).`,
  async run(argv) {
    const [action, ...rest] = argv;
    if (action !== 'import-ses') {
      throw new UsageError(`${action === undefined ? 'say what to do' : `unknown action "${action}"`}: reverify suppressions import-ses [--dry-run] [--json]`);
    }
    const { values, positionals } = parseFlags('suppressions', rest, { 'dry-run': { type: 'boolean' } }, true);
    if (positionals.length > 0) throw new UsageError(`suppressions import-ses takes no arguments, got "${positionals.join(' ')}"`);
    const app = createApp(loadConfig());
    try {
      const result = await importSesSuppressions(app, { dryRun: values['dry-run'] ?? false });
      printResult(values.json, result, () => describeImport(result));
      return 0;
    } finally {
      await app.close();
    }
  },
};

function describeImport(result: ImportResult): string {
  const would = result.dryRun ? ' (dry run: nothing changed)' : '';
  const { malformed, unknownAddress, verifiedSince } = result.skipped;
  return (
    `SES suppression list: ${result.seen} seen; ${result.added} ${result.dryRun ? 'would be' : 'newly'} suppressed ` +
    `(${result.unverified} made unverified), ${result.alreadySuppressed} already suppressed; skipped ${unknownAddress} not in the database, ` +
    `${malformed} malformed, ${verifiedSince} verified since SES listed them${would}.`
  );
}
