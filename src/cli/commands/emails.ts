import { promoteVerifiedSecondaries } from '../../accounts/promote-secondaries.js';
import { loadConfig } from '../../config.js';
import { createDb } from '../../db/connect.js';
import { parseFlags, printResult, UsageError, type Command } from './command.js';

const ACTIONS = ['promote-verified-secondaries'] as const;

export const emailsCommand: Command = {
  name: 'emails',
  summary: 'operator actions on users’ addresses (promote verified secondaries)',
  help: `
Usage: reverify emails promote-verified-secondaries [--dry-run] [--json]

promote-verified-secondaries
          for every active, non-temporary user whose primary address is
          unverified and who has a verified secondary address (not on the
          suppression list), makes the most recently verified secondary the
          primary. Never for a user any of whose addresses complained or
          pressed the stop link. One transaction a user: the old primary
          stays as a secondary, an audit row (email.primary_promoted) and an
          account_notices row of kind primary_email_promoted (for the site to
          show) are written with it. Running it again promotes no one twice.
          "reverify campaign preview ID" shows how many people of a campaign
          this concerns (excluded.has_verified_secondary) before you decide.

--dry-run   count who would be promoted; change nothing
--json      print one JSON object: {"promoted", "skipped": {reason: count}, "dryRun"}
            skip reasons: inactive (deactivated or expired), temporary,
            complained_or_stopped, changed_meanwhile (the site changed or
            verified the primary while the command ran)

Exit status: 0 done, 1 failed (users already promoted stay promoted; run it again), 2 bad flags.`,
  async run(argv) {
    const { values, positionals } = parseFlags('emails', argv, { 'dry-run': { type: 'boolean' } }, true);
    const [action, ...extra] = positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(`${action === undefined ? 'say what to do' : `unknown action "${action}"`}: reverify emails ${ACTIONS.join('|')}`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra.join(' ')}"; run "reverify emails --help"`);
    const config = loadConfig();
    const db = createDb(config.DATABASE_URL, { max: 2, applicationName: 'reverify-emails-promote' });
    try {
      const summary = await promoteVerifiedSecondaries(db, { dryRun: values['dry-run'] ?? false, now: new Date() });
      printResult(values.json, summary, () => {
        const skipped = Object.entries(summary.skipped).map(([reason, n]) => `${n} ${reason}`).join(', ');
        return `${summary.dryRun ? 'Would promote' : 'Promoted'} a verified secondary address to primary for ${summary.promoted} users` +
          `${skipped ? `; skipped ${skipped}` : ''}.${summary.dryRun ? ' Dry run: nothing was changed.' : ''}`;
      });
      return 0;
    } finally {
      await db.destroy();
    }
  },
};
